// Launcher of the batched GPU PDQ pipeline (kernels in pdq_kernels.cu). Host-callable from g++
// translation units of the CUDA backend (includes the CUDA runtime API header only).
//
// One chunk (see host/pdq/batch_plan.h) runs as 4 launches on one stream, whatever the number and
// sizes of its images:
//   1. row pass 1      one warp per 32 rows of every image (blocks of 4 warps = one row group):
//                      luminance from the pixels (any format, prescale map), box filter along the
//                      row -> tmp; "direct" 64 x 64 images write their luminance to a64 instead.
//   2. column pass 1   one thread per column of every image: tmp -> buf.
//   3. row pass 2      as 1, from buf, storing only the 64 decimated columns -> nar (rows x 64).
//   4. final           one block of 256 threads per image: column pass 2 over the 64 columns of nar
//                      storing only the 64 decimated rows (the 64 x 64 in shared memory), quality,
//                      the 16 x 16 DCT, the medians and the 8 dihedral hashes.
// Filter passes 2 of the Jarosz filter only compute what the decimation samples: every stored value
// is the same sequence of float operations as on the CPU.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "kernels/pdq/detail/pdq_steps.h"

namespace hashmatch::pdq::detail {

struct PipelineArgs {
  const steps::ImageDesc* descs = nullptr;  // device [n]
  const int32_t* group_prefix = nullptr;    // device [n + 1]: row groups of images 0..i-1
  const int64_t* col_prefix = nullptr;      // device [n + 1]: filter columns of images 0..i-1
  int n = 0;
  int row_groups = 0;
  int64_t columns = 0;
  float* arena = nullptr;                   // device, the chunk's float32 scratch
  const float* dct = nullptr;               // device [16][64], pdq::dct_matrix()
  uint32_t* out_words = nullptr;            // device [n][8 variants][8 words]: bit k of variant v
                                            //   is bit (k % 32) of word [v][k / 32]
  int32_t* out_quality = nullptr;           // device [n]
  bool dihedral = false;                    // variants 1..7 computed (else written as zero)
};

constexpr int kWordsPerImage = 64;

// Enqueues the 4 kernels on `stream` (each launch checked).
void launch_pipeline(const PipelineArgs& args, cudaStream_t stream);

}  // namespace hashmatch::pdq::detail
