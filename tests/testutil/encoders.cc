#include "tests/testutil/encoders.h"

#include <gif_lib.h>
#include <png.h>
#include <tiffio.h>
#include <webp/encode.h>

#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstring>
#include <map>
#include <random>
#include <stdexcept>

#include "host/image/encode_jpeg.h"

namespace hashmatch::test {

Image procedural_image(int width, int height, uint32_t seed, int colours) {
  std::mt19937 rng(seed);
  std::vector<std::array<uint8_t, 3>> palette(colours);
  for (auto& c : palette) c = {uint8_t(rng()), uint8_t(rng()), uint8_t(rng())};
  const int fx = 1 + rng() % 7, fy = 1 + rng() % 5, block = 3 + rng() % 17;
  Image img;
  img.width = width;
  img.height = height;
  img.channels = 3;
  img.pixels.resize(img.pixel_count() * 3);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      const int v = (x * fx + y * fy) / 3 + ((x / block + y / block) % 2) * 40 +
                    ((x * x + y * 3) % 23);
      const auto& c = palette[static_cast<std::size_t>(v) % colours];
      std::memcpy(&img.pixels[(std::size_t(y) * width + x) * 3], c.data(), 3);
    }
  }
  return img;
}

namespace {
void png_write_cb(png_structp png, png_bytep data, png_size_t n) {
  auto* out = static_cast<std::vector<uint8_t>*>(png_get_io_ptr(png));
  out->insert(out->end(), data, data + n);
}
void png_flush_cb(png_structp) {}
}  // namespace

std::vector<uint8_t> encode_png(const Image& img, bool with_alpha, bool sixteen_bit) {
  std::vector<uint8_t> out;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    throw std::runtime_error("png encode failed");
  }
  png_set_write_fn(png, &out, png_write_cb, png_flush_cb);
  const int base = img.channels == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB;
  const int type = with_alpha ? (base | PNG_COLOR_MASK_ALPHA) : base;
  const int depth = sixteen_bit ? 16 : 8;
  png_set_IHDR(png, info, img.width, img.height, depth, type, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  const int comps = img.channels + (with_alpha ? 1 : 0);
  const int bps = sixteen_bit ? 2 : 1;
  std::vector<uint8_t> row(std::size_t(img.width) * comps * bps);
  for (int y = 0; y < img.height; ++y) {
    const uint8_t* in = img.row(y);
    for (int x = 0; x < img.width; ++x) {
      for (int c = 0; c < comps; ++c) {
        // Alpha varies (including fully transparent) to prove it is dropped, not composited.
        const uint8_t v = c < img.channels ? in[x * img.channels + c] : uint8_t((x * 17 + y) & 0xff);
        uint8_t* o = &row[(std::size_t(x) * comps + c) * bps];
        o[0] = v;
        if (sixteen_bit) o[1] = uint8_t(0xff - v);  // low byte: must be ignored
      }
    }
    png_write_row(png, row.data());
  }
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return out;
}

std::vector<uint8_t> encode_png_palette(const Image& rgb, bool trns) {
  if (rgb.channels != 3) throw std::runtime_error("encode_png_palette: an RGB image");
  std::vector<png_color> palette;
  std::vector<uint8_t> indices(std::size_t(rgb.width) * rgb.height);
  for (int y = 0; y < rgb.height; ++y) {
    for (int x = 0; x < rgb.width; ++x) {
      const uint8_t* p = rgb.row(y) + 3 * x;
      std::size_t i = 0;
      while (i < palette.size() &&
             !(palette[i].red == p[0] && palette[i].green == p[1] && palette[i].blue == p[2])) {
        ++i;
      }
      if (i == palette.size()) {
        if (palette.size() == 256) throw std::runtime_error("encode_png_palette: > 256 colours");
        palette.push_back(png_color{p[0], p[1], p[2]});
      }
      indices[std::size_t(y) * rgb.width + x] = uint8_t(i);
    }
  }
  std::vector<uint8_t> out;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    throw std::runtime_error("png encode failed");
  }
  png_set_write_fn(png, &out, png_write_cb, png_flush_cb);
  png_set_IHDR(png, info, rgb.width, rgb.height, 8, PNG_COLOR_TYPE_PALETTE, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_set_PLTE(png, info, palette.data(), static_cast<int>(palette.size()));
  std::vector<png_byte> alpha(palette.size());
  for (std::size_t i = 0; i < alpha.size(); ++i) alpha[i] = png_byte((i * 37) & 0xff);  // 0 first
  if (trns) png_set_tRNS(png, info, alpha.data(), static_cast<int>(alpha.size()), nullptr);
  png_write_info(png, info);
  for (int y = 0; y < rgb.height; ++y) png_write_row(png, &indices[std::size_t(y) * rgb.width]);
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return out;
}

std::vector<uint8_t> encode_jpeg(const Image& img, int quality, bool progressive) {
  JpegEncodeOptions o;
  o.quality = quality;
  o.progressive = progressive;
  return hashmatch::encode_jpeg(img, o);
}

std::vector<uint8_t> encode_webp_lossless(const Image& img) {
  const Image rgb = to_rgb(img);
  uint8_t* out = nullptr;
  const size_t n = WebPEncodeLosslessRGB(rgb.pixels.data(), rgb.width, rgb.height, rgb.width * 3, &out);
  if (!n) throw std::runtime_error("webp encode failed");
  std::vector<uint8_t> v(out, out + n);
  WebPFree(out);
  return v;
}

