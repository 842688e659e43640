// Batch planning for the GPU PDQ pipeline (kernels/pdq): which images go into which launch group
// ("chunk") and where each image's scratch lives. Plain C++ (tested on the CPU); the GPU hasher
// follows the plan exactly.
//
// Per image the GPU pipeline needs, in float32 elements of one device arena:
//   tmp  rows x cols    row pass 1 output                    (filter mode only)
//   buf  rows x cols    column pass 1 output                 (filter mode only)
//   nar  rows x 64      row pass 2 output at the 64 sampled columns (filter mode only)
//   a64  64 x 64        the 64 x 64 input of a "direct" image (exactly 64 x 64 after prescale)
// and, for frames uploaded from host memory, its pixel bytes in the staging buffer. A chunk is a
// run of consecutive images whose needs fit the limits; an image that alone exceeds a limit gets a
// chunk of its own (the caller grows its buffers for it: rare, e.g. a 100-megapixel photo).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace hashmatch::pdq {

enum class GpuMode : int {
  kTiny = 0,    // fewer than 5 rows or columns: zero hash, quality 0, no work
  kDirect = 1,  // exactly 64 x 64 (after prescale): no filter, no decimation
  kFilter = 2,  // Jarosz filter + decimation
};

struct PlanInput {
  int width = 0;
  int height = 0;
  std::size_t staged_bytes = 0;  // bytes to upload from host memory (0: already on the device)
};

struct PlanLimits {
  std::size_t arena_floats = std::size_t(256) << 20;  // 1 GiB of float32 scratch per chunk
  std::size_t staging_bytes = std::size_t(256) << 20;
  int max_images = 4096;  // per chunk (descriptor and result buffers are sized for this)
};

constexpr int kRowGroup = 128;        // rows per block of the row passes (4 warps x 32 rows)
constexpr std::size_t kArenaAlign = 32;     // floats (128 bytes) per region start
constexpr std::size_t kStagingAlign = 256;  // bytes

struct ImagePlan {
  int rows = 0, cols = 0;    // effective size (after the 512-style prescale, when it applies)
  bool prescaled = false;    // sampled from the source through the nearest-neighbour map
  GpuMode mode = GpuMode::kTiny;
  std::size_t tmp_off = 0, buf_off = 0, nar_off = 0, a64_off = 0;  // floats into the arena
  std::size_t staging_off = 0;  // bytes into the staging buffer
  int group_begin = 0;          // first row group (chunk-relative); row groups: ceil(rows / 128)
  int64_t col_begin = 0;        // first column of the column pass (chunk-relative)
};

struct Chunk {
  std::size_t begin = 0, end = 0;  // images [begin, end)
  std::size_t arena_floats = 0;    // needed; may exceed the limit for a single huge image
  std::size_t staging_bytes = 0;
  int row_groups = 0;              // total row groups (grid of the row passes)
  int64_t columns = 0;             // total columns of filter images (threads of column pass 1)
};

struct BatchPlan {
  std::vector<ImagePlan> images;
  std::vector<Chunk> chunks;
};

// Effective geometry and mode of one image under `prescale` (0: full resolution).
ImagePlan plan_geometry(int width, int height, int prescale);
// Arena floats one image needs on its own (without alignment padding).
std::size_t arena_floats_for(const ImagePlan& p);

BatchPlan plan_batch(std::span<const PlanInput> inputs, int prescale, const PlanLimits& limits);

}  // namespace hashmatch::pdq
