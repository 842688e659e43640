// BMP through FFmpeg's libavcodec decoder, converted to RGB24 with swscale at the same size (a
// lossless reordering for the 24/32-bit and palette formats). The dimensions are read from the
// BITMAPINFOHEADER first so a bomb is refused before decoding.
extern "C" {
#include <libavcodec/avcodec.h>
#include <libavutil/imgutils.h>
#include <libswscale/swscale.h>
}

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
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

int le16(const uint8_t* p) { return p[0] | p[1] << 8; }

// The bytes the header says the pixel data needs (0 when it does not say: compressed data of
// unknown size). FFmpeg's decoder, short of them, decodes the rows without their 4-byte alignment
// ("assuming missing line alignment": every row shifted, a wrong hash with no error) or leaves
// the rest of an RLE image black; so a short file is refused as truncated, except for the last
// row's alignment padding alone, which carries no pixel (Pillow decodes such a file): *need is
// then the size to pad the data to with zeros.
void check_bmp_length(std::span<const uint8_t> d, int w, int h, std::size_t* need) {
  *need = 0;
  if (d.size() < 26) return;
  const int32_t header_size = le32(d.data() + 14);
  const int64_t offset = le32(d.data() + 10);
  int bpp = 0;
  int32_t compression = 0, image_size = 0;
  if (header_size == 12) {
    bpp = le16(d.data() + 24);
  } else if (header_size >= 40 && d.size() >= 38) {
    bpp = le16(d.data() + 28);
    compression = le32(d.data() + 30);
    image_size = le32(d.data() + 34);
  } else {
    return;
  }
  if (offset <= 0) return;
  auto truncated = [&](int64_t want) {
    throw MediaError("truncated", "truncated BMP: " + std::to_string(d.size()) +
                                      " bytes, its pixel data ends at byte " +
                                      std::to_string(want));
  };
  if (compression == 0 || compression == 3 || compression == 6) {  // RGB, BITFIELDS
    if (bpp <= 0 || bpp > 64 || w <= 0 || h <= 0) return;
    const int64_t row_bits = int64_t(w) * bpp;
    const int64_t stride = (row_bits + 31) / 32 * 4;
    const int64_t full = offset + stride * h;
    const int64_t pixels_end = full - (stride - (row_bits + 7) / 8);  // without the last padding
    if (static_cast<int64_t>(d.size()) < pixels_end) truncated(pixels_end);
    if (static_cast<int64_t>(d.size()) < full) *need = static_cast<std::size_t>(full);
  } else if ((compression == 1 || compression == 2) && image_size > 0) {  // RLE8, RLE4
    if (static_cast<int64_t>(d.size()) < offset + image_size) truncated(offset + image_size);
  }
}

// What FFmpeg's decoder refuses in a header (its own message goes to its log only): the header
// size, depth and compression it reads (libavcodec/bmp.c).
std::optional<std::string> header_problem(std::span<const uint8_t> d) {
  if (d.size() < 30) return std::nullopt;
  const uint32_t header_size = static_cast<uint32_t>(le32(d.data() + 14));
  if (header_size != 12 && header_size != 40 && header_size != 52 && header_size != 56 &&
      header_size != 64 && header_size != 108 && header_size != 124) {
    return "invalid header size " + std::to_string(header_size);
  }
  const int bpp = header_size == 12 ? le16(d.data() + 24) : le16(d.data() + 28);
  if (bpp != 1 && bpp != 4 && bpp != 8 && bpp != 16 && bpp != 24 && bpp != 32) {
    return "depth " + std::to_string(bpp) + " not supported";
  }
  if (header_size >= 40 && d.size() >= 34) {
    const uint32_t compression = static_cast<uint32_t>(le32(d.data() + 30));
    if (compression > 3 && compression != 6)
      return "compression " + std::to_string(compression) + " not supported";
  }
  return std::nullopt;
}

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
  // The decoder's complaints about a bad file ("[bmp @ 0x...] depth 235 not supported") are the
  // error of that item, returned below: they go to FFmpeg's log at debug level, not to stderr.
  ctx->log_level_offset = AV_LOG_DEBUG - AV_LOG_ERROR;
  if (avcodec_open2(ctx.get(), codec, nullptr) < 0) throw Error("FFmpeg: cannot open BMP decoder");
  std::unique_ptr<AVPacket, PacketDeleter> pkt(av_packet_alloc());
  std::unique_ptr<AVFrame, FrameDeleter> frame(av_frame_alloc());
  if (!pkt || !frame) throw Error("FFmpeg: out of memory");
  std::size_t need = 0;
  check_bmp_length(data, w, h, &need);
  const std::size_t size = std::max(data.size(), need);  // the last row's padding, as zeros
  // The packet needs AV_INPUT_BUFFER_PADDING_SIZE zeroed bytes after the data.
  std::vector<uint8_t> padded(size + AV_INPUT_BUFFER_PADDING_SIZE, 0);
  std::memcpy(padded.data(), data.data(), data.size());
  pkt->data = padded.data();
  pkt->size = static_cast<int>(size);
  int err = avcodec_send_packet(ctx.get(), pkt.get());
  if (err >= 0) err = avcodec_receive_frame(ctx.get(), frame.get());
  if (err < 0) {
    // FFmpeg's BMP decoder reports a short buffer as invalid data; the header says the file size.
    const bool truncated = data.size() < static_cast<uint32_t>(le32(data.data() + 2));
    throw MediaError(truncated ? "truncated" : "corrupt",
                     std::string(truncated ? "truncated BMP" : "corrupt BMP") + ": " +
                         header_problem(data).value_or(av_err(err)));
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
