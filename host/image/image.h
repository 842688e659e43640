// Decoded image pixels in host memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace hashmatch {

// 8-bit pixels, row-major, tightly packed: `channels` is 1 (grey) or 3 (RGB, R first).
// Alpha is never kept (dropped, not composited, as Pillow's convert("RGB") does).
struct Image {
  int width = 0;
  int height = 0;
  int channels = 3;
  std::vector<uint8_t> pixels;  // [height][width][channels]

  std::size_t row_bytes() const { return std::size_t(width) * channels; }
  const uint8_t* row(int y) const { return pixels.data() + std::size_t(y) * row_bytes(); }
  uint8_t* row(int y) { return pixels.data() + std::size_t(y) * row_bytes(); }
  std::size_t pixel_count() const { return std::size_t(width) * height; }
};

// Grey expanded to RGB (r = g = b), as Pillow's convert("RGB") does.
Image to_rgb(const Image& img);

// The reference command-line hasher's pre-resize: an image wider or taller than `size` becomes
// exactly size x size by nearest-neighbour sampling (source index floor(x * W / size), computed in
// double; aspect ratio not kept). Smaller images are returned unchanged.
Image prescale_nearest(const Image& img, int size);

}  // namespace hashmatch
