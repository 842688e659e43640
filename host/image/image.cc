#include "host/image/image.h"

#include <cmath>

namespace hashmatch {

Image to_rgb(const Image& img) {
  if (img.channels == 3) return img;
  Image out;
  out.width = img.width;
  out.height = img.height;
  out.channels = 3;
  out.pixels.resize(img.pixel_count() * 3);
  for (std::size_t i = 0; i < img.pixel_count(); ++i) {
    out.pixels[3 * i] = out.pixels[3 * i + 1] = out.pixels[3 * i + 2] = img.pixels[i];
  }
  return out;
}

Image prescale_nearest(const Image& img, int size) {
  if (size <= 0 || (img.width <= size && img.height <= size)) return img;
  Image out;
  out.width = size;
  out.height = size;
  out.channels = img.channels;
  out.pixels.resize(std::size_t(size) * size * img.channels);
  std::vector<int> src_x(size);
  for (int x = 0; x < size; ++x) {
    src_x[x] = static_cast<int>(std::floor(double(x) * img.width / size));
  }
  for (int y = 0; y < size; ++y) {
    const int sy = static_cast<int>(std::floor(double(y) * img.height / size));
    const uint8_t* in = img.row(sy);
    uint8_t* o = out.row(y);
    for (int x = 0; x < size; ++x) {
      for (int c = 0; c < img.channels; ++c) o[x * img.channels + c] = in[src_x[x] * img.channels + c];
    }
  }
  return out;
}

}  // namespace hashmatch
