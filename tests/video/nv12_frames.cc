#include "tests/video/nv12_frames.h"

#include <gtest/gtest.h>

#include <cstring>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
}

namespace hashmatch::video::test {

DeviceFrame Nv12Frame::view() const {
  DeviceFrame d;
  d.layout = DevicePixelLayout::kNv12;
  d.planes[0] = y.data();
  d.planes[1] = uv.data();
  d.pitch[0] = width;
  d.pitch[1] = 2 * ((width + 1) / 2);
  d.width = width;
  d.height = height;
  d.colorspace = colorspace;
  d.color_range = color_range;
  return d;
}

std::vector<ff::FramePtr> decode_frames(const std::string& path, bool apply_cropping, double* fps) {
  std::vector<ff::FramePtr> out;
  AVFormatContext* fmt = nullptr;
  if (avformat_open_input(&fmt, path.c_str(), nullptr, nullptr) < 0) {
    ADD_FAILURE() << "cannot open " << path;
    return out;
  }
  avformat_find_stream_info(fmt, nullptr);
  const int vi = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
  if (vi < 0) {
    ADD_FAILURE() << "no video stream in " << path;
    avformat_close_input(&fmt);
    return out;
  }
  AVStream* st = fmt->streams[vi];
  if (fps) {
    AVRational rate = st->avg_frame_rate;
    if (rate.num <= 0 || rate.den <= 0) rate = st->r_frame_rate;
    *fps = av_q2d(rate);
  }
  const AVCodec* codec = avcodec_find_decoder(st->codecpar->codec_id);
  AVCodecContext* ctx = codec ? avcodec_alloc_context3(codec) : nullptr;
  if (ctx && avcodec_parameters_to_context(ctx, st->codecpar) >= 0) {
    ctx->apply_cropping = apply_cropping ? 1 : 0;
    ctx->thread_count = 1;
    if (avcodec_open2(ctx, codec, nullptr) >= 0) {
      AVPacket* pkt = av_packet_alloc();
      ff::FramePtr f = ff::make_frame();
      auto drain = [&] {
        while (avcodec_receive_frame(ctx, f.get()) >= 0) {
          out.push_back(ff::FramePtr(av_frame_clone(f.get())));
          av_frame_unref(f.get());
        }
      };
      while (av_read_frame(fmt, pkt) >= 0) {
        if (pkt->stream_index == vi) {
          avcodec_send_packet(ctx, pkt);
          drain();
        }
        av_packet_unref(pkt);
      }
      avcodec_send_packet(ctx, nullptr);
      drain();
      av_packet_free(&pkt);
    }
  }
  avcodec_free_context(&ctx);
  avformat_close_input(&fmt);
  return out;
}

std::vector<Nv12Frame> decode_nv12(const std::string& path) {
  std::vector<Nv12Frame> out;
  double fps = 0;
  for (const ff::FramePtr& frame : decode_frames(path, true, &fps)) {
    const AVFrame* f = frame.get();
    if (f->format != AV_PIX_FMT_YUV420P && f->format != AV_PIX_FMT_YUVJ420P) {
      ADD_FAILURE() << "not 8-bit 4:2:0: " << f->format;
      continue;
    }
    Nv12Frame n;
    const int64_t number = static_cast<int64_t>(out.size());
    n.info.frame_number = number;
    n.info.timestamp = static_cast<float>(number) / static_cast<float>(fps);
    n.info.target_width = n.width = f->width;
    n.info.target_height = n.height = f->height;
    n.colorspace = f->colorspace;
    n.color_range = f->format == AV_PIX_FMT_YUVJ420P ? 2 : f->color_range;
    const int cw = (f->width + 1) / 2, ch = (f->height + 1) / 2;
    n.y.resize(std::size_t(f->width) * f->height);
    for (int r = 0; r < f->height; ++r) {
      std::memcpy(n.y.data() + std::size_t(r) * f->width, f->data[0] + std::size_t(r) * f->linesize[0],
                  f->width);
    }
    n.uv.resize(std::size_t(2 * cw) * ch);
    for (int r = 0; r < ch; ++r) {
      const uint8_t* u = f->data[1] + std::size_t(r) * f->linesize[1];
      const uint8_t* v = f->data[2] + std::size_t(r) * f->linesize[2];
      uint8_t* d = n.uv.data() + std::size_t(r) * 2 * cw;
      for (int x = 0; x < cw; ++x) {
        d[2 * x] = u[x];
        d[2 * x + 1] = v[x];
      }
    }
    out.push_back(std::move(n));
  }
  return out;
}

}  // namespace hashmatch::video::test
