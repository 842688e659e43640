// WebP through libwebp: still images with WebPDecodeRGB (alpha dropped, fancy upsampling as
// libwebp's default), animations by their first frame through the demux/animation decoder.
#include <webp/decode.h>
#include <webp/demux.h>

#include <cstring>

#include "host/common/error.h"
#include "host/image/decoders.h"

namespace hashmatch::detail {
namespace {

WebPBitstreamFeatures features(std::span<const uint8_t> data) {
  WebPBitstreamFeatures f;
  const VP8StatusCode st = WebPGetFeatures(data.data(), data.size(), &f);
  if (st == VP8_STATUS_NOT_ENOUGH_DATA) throw MediaError("truncated", "truncated WebP header");
  if (st != VP8_STATUS_OK) {
    throw MediaError("corrupt", "corrupt WebP header (libwebp status " + std::to_string(st) + ")");
  }
  return f;
}

Image first_frame(std::span<const uint8_t> data) {
  WebPData wd{data.data(), data.size()};
  WebPAnimDecoderOptions opts;
  if (!WebPAnimDecoderOptionsInit(&opts)) throw Error("libwebp: version mismatch");
  opts.color_mode = MODE_RGBA;
  opts.use_threads = 0;
  WebPAnimDecoder* dec = WebPAnimDecoderNew(&wd, &opts);
  if (!dec) throw MediaError("corrupt", "corrupt animated WebP");
  struct Guard {
    WebPAnimDecoder* d;
    ~Guard() { WebPAnimDecoderDelete(d); }
  } guard{dec};
  WebPAnimInfo info;
  if (!WebPAnimDecoderGetInfo(dec, &info)) throw MediaError("corrupt", "corrupt animated WebP");
  uint8_t* buf = nullptr;
  int ts = 0;
  if (!WebPAnimDecoderGetNext(dec, &buf, &ts)) {
    throw MediaError("truncated", "animated WebP: first frame could not be decoded");
  }
  Image img;
  img.width = static_cast<int>(info.canvas_width);
  img.height = static_cast<int>(info.canvas_height);
  img.channels = 3;
  img.pixels.resize(img.pixel_count() * 3);
  for (std::size_t i = 0; i < img.pixel_count(); ++i) std::memcpy(&img.pixels[3 * i], buf + 4 * i, 3);
  return img;
}

}  // namespace

void probe_webp(std::span<const uint8_t> data, int* w, int* h) {
  const WebPBitstreamFeatures f = features(data);
  *w = f.width;
  *h = f.height;
}

Image decode_webp(std::span<const uint8_t> data, const DecodeLimits& limits) {
  const WebPBitstreamFeatures f = features(data);
  check_dimensions(f.width, f.height, limits, "webp");
  if (f.has_animation) return first_frame(data);
  Image img;
  img.width = f.width;
  img.height = f.height;
  img.channels = 3;
  img.pixels.resize(img.pixel_count() * 3);
  const int stride = img.width * 3;
  if (!WebPDecodeRGBInto(data.data(), data.size(), img.pixels.data(), img.pixels.size(), stride)) {
    // Distinguish a cut-off file from corrupt data with the incremental decoder's status.
    WebPIDecoder* idec = WebPINewRGB(MODE_RGB, img.pixels.data(), img.pixels.size(), stride);
    VP8StatusCode st = VP8_STATUS_BITSTREAM_ERROR;
    if (idec) {
      st = WebPIAppend(idec, data.data(), data.size());
      WebPIDelete(idec);
    }
    if (st == VP8_STATUS_SUSPENDED || st == VP8_STATUS_NOT_ENOUGH_DATA) {
      throw MediaError("truncated", "truncated WebP");
    }
    throw MediaError("corrupt", "corrupt WebP data");
  }
  return img;
}

}  // namespace hashmatch::detail
