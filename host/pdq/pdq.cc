// Compiled with -ffp-contract=off (see host/CMakeLists.txt): no FMA, no reassociation.
#include "host/pdq/pdq.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string_view>

// The two loops that take most of a hash (luma, the Jarosz filter) are built twice on x86-64 with
// GCC: for AVX2 and for the baseline, the CPU picking at run time (detail::use_avx2). The same
// IEEE operations either way (no FMA: AVX2 does not imply it, and contraction is off), so the
// hashes are the same bit for bit; only the vector width differs.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define HM_PDQ_AVX2 1
#else
#define HM_PDQ_AVX2 0
#endif

namespace hashmatch::pdq {

const std::array<float, kDct * kDownsampled>& dct_matrix() {
  static const std::array<float, kDct * kDownsampled> d = [] {
    std::array<float, kDct * kDownsampled> m{};
    const double pi = 3.14159265358979323846;
    const float scale = static_cast<float>(std::sqrt(2.0 / 64.0));
    for (int i = 0; i < kDct; ++i) {
      for (int j = 0; j < kDownsampled; ++j) {
        m[i * kDownsampled + j] =
            static_cast<float>(scale * std::cos((pi / 2 / 64.0) * (i + 1) * (2 * j + 1)));
      }
    }
    return m;
  }();
  return d;
}

namespace {

[[gnu::always_inline]] inline void luma_impl(const Image& img, float* out) {
  const std::size_t n = img.pixel_count();
  const uint8_t* p = img.pixels.data();
  if (img.channels == 1) {
    for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<float>(p[i]);
    return;
  }
  for (std::size_t i = 0; i < n; ++i) {
    const float r = p[3 * i], g = p[3 * i + 1], b = p[3 * i + 2];
    out[i] = 0.299f * r + 0.587f * g + 0.114f * b;
  }
}

}  // namespace

void box_1d(const float* in, float* out, int length, int stride, int window) {
  const int half = (window + 2) / 2;
  const int phase1 = half - 1;
  const int phase2 = window - half + 1;
  const int phase3 = length - window;
  const int phase4 = half - 1;
  int li = 0, ri = 0, oi = 0, count = 0;
  float sum = 0.0f;
  for (int i = 0; i < phase1; ++i) {
    sum += in[ri];
    ++count;
    ri += stride;
  }
  for (int i = 0; i < phase2; ++i) {
    sum += in[ri];
    ++count;
    out[oi] = sum / static_cast<float>(count);
    ri += stride;
    oi += stride;
  }
  for (int i = 0; i < phase3; ++i) {
    sum += in[ri];
    sum -= in[li];
    out[oi] = sum / static_cast<float>(count);
    li += stride;
    ri += stride;
    oi += stride;
  }
  for (int i = 0; i < phase4; ++i) {
    sum -= in[li];
    --count;
    out[oi] = sum / static_cast<float>(count);
    li += stride;
    oi += stride;
  }
}

namespace {

// box_1d applied to every column at once, sweeping rows: each column sees exactly the sequence of
// float operations box_1d(in + j, out + j, rows, cols, window) performs, but memory is read row by
// row (cache friendly, vectorisable across columns).
[[gnu::always_inline]] inline void box_columns(const float* __restrict in, float* __restrict out,
                                               int rows, int cols, int window,
                                               float* __restrict sum) {
  const int half = (window + 2) / 2;
  const int phase1 = half - 1;
  const int phase2 = window - half + 1;
  const int phase3 = rows - window;
  const int phase4 = half - 1;
  std::fill(sum, sum + cols, 0.0f);
  int li = 0, ri = 0, oi = 0, count = 0;
  for (int i = 0; i < phase1; ++i, ++ri) {
    const float* r = in + std::size_t(ri) * cols;
    for (int j = 0; j < cols; ++j) sum[j] += r[j];
    ++count;
  }
  for (int i = 0; i < phase2; ++i, ++ri, ++oi) {
    const float* r = in + std::size_t(ri) * cols;
    float* o = out + std::size_t(oi) * cols;
    ++count;
    const float c = static_cast<float>(count);
    for (int j = 0; j < cols; ++j) {
      sum[j] += r[j];
      o[j] = sum[j] / c;
    }
  }
  {
    const float c = static_cast<float>(count);
    for (int i = 0; i < phase3; ++i, ++ri, ++li, ++oi) {
      const float* r = in + std::size_t(ri) * cols;
      const float* l = in + std::size_t(li) * cols;
      float* o = out + std::size_t(oi) * cols;
      for (int j = 0; j < cols; ++j) {
        sum[j] += r[j];
        sum[j] -= l[j];
        o[j] = sum[j] / c;
      }
    }
  }
  for (int i = 0; i < phase4; ++i, ++li, ++oi) {
    const float* l = in + std::size_t(li) * cols;
    float* o = out + std::size_t(oi) * cols;
    --count;
    const float c = static_cast<float>(count);
    for (int j = 0; j < cols; ++j) {
      sum[j] -= l[j];
      o[j] = sum[j] / c;
    }
  }
}

// Rows filtered kRowGroup at a time (box_rows): one running sum per row, kept side by side.
constexpr int kRowGroup = 8;

// kRowGroup floats side by side (GCC vector extension: one AVX register, two SSE ones); +, -
// and / work lane by lane, each lane's IEEE operation as on a lone float. Passed by reference
// only (a vector argument by value would have a calling convention that differs with AVX).
typedef float Lanes __attribute__((vector_size(kRowGroup * sizeof(float))));
[[gnu::always_inline]] inline void load_lanes(Lanes& v, const float* p) {
  std::memcpy(&v, p, sizeof v);
}
[[gnu::always_inline]] inline void store_lanes(float* p, const Lanes& v) {
  std::memcpy(p, &v, sizeof v);
}

// box_1d over the kRowGroup interleaved lines of `in` (sample j of line g at in[j * kRowGroup +
// g]), `length` samples each, into `out` laid out the same way. Each line sees exactly box_1d's
// sequence of float operations (box_columns' loop with a fixed width): the lines' running sums
// are independent, so the adds and divisions of the group go side by side (vectorised), where
// box_1d along one row waits on every add of its single sum.
[[gnu::always_inline]] inline void box_lanes(const float* __restrict in, float* __restrict out,
                                             int length, int window) {
  constexpr int G = kRowGroup;
  const int half = (window + 2) / 2;
  const int phase1 = half - 1;
  const int phase2 = window - half + 1;
  const int phase3 = length - window;
  const int phase4 = half - 1;
  Lanes sum = {}, r, l, o;
  int li = 0, ri = 0, oi = 0, count = 0;
  for (int i = 0; i < phase1; ++i, ++ri) {
    load_lanes(r, in + std::size_t(ri) * G);
    sum += r;
    ++count;
  }
  for (int i = 0; i < phase2; ++i, ++ri, ++oi) {
    ++count;
    const float c = static_cast<float>(count);
    load_lanes(r, in + std::size_t(ri) * G);
    sum += r;
    o = sum / c;
    store_lanes(out + std::size_t(oi) * G, o);
  }
  {
    const float c = static_cast<float>(count);
    for (int i = 0; i < phase3; ++i, ++ri, ++li, ++oi) {
      load_lanes(r, in + std::size_t(ri) * G);
      load_lanes(l, in + std::size_t(li) * G);
      sum += r;
      sum -= l;
      o = sum / c;
      store_lanes(out + std::size_t(oi) * G, o);
    }
  }
  for (int i = 0; i < phase4; ++i, ++li, ++oi) {
    --count;
    const float c = static_cast<float>(count);
    load_lanes(l, in + std::size_t(li) * G);
    sum -= l;
    o = sum / c;
    store_lanes(out + std::size_t(oi) * G, o);
  }
}

// box_1d along every row (the same results): groups of kRowGroup rows interleaved into `lanes`
// (2 x kRowGroup x cols floats), filtered by box_lanes and written back; the last rows < kRowGroup
// one by one.
[[gnu::always_inline]] inline void box_rows(const float* __restrict in, float* __restrict out,
                                            int rows, int cols, int window,
                                            float* __restrict lanes) {
  constexpr int G = kRowGroup;
  float* lin = lanes;
  float* lout = lanes + std::size_t(G) * cols;
  int r = 0;
  for (; r + G <= rows; r += G) {
    // In and out in G x G blocks (transposes the compiler does in registers), then the columns
    // past the last whole block.
    const float* src = in + std::size_t(r) * cols;
    int j = 0;
    for (; j + G <= cols; j += G) {
      for (int k = 0; k < G; ++k) {
        for (int g = 0; g < G; ++g)
          lin[std::size_t(j + k) * G + g] = src[std::size_t(g) * cols + j + k];
      }
    }
    for (; j < cols; ++j) {
      for (int g = 0; g < G; ++g) lin[std::size_t(j) * G + g] = src[std::size_t(g) * cols + j];
    }
    box_lanes(lin, lout, cols, window);
    float* dst = out + std::size_t(r) * cols;
    for (j = 0; j + G <= cols; j += G) {
      for (int g = 0; g < G; ++g) {
        for (int k = 0; k < G; ++k)
          dst[std::size_t(g) * cols + j + k] = lout[std::size_t(j + k) * G + g];
      }
    }
    for (; j < cols; ++j) {
      for (int g = 0; g < G; ++g) dst[std::size_t(g) * cols + j] = lout[std::size_t(j) * G + g];
    }
  }
  for (; r < rows; ++r) {
    box_1d(in + std::size_t(r) * cols, out + std::size_t(r) * cols, cols, 1, window);
  }
}

// `work`: jarosz_work_floats(cols) floats, the column sums then the row groups' lanes. The box
// loops take their pointers __restrict: buf, tmp and work never overlap, and without the promise
// GCC reloads the running sums on every store (a 1080p hash took 4.8 ms against 3.8; when the
// sums and lanes were vectors allocated here, it knew that of them by itself).
[[gnu::always_inline]] inline void jarosz_impl(float* buf, float* tmp, float* work, int rows,
                                               int cols) {
  const int window_along_rows = jarosz_window(cols);
  const int window_along_cols = jarosz_window(rows);
  float* sums = work;
  float* lanes = work + cols;
  for (int pass = 0; pass < kJaroszPasses; ++pass) {
    box_rows(buf, tmp, rows, cols, window_along_rows, lanes);
    box_columns(tmp, buf, rows, cols, window_along_cols, sums);
  }
}

}  // namespace

namespace detail {

void luma_from_image_baseline(const Image& img, float* out) { luma_impl(img, out); }
void jarosz_filter_baseline(float* buf, float* tmp, float* work, int rows, int cols) {
  jarosz_impl(buf, tmp, work, rows, cols);
}

#if HM_PDQ_AVX2
bool avx2_supported() { return __builtin_cpu_supports("avx2"); }
bool use_avx2() {
  // HASHMATCH_PDQ_SIMD=baseline keeps the baseline build (comparisons; the same hashes).
  static const bool yes = [] {
    const char* v = std::getenv("HASHMATCH_PDQ_SIMD");
    return !(v && std::string_view(v) == "baseline") && avx2_supported();
  }();
  return yes;
}
__attribute__((target("avx2"))) void luma_from_image_avx2(const Image& img, float* out) {
  luma_impl(img, out);
}
__attribute__((target("avx2"))) void jarosz_filter_avx2(float* buf, float* tmp, float* work,
                                                        int rows, int cols) {
  jarosz_impl(buf, tmp, work, rows, cols);
}
#else
bool avx2_supported() { return false; }
bool use_avx2() { return false; }
void luma_from_image_avx2(const Image& img, float* out) { luma_impl(img, out); }
void jarosz_filter_avx2(float* buf, float* tmp, float* work, int rows, int cols) {
  jarosz_impl(buf, tmp, work, rows, cols);
}
#endif

}  // namespace detail

const char* cpu_simd() { return detail::use_avx2() ? "avx2" : "baseline"; }

void luma_from_image(const Image& img, float* out) {
  if (detail::use_avx2()) {
    detail::luma_from_image_avx2(img, out);
  } else {
    detail::luma_from_image_baseline(img, out);
  }
}

std::size_t jarosz_work_floats(int cols) {
  return (1 + 2 * std::size_t(kRowGroup)) * std::size_t(std::max(cols, 0));
}

void jarosz_filter(float* buf, float* tmp, float* work, int rows, int cols) {
  if (detail::use_avx2()) {
    detail::jarosz_filter_avx2(buf, tmp, work, rows, cols);
  } else {
    detail::jarosz_filter_baseline(buf, tmp, work, rows, cols);
  }
}

void jarosz_filter(float* buf, float* tmp, int rows, int cols) {
  std::vector<float> work(jarosz_work_floats(cols));
  jarosz_filter(buf, tmp, work.data(), rows, cols);
}

int quality_64x64(const float* a) {
  int gradient_sum = 0;
  for (int i = 0; i < kDownsampled - 1; ++i) {
    for (int j = 0; j < kDownsampled; ++j) {
      const float u = a[i * kDownsampled + j];
      const float v = a[(i + 1) * kDownsampled + j];
      const int d = static_cast<int>(((u - v) * 100) / 255);
      gradient_sum += std::abs(d);
    }
  }
  for (int i = 0; i < kDownsampled; ++i) {
    for (int j = 0; j < kDownsampled - 1; ++j) {
      const float u = a[i * kDownsampled + j];
      const float v = a[i * kDownsampled + j + 1];
      const int d = static_cast<int>(((u - v) * 100) / 255);
      gradient_sum += std::abs(d);
    }
  }
  return std::min(gradient_sum / 90, 100);
}

void dct_64_to_16(const float* a, float* b) {
  const float* d = dct_matrix().data();
  float t[kDct * kDownsampled];  // T = D A, 16 x 64
  for (int i = 0; i < kDct; ++i) {
    for (int j = 0; j < kDownsampled; ++j) {
      float s = 0.0f;
      for (int k = 0; k < kDownsampled; ++k) s += d[i * kDownsampled + k] * a[k * kDownsampled + j];
      t[i * kDownsampled + j] = s;
    }
  }
  for (int i = 0; i < kDct; ++i) {
    for (int j = 0; j < kDct; ++j) {
      float s = 0.0f;
      for (int k = 0; k < kDownsampled; ++k) s += t[i * kDownsampled + k] * d[j * kDownsampled + k];
      b[i * kDct + j] = s;
    }
  }
}

Hash256 threshold_16x16(const float* b) {
  // Lower median: the 128th smallest of 256 values, as Torben's selection in the reference.
  float sorted[kDct * kDct];
  std::memcpy(sorted, b, sizeof(sorted));
  std::nth_element(sorted, sorted + 127, sorted + 256);
  const float median = sorted[127];
  Hash256 h;
  for (int k = 0; k < kDct * kDct; ++k) {
    if (b[k] > median) h.set_bit(k);
  }
  return h;
}

std::array<Hash256, kNumDihedral> dihedral_from_dct(const float* b) {
  std::array<Hash256, kNumDihedral> out;
  float t[kDct * kDct];
  auto at = [](float* m, int i, int j) -> float& { return m[i * kDct + j]; };
  auto in = [b](int i, int j) { return b[i * kDct + j]; };

  out[0] = threshold_16x16(b);
  // rot90: B'[j][i] = B[i][j] if j odd else -B[i][j]
  for (int i = 0; i < kDct; ++i)
    for (int j = 0; j < kDct; ++j) at(t, j, i) = (j & 1) ? in(i, j) : -in(i, j);
  out[1] = threshold_16x16(t);
  // rot180: B'[i][j] = -B[i][j] if i+j odd else B[i][j]
  for (int i = 0; i < kDct; ++i)
    for (int j = 0; j < kDct; ++j) at(t, i, j) = ((i + j) & 1) ? -in(i, j) : in(i, j);
  out[2] = threshold_16x16(t);
  // rot270: B'[j][i] = B[i][j] if i odd else -B[i][j]
  for (int i = 0; i < kDct; ++i)
    for (int j = 0; j < kDct; ++j) at(t, j, i) = (i & 1) ? in(i, j) : -in(i, j);
  out[3] = threshold_16x16(t);
  // flipX: B'[i][j] = B[i][j] if i odd else -B[i][j]
  for (int i = 0; i < kDct; ++i)
    for (int j = 0; j < kDct; ++j) at(t, i, j) = (i & 1) ? in(i, j) : -in(i, j);
  out[4] = threshold_16x16(t);
  // flipY: B'[i][j] = B[i][j] if j odd else -B[i][j]
  for (int i = 0; i < kDct; ++i)
    for (int j = 0; j < kDct; ++j) at(t, i, j) = (j & 1) ? in(i, j) : -in(i, j);
  out[5] = threshold_16x16(t);
  // flipPlus1: B' = B^T
  for (int i = 0; i < kDct; ++i)
    for (int j = 0; j < kDct; ++j) at(t, j, i) = in(i, j);
  out[6] = threshold_16x16(t);
  // flipMinus1: B'[j][i] = -B[i][j] if i+j odd else B[i][j]
  for (int i = 0; i < kDct; ++i)
    for (int j = 0; j < kDct; ++j) at(t, j, i) = ((i + j) & 1) ? -in(i, j) : in(i, j);
  out[7] = threshold_16x16(t);
  return out;
}

bool PdqHasher::downsample(float* luma, int rows, int cols, int* quality) {
  if (rows < kMinDimension || cols < kMinDimension) {
    *quality = 0;
    return false;
  }
  if (rows == kDownsampled && cols == kDownsampled) {
    std::memcpy(a64_.data(), luma, sizeof(float) * kDownsampled * kDownsampled);
  } else {
    tmp_.resize(std::size_t(rows) * cols);
    work_.resize(jarosz_work_floats(cols));
    jarosz_filter(luma, tmp_.data(), work_.data(), rows, cols);
    for (int i = 0; i < kDownsampled; ++i) {
      const int si = decimation_index(i, rows);
      for (int j = 0; j < kDownsampled; ++j) {
        a64_[i * kDownsampled + j] = luma[std::size_t(si) * cols + decimation_index(j, cols)];
      }
    }
  }
  *quality = quality_64x64(a64_.data());
  dct_64_to_16(a64_.data(), b16_.data());
  return true;
}

PdqHash PdqHasher::hash_luma(float* luma, int rows, int cols) {
  PdqHash r;
  if (downsample(luma, rows, cols, &r.quality)) r.hash = threshold_16x16(b16_.data());
  return r;
}

PdqDihedral PdqHasher::hash_luma_dihedral(float* luma, int rows, int cols) {
  PdqDihedral r;
  if (downsample(luma, rows, cols, &r.quality)) r.hashes = dihedral_from_dct(b16_.data());
  return r;
}

float* PdqHasher::luma_for(const Image& img, int* rows, int* cols) {
  if (prescale_ > 0 && (img.width > prescale_ || img.height > prescale_)) {
    const Image small = prescale_nearest(img, prescale_);
    luma_.resize(small.pixel_count());
    luma_from_image(small, luma_.data());
    *rows = small.height;
    *cols = small.width;
  } else {
    luma_.resize(img.pixel_count());
    luma_from_image(img, luma_.data());
    *rows = img.height;
    *cols = img.width;
  }
  return luma_.data();
}

PdqHash PdqHasher::hash(const Image& img) {
  int rows = 0, cols = 0;
  float* l = luma_for(img, &rows, &cols);
  return hash_luma(l, rows, cols);
}

PdqDihedral PdqHasher::hash_dihedral(const Image& img) {
  int rows = 0, cols = 0;
  float* l = luma_for(img, &rows, &cols);
  return hash_luma_dihedral(l, rows, cols);
}

}  // namespace hashmatch::pdq
