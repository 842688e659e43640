#include "host/pdq/synthetic_images.h"

#include <algorithm>
#include <cmath>
#include <random>

namespace hashmatch::pdq {
namespace {

uint8_t u8(double v) { return static_cast<uint8_t>(std::clamp(v, 0.0, 255.0)); }

}  // namespace

Image synthetic_image(int width, int height, int channels, Pattern pattern, uint32_t seed) {
  Image img;
  img.width = std::max(width, 0);
  img.height = std::max(height, 0);
  img.channels = channels;
  img.pixels.assign(std::size_t(img.width) * img.height * channels, 0);
  std::mt19937 rng(seed * 2654435761u + 17u);
  std::uniform_real_distribution<double> uni(0.0, 1.0);
  const double ax = uni(rng) * 2 - 1, ay = uni(rng) * 2 - 1, base = uni(rng) * 128;
  const int flat[3] = {int(uni(rng) * 256), int(uni(rng) * 256), int(uni(rng) * 256)};
  // Blobs and strokes.
  struct Blob { double x, y, r, amp[3]; };
  std::vector<Blob> blobs(6);
  for (Blob& b : blobs) {
    b = {uni(rng) * img.width, uni(rng) * img.height, (0.05 + 0.3 * uni(rng)) * std::max(img.width, img.height) + 1,
         {uni(rng) * 200 - 100, uni(rng) * 200 - 100, uni(rng) * 200 - 100}};
  }
  const double period = 2 + uni(rng) * 40;
  const double angle = uni(rng) * 3.14159;
  for (int y = 0; y < img.height; ++y) {
    uint8_t* row = img.row(y);
    for (int x = 0; x < img.width; ++x) {
      for (int c = 0; c < channels; ++c) {
        double v = 0;
        switch (pattern) {
          case Pattern::kGradient:
            v = base + 127 * (ax * x / std::max(1, img.width) + ay * y / std::max(1, img.height)) + 40 * c;
            break;
          case Pattern::kNoise: v = uni(rng) * 256; break;
          case Pattern::kFlat: v = flat[c]; break;
          case Pattern::kText: v = 235 - 10 * c; break;  // paper; strokes drawn below
          case Pattern::kStripes: {
            const double t = (x * std::cos(angle) + y * std::sin(angle)) / period;
            v = (static_cast<long long>(std::floor(t)) & 1) ? 220 - 30 * c : 30 + 20 * c;
            break;
          }
          case Pattern::kBlobs:
          case Pattern::kNoisyGradient: {
            v = 128;
            for (const Blob& b : blobs) {
              const double dx = x - b.x, dy = y - b.y;
              v += b.amp[c] * std::exp(-(dx * dx + dy * dy) / (b.r * b.r));
            }
            if (pattern == Pattern::kNoisyGradient) v += 60 * ax * x / std::max(1, img.width) + (uni(rng) - 0.5) * 40;
            break;
          }
          default: break;
        }
        row[x * channels + c] = u8(v);
      }
    }
  }
  if (pattern == Pattern::kText && img.width > 0 && img.height > 0) {
    // Lines of "glyphs": short dark strokes on a baseline grid.
    const int line_h = std::max(3, int(6 + uni(rng) * 20));
    for (int ly = line_h; ly + line_h / 2 < img.height; ly += line_h * 3 / 2) {
      for (int x = int(uni(rng) * 8); x < img.width;) {
        const int gw = std::max(1, int(line_h * (0.3 + 0.5 * uni(rng))));
        const int strokes = 1 + int(uni(rng) * 3);
        for (int s = 0; s < strokes; ++s) {
          const bool vertical = uni(rng) < 0.5;
          const int sx = x + int(uni(rng) * gw), sy = ly - int(uni(rng) * line_h);
          const int len = 1 + int(uni(rng) * line_h);
          for (int k = 0; k < len; ++k) {
            const int px = vertical ? sx : sx + k, py = vertical ? sy + k : sy;
            if (px < 0 || py < 0 || px >= img.width || py >= img.height) continue;
            for (int c = 0; c < channels; ++c) img.row(py)[px * channels + c] = u8(20 + 15 * c);
          }
        }
        x += gw + 1 + int(uni(rng) * 3);
        if (uni(rng) < 0.15) x += gw;  // word gap
      }
    }
  }
  return img;
}

std::vector<std::pair<int, int>> pdq_test_sizes(int random_count, int max_side, uint32_t seed) {
  std::vector<std::pair<int, int>> s = {
      {1, 1},     {2, 3},     {4, 4},     {4, 100},   {100, 4},   {5, 5},     {5, 6},
      {6, 5},     {5, 300},   {300, 5},   {7, 13},    {31, 17},   {63, 64},   {64, 63},
      {64, 64},   {65, 64},   {64, 65},   {65, 65},   {127, 127}, {128, 128}, {129, 129},
      {255, 257}, {256, 256}, {257, 255}, {300, 200}, {511, 513}, {512, 512}, {513, 511},
      {640, 480}, {1000, 3},  {2, 1000},  {999, 1001}, {1280, 720}, {1920, 1080}, {1080, 1920},
  };
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> uni(0.0, std::log(double(std::max(2, max_side))));
  for (int i = 0; i < random_count; ++i) {
    s.emplace_back(int(std::exp(uni(rng))), int(std::exp(uni(rng))));
  }
  return s;
}

OwnedFrame synthetic_frame(int width, int height, PixelFormat format, YuvMatrix matrix,
                           uint32_t seed) {
  OwnedFrame f;
  f.view.format = format;
  f.view.width = width;
  f.view.height = height;
  f.view.matrix = matrix;
  const int nplanes = format == PixelFormat::kNv12 ? 2 : (format == PixelFormat::kI420 ? 3 : 1);
  std::size_t total = 0;
  std::size_t offs[3] = {0, 0, 0};
  for (int p = 0; p < nplanes; ++p) {
    offs[p] = total;
    total += frame_plane_bytes(format, width, height, p);
  }
  f.storage.resize(total);
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> noise(-12, 12);
  const double fx = 0.5 + (seed % 7), fy = 0.3 + (seed % 5);
  for (int p = 0; p < nplanes; ++p) {
    const int pitch = frame_plane_pitch(format, width, p);
    const int rows = p == 0 ? height : (height + 1) / 2;
    uint8_t* base = f.storage.data() + offs[p];
    for (int y = 0; y < rows; ++y) {
      for (int x = 0; x < pitch; ++x) {
        const double v = 128 + 90 * std::sin(fx * x / std::max(1, pitch) * 6.28 + p) *
                                   std::cos(fy * y / std::max(1, rows) * 6.28);
        base[std::size_t(y) * pitch + x] = u8(v + noise(rng));
      }
    }
    f.view.planes[p] = base;
    f.view.pitches[p] = pitch;
  }
  return f;
}

}  // namespace hashmatch::pdq
