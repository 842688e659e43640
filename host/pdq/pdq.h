// PDQ perceptual hashing on the CPU: the bit-exact reference implementation of hashmatch.
//
// Follows Meta's reference (ThreatExchange pdq/cpp, hashing/pdqhashing.cpp and
// downscaling/downscaling.cpp) operation for operation in float32: the same luminance formula and
// evaluation order, the Jarosz tent filter (two rounds of box filters along rows then columns) with
// the same running sums, the same decimation indices, the same DCT matrix and summation order, the
// lower median (Torben) and the same bit order. Compiled with -ffp-contract=off and without
// fast-math: an FMA or a reordered sum changes hashes. This is also the oracle for the GPU kernels.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "host/common/hash256.h"
#include "host/image/image.h"

namespace hashmatch::pdq {

constexpr int kMinDimension = 5;  // fewer rows or columns: all-zero hash, quality 0
constexpr int kDownsampled = 64;  // 64 x 64 after filter and decimation
constexpr int kDct = 16;          // 16 x 16 DCT coefficients (DC dropped)
constexpr int kJaroszPasses = 2;

struct PdqHash {
  Hash256 hash;
  int quality = 0;
};

// Hashes of the 8 dihedral transforms of the image, in Dihedral order, all from one DCT.
struct PdqDihedral {
  std::array<Hash256, kNumDihedral> hashes{};
  int quality = 0;
};

// The DCT matrix D, 16 x 64 row-major float, D[i][j] = sqrt(2/64) * cos(pi/2/64 * (i+1) * (2j+1)),
// computed in double on the host and rounded to float once (as the reference does).
const std::array<float, kDct * kDownsampled>& dct_matrix();

// ceil(n / 128): the box-filter window for a dimension of n pixels (64 output samples).
constexpr int jarosz_window(int n) { return (n + 2 * kDownsampled - 1) / (2 * kDownsampled); }

// Decimation source index for output sample i of 64 over n input samples.
inline int decimation_index(int i, int n) {
  return static_cast<int>(((i + 0.5) * n) / kDownsampled);
}

// Luminance Y = (0.299 R + 0.587 G) + 0.114 B in float32, that order. Grey images are used as is.
// out: [height][width] float, row-major.
void luma_from_image(const Image& img, float* out);

// Which build of the luma and filter loops this CPU runs: "avx2" or "baseline" (pdq.cc: the same
// hashes either way).
const char* cpu_simd();

namespace detail {
// The two builds of luma_from_image and jarosz_filter (which pick one by the CPU), for tests that
// compare each with the reference. The AVX2 ones only where use_avx2() (x86-64 with AVX2, built
// by GCC, and HASHMATCH_PDQ_SIMD is not "baseline"; elsewhere they are the baseline).
bool avx2_supported();  // this build has the AVX2 loops and this CPU runs them
bool use_avx2();        // ... and they are used (HASHMATCH_PDQ_SIMD)
void luma_from_image_baseline(const Image& img, float* out);
void jarosz_filter_baseline(float* buf, float* tmp, float* work, int rows, int cols);
void luma_from_image_avx2(const Image& img, float* out);
void jarosz_filter_avx2(float* buf, float* tmp, float* work, int rows, int cols);
}  // namespace detail

// One box-filter pass over a 1-D vector with a stride, exactly as the reference's box1DFloat.
void box_1d(const float* in, float* out, int length, int stride, int window);

// The tent filter in place on `buf` (rows x cols, row-major); `tmp` is scratch of the same size,
// `work` scratch of jarosz_work_floats(cols) floats (PdqHasher keeps both between images; the
// overload without `work` allocates it).
std::size_t jarosz_work_floats(int cols);
void jarosz_filter(float* buf, float* tmp, float* work, int rows, int cols);
void jarosz_filter(float* buf, float* tmp, int rows, int cols);

// Image-domain quality (0..100) of the 64 x 64 buffer.
int quality_64x64(const float* a64);

// B = D * A * D^T: a64 is 64 x 64, b16 receives 16 x 16 (row-major).
void dct_64_to_16(const float* a64, float* b16);

// Bit k = 16 i + j set iff b16[i][j] > the lower median of the 256 values.
Hash256 threshold_16x16(const float* b16);

// The 8 dihedral hashes from one 16 x 16 DCT (each re-thresholded at its own median).
std::array<Hash256, kNumDihedral> dihedral_from_dct(const float* b16);

// Reusable CPU hasher (keeps its scratch buffers between images; one per thread).
class PdqHasher {
 public:
  // `prescale` 0: full resolution (the default: HMA, pdqhash, vPDQ). 512: the reference command
  // line's nearest-neighbour pre-resize of images larger than 512 on either side.
  explicit PdqHasher(int prescale = 0) : prescale_(prescale) {}

  PdqHash hash(const Image& img);
  PdqDihedral hash_dihedral(const Image& img);

  // Hash from a float luma buffer (rows x cols), which is filtered in place.
  PdqHash hash_luma(float* luma, int rows, int cols);
  PdqDihedral hash_luma_dihedral(float* luma, int rows, int cols);

 private:
  // Luma → 64 x 64 (in a64_) and quality; false when the image is too small to hash.
  bool downsample(float* luma, int rows, int cols, int* quality);
  float* luma_for(const Image& img, int* rows, int* cols);

  int prescale_;
  std::vector<float> luma_, tmp_, work_;
  std::array<float, kDownsampled * kDownsampled> a64_{};
  std::array<float, kDct * kDct> b16_{};
};

}  // namespace hashmatch::pdq
