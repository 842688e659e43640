// BMP through FFmpeg's libavcodec decoder, converted to RGB24 with swscale at the same size (a
// lossless reordering for the 24/32-bit and palette formats). The dimensions are read from the
// BITMAPINFOHEADER first so a bomb is refused before decoding.
extern "C" {
#include <libavcodec/avcodec.h>
#include <libavutil/imgutils.h>
#include <libswscale/swscale.h>
}

#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "host/common/error.h"
#include "host/image/decoders.h"

namespace hashmatch::detail {
namespace {

int32_t le32(const uint8_t* p) {
  return static_cast<int32_t>(uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 |
                              uint32_t(p[3]) << 24);
}

std::string av_err(int err) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {0};
  av_strerror(err, buf, sizeof(buf));
  return buf;
}

struct CodecCtxDeleter {
  void operator()(AVCodecContext* c) const noexcept { avcodec_free_context(&c); }
};
struct FrameDeleter {
  void operator()(AVFrame* f) const noexcept { av_frame_free(&f); }
};
struct PacketDeleter {
  void operator()(AVPacket* p) const noexcept { av_packet_free(&p); }
};
struct SwsDeleter {
  void operator()(SwsContext* s) const noexcept { sws_freeContext(s); }
};

}  // namespace

void probe_bmp(std::span<const uint8_t> d, int* w, int* h) {
  if (d.size() < 26) throw MediaError("truncated", "truncated BMP header");
  const int32_t header_size = le32(d.data() + 14);
  if (header_size == 12) {  // OS/2 BITMAPCOREHEADER: 16-bit sizes
    *w = d[18] | d[19] << 8;
    *h = d[20] | d[21] << 8;
    return;
  }
  const int32_t bw = le32(d.data() + 18), bh = le32(d.data() + 22);
  *w = bw;
  *h = bh == INT32_MIN ? -1 : std::abs(bh);  // negative height: top-down rows
}

Image decode_bmp(std::span<const uint8_t> data, const DecodeLimits& limits) {
  int w = 0, h = 0;
  probe_bmp(data, &w, &h);
  check_dimensions(w, h, limits, "bmp");
  const AVCodec* codec = avcodec_find_decoder(AV_CODEC_ID_BMP);
  if (!codec) throw MediaError("unsupported", "this FFmpeg has no BMP decoder");
  std::unique_ptr<AVCodecContext, CodecCtxDeleter> ctx(avcodec_alloc_context3(codec));
  if (!ctx) throw Error("FFmpeg: out of memory");
  ctx->thread_count = 1;
  if (avcodec_open2(ctx.get(), codec, nullptr) < 0) throw Error("FFmpeg: cannot open BMP decoder");
  std::unique_ptr<AVPacket, PacketDeleter> pkt(av_packet_alloc());
  std::unique_ptr<AVFrame, FrameDeleter> frame(av_frame_alloc());
  if (!pkt || !frame) throw Error("FFmpeg: out of memory");
  // The packet needs AV_INPUT_BUFFER_PADDING_SIZE zeroed bytes after the data.
  std::vector<uint8_t> padded(data.size() + AV_INPUT_BUFFER_PADDING_SIZE, 0);
  std::memcpy(padded.data(), data.data(), data.size());
  pkt->data = padded.data();
  pkt->size = static_cast<int>(data.size());
  int err = avcodec_send_packet(ctx.get(), pkt.get());
  if (err >= 0) err = avcodec_receive_frame(ctx.get(), frame.get());
  if (err < 0) {
    // FFmpeg's BMP decoder reports a short buffer as invalid data; the header says the file size.
    const bool truncated = data.size() < static_cast<uint32_t>(le32(data.data() + 2));
    throw MediaError(truncated ? "truncated" : "corrupt",
                     std::string(truncated ? "truncated BMP" : "corrupt BMP") + ": " + av_err(err));
  }
  check_dimensions(frame->width, frame->height, limits, "bmp");
  Image img;
  img.width = frame->width;
  img.height = frame->height;
  img.channels = 3;
  img.pixels.resize(img.pixel_count() * 3);
  std::unique_ptr<SwsContext, SwsDeleter> sws(sws_getContext(
      frame->width, frame->height, static_cast<AVPixelFormat>(frame->format), frame->width,
      frame->height, AV_PIX_FMT_RGB24, SWS_POINT | SWS_ACCURATE_RND, nullptr, nullptr, nullptr));
  if (!sws) throw MediaError("unsupported", "BMP pixel format not convertible to RGB");
  uint8_t* dst[4] = {img.pixels.data(), nullptr, nullptr, nullptr};
  int dst_stride[4] = {img.width * 3, 0, 0, 0};
  sws_scale(sws.get(), frame->data, frame->linesize, 0, frame->height, dst, dst_stride);
  return img;
}

}  // namespace hashmatch::detail
