#include "video/synth_clip.h"

extern "C" {
#include <libavcodec/bsf.h>
#include <libavutil/opt.h>
}

#include <algorithm>
#include <cmath>
#include <vector>

#include "host/common/error.h"
#include "video/ffmpeg_util.h"

namespace hashmatch::video {
namespace {

void check(int err, const std::string& what) {
  if (err < 0) throw Error("synthetic clip: " + what + ": " + ff::error_string(err));
}

struct OutputCloser {
  void operator()(AVFormatContext* p) const {
    if (!p) return;
    if (p->pb && !(p->oformat->flags & AVFMT_NOFILE)) avio_closep(&p->pb);
    avformat_free_context(p);
  }
};

// A moving, textured pattern: sliding gradients, a grid of blocks whose shades change with time
// and a bright bar sweeping across; luma and chroma from integer tables (fast at 1080p).
void draw(AVFrame* f, int t, int pattern, int depth) {
  const int w = f->width, h = f->height;
  const int maxv = (1 << depth) - 1;
  const int shift = depth - 8;
  std::vector<int> sx(static_cast<std::size_t>(w)), sy(static_cast<std::size_t>(h));
  const double k = 0.7 + 0.15 * pattern;
  for (int x = 0; x < w; ++x) sx[std::size_t(x)] = int(60 * std::sin((x * 6.2832 * k) / 240.0 + t * 0.11));
  for (int y = 0; y < h; ++y) sy[std::size_t(y)] = int(50 * std::cos((y * 6.2832 * k) / 180.0 - t * 0.07));
  const int bw = std::max(8, w / 12), bh = std::max(8, h / 8);
  const int bar = (t * std::max(1, w / 90)) % w;
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      const int bx = x / bw, by = y / bh;
      int v = 128 + sx[std::size_t(x)] + sy[std::size_t(y)] +
              (((bx * 7 + by * 13 + pattern * 5 + t / 8) % 5) - 2) * 18;
      if (std::abs(x - bar) < w / 40) v = 235;
      v = std::clamp(v, 16, 235) << shift;
      if (depth > 8) {
        reinterpret_cast<uint16_t*>(f->data[0] + std::size_t(y) * f->linesize[0])[x] = uint16_t(std::min(v, maxv));
      } else {
        f->data[0][std::size_t(y) * f->linesize[0] + x] = uint8_t(v);
      }
    }
  }
  for (int y = 0; y < (h + 1) / 2; ++y) {
    for (int x = 0; x < (w + 1) / 2; ++x) {
      const int u = std::clamp(128 + ((x * 2 / bw + t / 10 + pattern) % 3 - 1) * 40 + sy[std::size_t(2 * y)] / 3, 16, 240) << shift;
      const int v = std::clamp(128 + ((y * 2 / bh + pattern) % 3 - 1) * 40 - sx[std::size_t(2 * x)] / 3, 16, 240) << shift;
      if (depth > 8) {
        reinterpret_cast<uint16_t*>(f->data[1] + std::size_t(y) * f->linesize[1])[x] = uint16_t(u);
        reinterpret_cast<uint16_t*>(f->data[2] + std::size_t(y) * f->linesize[2])[x] = uint16_t(v);
      } else {
        f->data[1][std::size_t(y) * f->linesize[1] + x] = uint8_t(u);
        f->data[2][std::size_t(y) * f->linesize[2] + x] = uint8_t(v);
      }
    }
  }
}

struct BsfFreer {
  void operator()(AVBSFContext* b) const noexcept { av_bsf_free(&b); }
};

}  // namespace

