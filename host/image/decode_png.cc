// PNG through libpng: palette resolved, tRNS and alpha dropped, 1/2/4-bit grey expanded to 8 bits,
// 16-bit samples reduced to their high byte (as Pillow's "RGB;16B" unpacking), interlace handled.
#include <png.h>

#include <csetjmp>
#include <cstring>
#include <string>

#include "host/common/error.h"
#include "host/image/decoders.h"

namespace hashmatch::detail {
namespace {

struct Reader {
  std::span<const uint8_t> data;
  std::size_t pos = 0;
  std::string error;
};

void on_read(png_structp png, png_bytep out, png_size_t n) {
  auto* r = static_cast<Reader*>(png_get_io_ptr(png));
  if (r->pos + n > r->data.size()) {
    r->error = "truncated";
    png_error(png, "unexpected end of file");
  }
  std::memcpy(out, r->data.data() + r->pos, n);
  r->pos += n;
}

void on_error(png_structp png, png_const_charp msg) {
  auto* r = static_cast<Reader*>(png_get_io_ptr(png));
  if (r->error.empty() || r->error == "truncated") r->error += std::string(r->error.empty() ? "" : ": ") + msg;
  png_longjmp(png, 1);
}
void on_warning(png_structp, png_const_charp) {}

struct PngHandle {
  png_structp png = nullptr;
  png_infop info = nullptr;
  Reader reader;
  explicit PngHandle(std::span<const uint8_t> d) {
    reader.data = d;
    png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &reader, on_error, on_warning);
    if (!png) throw Error("libpng: out of memory");
    info = png_create_info_struct(png);
    if (!info) {
      png_destroy_read_struct(&png, nullptr, nullptr);
      throw Error("libpng: out of memory");
    }
    png_set_read_fn(png, &reader, on_read);
    // Our own limits are checked from IHDR; lift libpng's so it does not refuse first.
    png_set_user_limits(png, 0x7fffffff, 0x7fffffff);
  }
  ~PngHandle() { png_destroy_read_struct(&png, &info, nullptr); }
};

[[noreturn]] void throw_png(const Reader& r) {
  if (r.error.rfind("truncated", 0) == 0) throw MediaError("truncated", "truncated PNG: " + r.error);
  throw MediaError("corrupt", "corrupt PNG: " + r.error);
}

bool read_info(PngHandle& h) {
  if (setjmp(png_jmpbuf(h.png))) return false;
  png_read_info(h.png, h.info);
  return true;
}

bool read_rows(PngHandle& h, Image* img) {
  if (setjmp(png_jmpbuf(h.png))) return false;
  png_read_update_info(h.png, h.info);
  const std::size_t rowbytes = png_get_rowbytes(h.png, h.info);
  if (rowbytes != std::size_t(img->width) * img->channels) {
    h.reader.error = "unexpected row size";
    return false;
  }
  img->pixels.resize(rowbytes * img->height);
  std::vector<png_bytep> rows(img->height);
  for (int y = 0; y < img->height; ++y) rows[y] = img->pixels.data() + rowbytes * y;
  png_read_image(h.png, rows.data());
  png_read_end(h.png, nullptr);
  return true;
}

}  // namespace

void probe_png(std::span<const uint8_t> data, int* w, int* h) {
  PngHandle p(data);
  if (!read_info(p)) throw_png(p.reader);
  *w = static_cast<int>(png_get_image_width(p.png, p.info));
  *h = static_cast<int>(png_get_image_height(p.png, p.info));
}

Image decode_png(std::span<const uint8_t> data, const DecodeLimits& limits) {
  PngHandle p(data);
  if (!read_info(p)) throw_png(p.reader);
  Image img;
  img.width = static_cast<int>(png_get_image_width(p.png, p.info));
  img.height = static_cast<int>(png_get_image_height(p.png, p.info));
  check_dimensions(img.width, img.height, limits, "png");
  const int color = png_get_color_type(p.png, p.info);
  const int depth = png_get_bit_depth(p.png, p.info);
  if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(p.png);
  if (color == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(p.png);
  if (depth == 16) png_set_strip_16(p.png);
  // Alpha is dropped, not composited. A palette image's tRNS is made an alpha channel by
  // png_set_palette_to_rgb (libpng 1.6 expands it with the palette): dropped too (else its rows
  // came out RGBA and every palette PNG with tRNS was refused as corrupt). Grey and RGB images'
  // tRNS is not expanded.
  if ((color & PNG_COLOR_MASK_ALPHA) ||
      (color == PNG_COLOR_TYPE_PALETTE && png_get_valid(p.png, p.info, PNG_INFO_tRNS))) {
    png_set_strip_alpha(p.png);
  }
  png_set_interlace_handling(p.png);
  const bool grey = color == PNG_COLOR_TYPE_GRAY || color == PNG_COLOR_TYPE_GRAY_ALPHA;
  img.channels = grey ? 1 : 3;
  if (!read_rows(p, &img)) throw_png(p.reader);
  return img;
}

}  // namespace hashmatch::detail