namespace {
int gif_write_cb(GifFileType* gif, const GifByteType* data, int n) {
  auto* out = static_cast<std::vector<uint8_t>*>(gif->UserData);
  out->insert(out->end(), data, data + n);
  return n;
}
}  // namespace

std::vector<uint8_t> encode_gif(const Image& src) {
  const Image img = to_rgb(src);
  std::map<uint32_t, int> index;
  std::vector<GifColorType> colours;
  std::vector<GifPixelType> pixels(img.pixel_count());
  for (std::size_t i = 0; i < img.pixel_count(); ++i) {
    const uint8_t* p = &img.pixels[3 * i];
    const uint32_t key = p[0] << 16 | p[1] << 8 | p[2];
    auto it = index.find(key);
    if (it == index.end()) {
      if (colours.size() == 256) throw std::runtime_error("gif: more than 256 colours");
      it = index.emplace(key, static_cast<int>(colours.size())).first;
      colours.push_back({p[0], p[1], p[2]});
    }
    pixels[i] = static_cast<GifPixelType>(it->second);
  }
  while (colours.size() < 256) colours.push_back({0, 0, 0});
  std::vector<uint8_t> out;
  int err = 0;
  GifFileType* gif = EGifOpen(&out, gif_write_cb, &err);
  ColorMapObject* cmap = GifMakeMapObject(256, colours.data());
  EGifSetGifVersion(gif, true);
  EGifPutScreenDesc(gif, img.width, img.height, 8, 0, cmap);
  EGifPutImageDesc(gif, 0, 0, img.width, img.height, false, nullptr);
  for (int y = 0; y < img.height; ++y) EGifPutLine(gif, &pixels[std::size_t(y) * img.width], img.width);
  EGifCloseFile(gif, &err);
  GifFreeMapObject(cmap);
  return out;
}

std::vector<uint8_t> encode_tiff(const Image& img) { return encode_tiff(img, 0, false); }

std::vector<uint8_t> encode_tiff(const Image& img, int orientation, bool alpha) {
  char path[] = "/tmp/hashmatch-tiff-XXXXXX";
  const int fd = mkstemp(path);
  if (fd < 0) throw std::runtime_error("mkstemp failed");
  close(fd);
  TIFF* t = TIFFOpen(path, "w");
  TIFFSetField(t, TIFFTAG_IMAGEWIDTH, img.width);
  TIFFSetField(t, TIFFTAG_IMAGELENGTH, img.height);
  const int spp = img.channels + (alpha ? 1 : 0);
  TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, spp);
  if (alpha) {
    const uint16_t extra[1] = {EXTRASAMPLE_UNASSALPHA};
    TIFFSetField(t, TIFFTAG_EXTRASAMPLES, 1, extra);
  }
  if (orientation > 0) TIFFSetField(t, TIFFTAG_ORIENTATION, orientation);
  TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, 8);
  TIFFSetField(t, TIFFTAG_PHOTOMETRIC, img.channels == 1 ? PHOTOMETRIC_MINISBLACK : PHOTOMETRIC_RGB);
  TIFFSetField(t, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
  TIFFSetField(t, TIFFTAG_COMPRESSION, COMPRESSION_LZW);
  TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, 16);
  std::vector<uint8_t> row(std::size_t(img.width) * spp);
  for (int y = 0; y < img.height; ++y) {
    for (int x = 0; x < img.width; ++x) {
      for (int c = 0; c < img.channels; ++c)
        row[std::size_t(x) * spp + c] = img.row(y)[x * img.channels + c];
      if (alpha) row[std::size_t(x) * spp + img.channels] = x < img.width / 2 ? 0 : 128;
    }
    TIFFWriteScanline(t, row.data(), y, 0);
  }
  TIFFClose(t);
  FILE* f = std::fopen(path, "rb");
  std::vector<uint8_t> out;
  int ch;
  while ((ch = std::fgetc(f)) != EOF) out.push_back(static_cast<uint8_t>(ch));
  std::fclose(f);
  std::remove(path);
  return out;
}

std::vector<uint8_t> encode_bmp(const Image& src) {
  const Image img = to_rgb(src);
  const int stride = (img.width * 3 + 3) & ~3;
  const uint32_t data_size = uint32_t(stride) * img.height;
  std::vector<uint8_t> out(54 + data_size, 0);
  auto put32 = [&](int at, uint32_t v) {
    for (int i = 0; i < 4; ++i) out[at + i] = uint8_t(v >> (8 * i));
  };
  out[0] = 'B';
  out[1] = 'M';
  put32(2, static_cast<uint32_t>(out.size()));
  put32(10, 54);
  put32(14, 40);
  put32(18, static_cast<uint32_t>(img.width));
  put32(22, static_cast<uint32_t>(img.height));
  out[26] = 1;
  out[28] = 24;
  put32(34, data_size);
  for (int y = 0; y < img.height; ++y) {
    const uint8_t* in = img.row(img.height - 1 - y);  // bottom-up
    uint8_t* o = &out[54 + std::size_t(y) * stride];
    for (int x = 0; x < img.width; ++x) {
      o[3 * x] = in[3 * x + 2];
      o[3 * x + 1] = in[3 * x + 1];
      o[3 * x + 2] = in[3 * x];
    }
  }
  return out;
}

}  // namespace hashmatch::test
