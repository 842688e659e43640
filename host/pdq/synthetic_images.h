// Procedural, benign test images for PDQ tests and benchmarks (deterministic from a seed):
// gradients, noise, flat, text-like strokes, stripes/checkers, smooth blobs, and mixes.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "host/image/image.h"
#include "host/pdq/frame.h"

namespace hashmatch::pdq {

enum class Pattern : int {
  kGradient = 0, kNoise, kFlat, kText, kStripes, kBlobs, kNoisyGradient,
  kCount
};

// A w x h image with 1 or 3 channels.
Image synthetic_image(int width, int height, int channels, Pattern pattern, uint32_t seed);

// The sizes the GPU == CPU tests cover (degenerate, tiny, exactly 64, odd, wide, tall, large),
// then `random_count` more drawn log-uniformly from [1, max_side] with `seed`.
std::vector<std::pair<int, int>> pdq_test_sizes(int random_count, int max_side, uint32_t seed);

// A frame in host memory (tightly packed planes owned by `storage`), any PixelFormat, filled with
// smooth content plus noise on every plane.
struct OwnedFrame {
  FrameView view;
  std::vector<uint8_t> storage;
};
OwnedFrame synthetic_frame(int width, int height, PixelFormat format, YuvMatrix matrix,
                           uint32_t seed);

}  // namespace hashmatch::pdq
