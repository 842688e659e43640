// A smooth procedural picture for the triage tests (shared by test_triage and test_scan_cluster).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "host/image/image.h"

namespace hashmatch::triage {

// Random blobs and a gradient, in coordinates relative to the size: the low-frequency content
// PDQ sees, so resizing and re-encoding keep its hash close, as with natural images. The same
// seed at another size is a resized copy.
inline Image smooth_image(int w, int h, uint32_t seed) {
  std::mt19937 rng(seed);
  struct Blob { double x, y, r, c[3]; };
  std::vector<Blob> blobs(8);
  for (auto& b : blobs) {
    b = {double(rng() % 1000) / 1000, double(rng() % 1000) / 1000, 0.05 + double(rng() % 200) / 1000,
         {double(rng() % 256), double(rng() % 256), double(rng() % 256)}};
  }
  Image img;
  img.width = w;
  img.height = h;
  img.channels = 3;
  img.pixels.resize(img.pixel_count() * 3);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      const double u = double(x) / w, v = double(y) / h;
      double c[3] = {60 * u, 60 * v, 30};
      for (const Blob& b : blobs) {
        const double d2 = ((u - b.x) * (u - b.x) + (v - b.y) * (v - b.y)) / (b.r * b.r);
        const double wgt = std::exp(-d2);
        for (int k = 0; k < 3; ++k) c[k] += wgt * b.c[k];
      }
      for (int k = 0; k < 3; ++k) img.pixels[(std::size_t(y) * w + x) * 3 + k] = uint8_t(std::min(255.0, c[k]));
    }
  }
  return img;
}

}  // namespace hashmatch::triage
