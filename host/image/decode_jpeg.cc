// JPEG through libjpeg-turbo: ISLOW IDCT, fancy upsampling (the library defaults, what Pillow
// uses), so hashes are bit-exact with lists made by Pillow/ImageMagick-based tools.
#include <csetjmp>
#include <cstdio>
// clang-format off
#include <jpeglib.h>
#include <jerror.h>
// clang-format on

#include "host/common/error.h"
#include "host/image/decoders.h"

namespace hashmatch::detail {
namespace {

struct ErrorMgr {
  jpeg_error_mgr pub;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX] = {0};
  bool truncated = false;
};

void on_error_exit(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<ErrorMgr*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  std::longjmp(err->jump, 1);
}

void on_emit_message(j_common_ptr cinfo, int msg_level) {
  auto* err = reinterpret_cast<ErrorMgr*>(cinfo->err);
  // Warnings (level -1): premature end of data means a truncated file; Pillow refuses those too.
  if (msg_level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF) err->truncated = true;
}

// RAII over jpeg_decompress_struct. Decoding runs inside a function that does setjmp and keeps no
// C++ objects with destructors between setjmp and longjmp.
struct Decompressor {
  jpeg_decompress_struct cinfo{};
  ErrorMgr err{};
  Decompressor() {
    cinfo.err = jpeg_std_error(&err.pub);
    err.pub.error_exit = on_error_exit;
    err.pub.emit_message = on_emit_message;
    jpeg_create_decompress(&cinfo);
  }
  ~Decompressor() { jpeg_destroy_decompress(&cinfo); }
};

[[noreturn]] void throw_jpeg(const ErrorMgr& err) {
  const std::string msg = err.message;
  if (msg.find("Premature end") != std::string::npos || err.truncated) {
    throw MediaError("truncated", "truncated JPEG: " + msg);
  }
  throw MediaError("corrupt", "corrupt JPEG: " + msg);
}

// Returns false on a libjpeg error (message in d.err).
bool read_header(Decompressor& d, std::span<const uint8_t> data) {
  if (setjmp(d.err.jump)) return false;
  jpeg_mem_src(&d.cinfo, data.data(), static_cast<unsigned long>(data.size()));
  jpeg_read_header(&d.cinfo, TRUE);
  return true;
}

bool read_pixels(Decompressor& d, Image* img) {
  if (setjmp(d.err.jump)) return false;
  jpeg_start_decompress(&d.cinfo);
  const int comps = d.cinfo.output_components;
  img->width = static_cast<int>(d.cinfo.output_width);
  img->height = static_cast<int>(d.cinfo.output_height);
  img->channels = comps == 1 ? 1 : 3;
  std::vector<uint8_t>& px = img->pixels;
  px.resize(std::size_t(img->width) * img->height * comps);
  while (d.cinfo.output_scanline < d.cinfo.output_height) {
    JSAMPROW row = px.data() + std::size_t(d.cinfo.output_scanline) * img->width * comps;
    jpeg_read_scanlines(&d.cinfo, &row, 1);
  }
  jpeg_finish_decompress(&d.cinfo);
  return true;
}

}  // namespace

void probe_jpeg(std::span<const uint8_t> data, int* w, int* h) {
  Decompressor d;
  if (!read_header(d, data)) throw_jpeg(d.err);
  *w = static_cast<int>(d.cinfo.image_width);
  *h = static_cast<int>(d.cinfo.image_height);
}

Image decode_jpeg(std::span<const uint8_t> data, const DecodeLimits& limits) {
  Decompressor d;
  if (!read_header(d, data)) throw_jpeg(d.err);
  check_dimensions(static_cast<int>(d.cinfo.image_width), static_cast<int>(d.cinfo.image_height),
                   limits, "jpeg");
  const J_COLOR_SPACE in = d.cinfo.jpeg_color_space;
  const bool cmyk = in == JCS_CMYK || in == JCS_YCCK;
  if (in == JCS_GRAYSCALE) {
    d.cinfo.out_color_space = JCS_GRAYSCALE;
  } else if (cmyk) {
    d.cinfo.out_color_space = JCS_CMYK;
  } else {
    d.cinfo.out_color_space = JCS_RGB;
  }
  d.cinfo.dct_method = JDCT_ISLOW;
  d.cinfo.do_fancy_upsampling = TRUE;
  Image img;
  if (!read_pixels(d, &img)) throw_jpeg(d.err);
  if (d.err.truncated) throw MediaError("truncated", "truncated JPEG: premature end of data");
  if (cmyk) {
    // Pillow reads CMYK JPEGs as Adobe-inverted ("CMYK;I") and converts to RGB with
    // nk = 255 - K; out = nk - nk * C / 255 (rounded as its MULDIV255).
    const std::size_t n = img.pixel_count();
    std::vector<uint8_t> rgb(n * 3);
    auto muldiv255 = [](int a, int b) {
      const int t = a * b + 128;
      return ((t >> 8) + t) >> 8;
    };
    for (std::size_t i = 0; i < n; ++i) {
      const uint8_t* p = &img.pixels[4 * i];
      const int c = 255 - p[0], m = 255 - p[1], y = 255 - p[2], k = 255 - p[3];
      const int nk = 255 - k;
      auto clip = [](int v) { return static_cast<uint8_t>(v < 0 ? 0 : v > 255 ? 255 : v); };
      rgb[3 * i] = clip(nk - muldiv255(c, nk));
      rgb[3 * i + 1] = clip(nk - muldiv255(m, nk));
      rgb[3 * i + 2] = clip(nk - muldiv255(y, nk));
    }
    img.pixels = std::move(rgb);
    img.channels = 3;
  }
  return img;
}

}  // namespace hashmatch::detail