void write_synth_clip(const std::filesystem::path& path, const SynthClipSpec& spec) {
  ff::init_logging();
  const AVCodec* codec = avcodec_find_encoder_by_name(spec.encoder.c_str());
  if (!codec) throw Error("synthetic clip: no encoder '" + spec.encoder + "' in this FFmpeg");
  AVFormatContext* raw = nullptr;
  check(avformat_alloc_output_context2(&raw, nullptr, nullptr, path.string().c_str()),
        "output format for " + path.string());
  std::unique_ptr<AVFormatContext, OutputCloser> out(raw);

  ff::CodecPtr enc(avcodec_alloc_context3(codec));
  if (!enc) throw std::bad_alloc();
  enc->width = spec.width;
  enc->height = spec.height;
  enc->time_base = AVRational{spec.fps_den, spec.fps_num};
  enc->framerate = AVRational{spec.fps_num, spec.fps_den};
  enc->gop_size = spec.gop;
  enc->pix_fmt = spec.bit_depth > 8 ? AV_PIX_FMT_YUV420P10LE : AV_PIX_FMT_YUV420P;
  enc->thread_count = 0;
  if (spec.encoder == "mpeg4" || spec.encoder == "mpeg2video") {
    enc->flags |= AV_CODEC_FLAG_QSCALE;
    enc->global_quality = FF_QP2LAMBDA * 3;
    enc->max_b_frames = 0;
  }
  if (out->oformat->flags & AVFMT_GLOBALHEADER) enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
  AVDictionary* opts = nullptr;
  if (spec.encoder == "libx264" || spec.encoder == "libx265") {
    av_dict_set(&opts, "preset", spec.preset.c_str(), 0);
    av_dict_set(&opts, "crf", std::to_string(spec.crf).c_str(), 0);
    std::string params = spec.encoder == "libx265" ? "log-level=error" : "";
    if (spec.open_gop >= 0) {
      if (!params.empty()) params += ":";
      params += (spec.encoder == "libx265" ? "open-gop=" : "open_gop=") + std::to_string(spec.open_gop);
    }
    if (spec.intra_refresh && spec.encoder == "libx264") {
      if (!params.empty()) params += ":";
      params += "intra-refresh=1";
    }
    if (!spec.params.empty()) {
      if (!params.empty()) params += ":";
      params += spec.params;
    }
    if (!params.empty()) {
      av_dict_set(&opts, spec.encoder == "libx265" ? "x265-params" : "x264-params", params.c_str(), 0);
    }
  } else if (spec.encoder == "libvpx-vp9") {
    av_dict_set(&opts, "deadline", "realtime", 0);
    av_dict_set(&opts, "cpu-used", "8", 0);
    av_dict_set(&opts, "crf", std::to_string(spec.crf + 10).c_str(), 0);
    enc->bit_rate = 0;
  }
  const int err = avcodec_open2(enc.get(), codec, &opts);
  av_dict_free(&opts);
  check(err, "opening encoder " + spec.encoder);

  AVStream* st = avformat_new_stream(out.get(), nullptr);
  if (!st) throw std::bad_alloc();
  st->time_base = enc->time_base;
  st->avg_frame_rate = enc->framerate;
  check(avcodec_parameters_from_context(st->codecpar, enc.get()), "stream parameters");
  std::unique_ptr<AVBSFContext, BsfFreer> bsf;
  AVRational pkt_tb = enc->time_base;  // of the packets written
  if (!spec.bsf.empty()) {
    AVBSFContext* b = nullptr;
    check(av_bsf_list_parse_str(spec.bsf.c_str(), &b), "bitstream filter " + spec.bsf);
    bsf.reset(b);
    check(avcodec_parameters_copy(bsf->par_in, st->codecpar), "bitstream filter parameters");
    bsf->time_base_in = enc->time_base;
    check(av_bsf_init(bsf.get()), "bitstream filter " + spec.bsf);
    check(avcodec_parameters_copy(st->codecpar, bsf->par_out), "bitstream filter parameters");
    pkt_tb = bsf->time_base_out;
  }
  if (!(out->oformat->flags & AVFMT_NOFILE)) {
    check(avio_open(&out->pb, path.string().c_str(), AVIO_FLAG_WRITE), "opening " + path.string());
  }
  check(avformat_write_header(out.get(), nullptr), "writing the header");

  ff::FramePtr frame = ff::make_frame();
  frame->format = enc->pix_fmt;
  frame->width = spec.width;
  frame->height = spec.height;
  check(av_frame_get_buffer(frame.get(), 0), "frame buffer");
  ff::PacketPtr pkt = ff::make_packet();
  auto write = [&](AVPacket* p) {
    av_packet_rescale_ts(p, pkt_tb, st->time_base);
    p->stream_index = st->index;
    check(av_interleaved_write_frame(out.get(), p), "writing a packet");
  };
  // Through the bitstream filters, if any; null: their end.
  auto filter = [&](AVPacket* p) {
    if (!bsf) {
      if (p) write(p);
      return;
    }
    check(av_bsf_send_packet(bsf.get(), p), "bitstream filter");
    for (;;) {
      const int r = av_bsf_receive_packet(bsf.get(), pkt.get());
      if (r == AVERROR(EAGAIN) || r == AVERROR_EOF) return;
      check(r, "bitstream filter");
      write(pkt.get());
    }
  };
  ff::PacketPtr encoded = ff::make_packet();
  auto drain = [&] {
    for (;;) {
      const int r = avcodec_receive_packet(enc.get(), encoded.get());
      if (r == AVERROR(EAGAIN) || r == AVERROR_EOF) return;
      check(r, "encoding");
      filter(encoded.get());
    }
  };
  for (int t = 0; t < spec.frames; ++t) {
    check(av_frame_make_writable(frame.get()), "frame buffer");
    draw(frame.get(), t, spec.pattern, spec.bit_depth > 8 ? 10 : 8);
    frame->pts = t;
    check(avcodec_send_frame(enc.get(), frame.get()), "encoding");
    drain();
  }
  check(avcodec_send_frame(enc.get(), nullptr), "flushing the encoder");
  drain();
  filter(nullptr);
  check(av_write_trailer(out.get()), "writing the trailer");
}

SynthClipSpec open_gop_spec(const std::string& encoder, int width, int height) {
  SynthClipSpec s;
  s.encoder = encoder;
  s.width = width;
  s.height = height;
  s.frames = 600;
  s.gop = 250;
  s.open_gop = 1;
  s.preset = "veryfast";
  return s;
}

SynthClipSpec top_left_crop_spec() {
  SynthClipSpec s;
  s.frames = 30;
  s.bsf = "h264_metadata=crop_left=64:crop_top=4";
  return s;
}

SynthClipSpec intra_refresh_spec() {
  SynthClipSpec s;
  s.width = 320;
  s.height = 240;
  s.frames = 150;
  s.gop = 30;
  s.intra_refresh = true;
  return s;
}

}  // namespace hashmatch::video
