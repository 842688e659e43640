// The per-thread programs of the GPU PDQ kernels, written once as functions that compile for the
// device (nvcc) and for the host (g++). The kernels in pdq_kernels.cu are thin loops over these;
// tests/pdq_gpu/test_pdq_emulation.cc runs the same functions in the same order on the CPU (lanes
// and blocks as loops) and checks the result against host/pdq/pdq.h, so the indexing and the float
// order are tested on machines without a GPU too.
//
// Bit-exactness rules (PDQ.md): every float operation is an explicitly rounded IEEE operation on the
// device (__fadd_rn, __fmul_rn, __fdiv_rn: no FMA contraction, IEEE division) and a plain operator on
// the host, where the including target must be compiled with -ffp-contract=off; the sums keep the
// reference's sequential order.
#pragma once

#include <cstddef>
#include <cstdint>

#include "host/pdq/frame.h"

#if defined(__CUDACC__)
#define HM_HD __host__ __device__ __forceinline__
#else
#define HM_HD inline
#endif

namespace hashmatch::pdq::steps {

// ---- explicitly rounded arithmetic ------------------------------------------------------------
HM_HD float fadd(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fadd_rn(a, b);
#else
  return a + b;
#endif
}
HM_HD float fsub(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fsub_rn(a, b);
#else
  return a - b;
#endif
}
HM_HD float fmul(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}
HM_HD float fdiv(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fdiv_rn(a, b);
#else
  return a / b;
#endif
}
HM_HD double dmul(double a, double b) {
#if defined(__CUDA_ARCH__)
  return __dmul_rn(a, b);
#else
  return a * b;
#endif
}
HM_HD double ddiv(double a, double b) {
#if defined(__CUDA_ARCH__)
  return __ddiv_rn(a, b);
#else
  return a / b;
#endif
}

constexpr int kN = 64;       // 64 x 64 after decimation
constexpr int kD = 16;       // 16 x 16 DCT
constexpr int kWarp = 32;    // rows per warp in the row passes; also tile width
constexpr int kTileCols = 32;
constexpr int kTilePitch = kTileCols + 1;  // +1: a lane reading its own row of the tile hits its own bank
constexpr int kRowWarps = 4;               // warps per block of the row passes (4 x 32 = kRowGroup rows)
constexpr int kFinalThreads = 256;         // threads per image in the final kernel

// ---- one image, as the kernels see it (host-safe POD) -----------------------------------------
enum DescFormat : int32_t {
  kDescGrey = 0,       // 1 byte per pixel
  kDescRgb = 1,        // R G B
  kDescNv12 = 2,
  kDescI420 = 3,
  kDescGreyStep3 = 4,  // grey taken from the first byte of 3 (nvJPEG's RGBI output of a grey JPEG)
};

struct ImageDesc {
  const uint8_t* plane[3];  // device pointers (host pointers in the CPU emulation)
  int32_t pitch[3];         // bytes
  int32_t format;           // DescFormat
  int32_t matrix;           // YuvMatrix (YUV formats)
  int32_t src_w, src_h;     // source size
  int32_t cols, rows;       // effective size (prescale applied)
  int32_t prescaled;        // 1: effective pixel (r, c) samples source (prescale_index(r), ...)
  int32_t mode;             // GpuMode: 0 tiny, 1 direct, 2 filter
  int64_t tmp_off, buf_off, nar_off, a64_off;  // floats into the arena
};

// Index i with prefix[i] <= x < prefix[i + 1] (prefix non-decreasing over n + 1 entries, prefix[0]
// = 0, x < prefix[n]): the image a block (row passes) or a thread (column pass) works on.
template <typename T>
HM_HD int find_owner(const T* prefix, int n, T x) {
  int lo = 0, hi = n;  // answer in [lo, hi)
  while (hi - lo > 1) {
    const int mid = (lo + hi) >> 1;
    if (prefix[mid] <= x) lo = mid; else hi = mid;
  }
  return lo;
}

// ---- pixels -------------------------------------------------------------------------------------
// Luminance Y = (0.299 R + 0.587 G) + 0.114 B in float32, in that order (pdq.cc luma_from_image).
HM_HD float luma_rgb(int r, int g, int b) {
  return fadd(fadd(fmul(0.299f, static_cast<float>(r)), fmul(0.587f, static_cast<float>(g))),
              fmul(0.114f, static_cast<float>(b)));
}

// Nearest-neighbour source index of the reference CLI's prescale (image.cc prescale_nearest):
// floor(double(x) * src / size).
HM_HD int prescale_index(int x, int src, int size) {
  return static_cast<int>(ddiv(dmul(static_cast<double>(x), static_cast<double>(src)),
                               static_cast<double>(size)));
}

// Decimation source index (pdq.h decimation_index): (int)(((i + 0.5) * n) / 64) in double.
HM_HD int decimation_index(int i, int n) {
  return static_cast<int>(ddiv(dmul(i + 0.5, static_cast<double>(n)), static_cast<double>(kN)));
}

// Luminance of effective pixel (row, col).
HM_HD float pixel_luma(const ImageDesc& d, int row, int col) {
  int y = row, x = col;
  if (d.prescaled) {
    y = prescale_index(row, d.src_h, d.rows);
    x = prescale_index(col, d.src_w, d.cols);
  }
  switch (d.format) {
    case kDescGrey:
      return static_cast<float>(d.plane[0][static_cast<std::size_t>(y) * d.pitch[0] + x]);
    case kDescGreyStep3:
      return static_cast<float>(d.plane[0][static_cast<std::size_t>(y) * d.pitch[0] + 3 * x]);
    case kDescRgb: {
      const uint8_t* p = d.plane[0] + static_cast<std::size_t>(y) * d.pitch[0] + 3 * x;
      return luma_rgb(p[0], p[1], p[2]);
    }
    default: {
      FrameView f;
      f.format = d.format == kDescNv12 ? PixelFormat::kNv12 : PixelFormat::kI420;
      f.width = d.src_w;
      f.height = d.src_h;
      for (int k = 0; k < 3; ++k) {
        f.planes[k] = d.plane[k];
        f.pitches[k] = d.pitch[k];
      }
      f.matrix = static_cast<YuvMatrix>(d.matrix);
      const Rgb8 p = yuv420_pixel(f, x, y);
      return luma_rgb(p.r, p.g, p.b);
    }
  }
}

// ---- the box filter as a sequence of steps ------------------------------------------------------
// The reference's box1DFloat (pdq.cc box_1d) over a line of `length` samples is the sequence of
// steps t = 0 .. length + half - 2; step t adds in[t] (when t < length) and subtracts in[t - window]
// (when t >= window), and from t = half - 1 on emits out[t - half + 1] = sum / count. Phases:
//   t <  half-1          sum += in[t]; ++count                     (no output)
//   t <  window          sum += in[t]; ++count;  out = sum / count
//   t <  length          sum += in[t]; sum -= in[t-window]; out = sum / count
//   t <  length+half-1   sum -= in[t-window]; --count; out = sum / count
struct Box {
  int length, window, half;
};
HM_HD Box make_box(int length) {
  Box b;
  b.length = length;
  b.window = (length + 2 * kN - 1) / (2 * kN);  // jarosz_window: ceil(length / 128)
  b.half = (b.window + 2) / 2;
  return b;
}
HM_HD int box_steps(const Box& b) { return b.length + b.half - 1; }

// One step. in_r is in[t] (read only when t < length), in_l is in[t - window] (read only when
// t >= window). Returns the output index (t - half + 1) with the value in *out, or -1.
HM_HD int box_step(const Box& b, int t, float in_r, float in_l, float* sum, int* count, float* out) {
  if (t < b.half - 1) {
    *sum = fadd(*sum, in_r);
    ++*count;
    return -1;
  }
  if (t < b.window) {
    *sum = fadd(*sum, in_r);
    ++*count;
  } else if (t < b.length) {
    *sum = fadd(*sum, in_r);
    *sum = fsub(*sum, in_l);
  } else {
    *sum = fsub(*sum, in_l);
    --*count;
  }
  *out = fdiv(*sum, static_cast<float>(*count));
  return t - b.half + 1;
}

// A whole line with a stride (one thread per column in the column passes): the same operation
// sequence as box_step over t = 0 .. box_steps - 1, written as the reference's four phase loops so
// the long middle loop has no branches. `emit(oi, value)` is called for every output in order.
template <typename Emit>
HM_HD void box_line(const float* in, std::size_t stride, const Box& b, Emit&& emit) {
  float sum = 0.0f;
  int count = 0;
  const int p1 = b.half - 1;
  int t = 0;
  for (; t < p1; ++t) {
    sum = fadd(sum, in[static_cast<std::size_t>(t) * stride]);
    ++count;
  }
  for (; t < b.window; ++t) {
    sum = fadd(sum, in[static_cast<std::size_t>(t) * stride]);
    ++count;
    emit(t - p1, fdiv(sum, static_cast<float>(count)));
  }
  const float c = static_cast<float>(count);
#if defined(__CUDA_ARCH__)
#pragma unroll 4
#endif
  for (; t < b.length; ++t) {
    sum = fadd(sum, in[static_cast<std::size_t>(t) * stride]);
    sum = fsub(sum, in[static_cast<std::size_t>(t - b.window) * stride]);
    emit(t - p1, fdiv(sum, c));
  }
  for (; t < b.length + p1; ++t) {
    sum = fsub(sum, in[static_cast<std::size_t>(t - b.window) * stride]);
    --count;
    emit(t - p1, fdiv(sum, static_cast<float>(count)));
  }
}

// Walks the decimation indices of a line of n samples: every output index oi that is a sampled
// position is passed with each of the 64 slots that sample it (n < 64 repeats indices).
struct Sampler {
  int next;  // next slot 0..64
  int at;    // its source index
};
HM_HD Sampler make_sampler(int n) { return Sampler{0, decimation_index(0, n)}; }
template <typename Store>
HM_HD void sample(Sampler* s, int n, int oi, float v, Store&& store) {
  while (s->next < kN && s->at == oi) {
    store(s->next, v);
    ++s->next;
    if (s->next < kN) s->at = decimation_index(s->next, n);
  }
}

// ---- row passes: one warp = 32 rows, a lane owns one row -----------------------------------------
// The warp walks the steps in chunks of 32: it loads the R tile (in[t] for the chunk's 32 steps of its
// 32 rows) and the L tile (in[t - window]) coalesced, one row per load instruction, then every lane
// runs its 32 steps from shared memory. Tile layout: tile[row_in_warp * kTilePitch + k].
// Column read into tile slot k of chunk c0: R: c0 + k; L: c0 + k - window (valid when inside the row).
HM_HD bool tile_col_r(const Box& b, int c0, int k, int* col) {
  *col = c0 + k;
  return *col < b.length;
}
HM_HD bool tile_col_l(const Box& b, int c0, int k, int* col) {
  *col = c0 + k - b.window;
  return *col >= 0 && *col < b.length;
}

// A lane's 32 steps of chunk c0 over its row of the tiles. Writes each output back into its R-tile
// slot (the slot has been read by then), so the R tile becomes the output tile of outputs
// c0 - half + 1 + k. `emit(oi, v)` is called too (for the decimating pass).
template <typename Emit>
HM_HD void row_chunk(const Box& b, int c0, float* tile_r_row, const float* tile_l_row, float* sum,
                     int* count, Emit&& emit) {
  const int n = box_steps(b);
  for (int k = 0; k < kTileCols; ++k) {
    const int t = c0 + k;
    if (t >= n) break;
    float v;
    const int oi = box_step(b, t, tile_r_row[k], tile_l_row[k], sum, count, &v);
    if (oi >= 0) {
      tile_r_row[k] = v;
      emit(oi, v);
    }
  }
}

// Output index held in R-tile slot k after row_chunk, or -1 when that slot holds no output.
HM_HD int tile_out_index(const Box& b, int c0, int k) {
  const int t = c0 + k;
  if (t >= box_steps(b) || t < b.half - 1) return -1;
  return t - b.half + 1;
}

// ---- final stage --------------------------------------------------------------------------------
// Quality term of one adjacent pair (pdq.cc quality_64x64): |(int)(((u - v) * 100) / 255)|.
HM_HD int quality_term(float u, float v) {
  const int d = static_cast<int>(fdiv(fmul(fsub(u, v), 100.0f), 255.0f));
  return d < 0 ? -d : d;
}
// Pair p of the 2 * 63 * 64 pairs: p < 4032 vertical (i, j)-(i+1, j), else horizontal.
HM_HD int quality_pair(const float* a64, int p) {
  if (p < (kN - 1) * kN) {
    const int i = p / kN, j = p % kN;
    return quality_term(a64[i * kN + j], a64[(i + 1) * kN + j]);
  }
  p -= (kN - 1) * kN;
  const int i = p / (kN - 1), j = p % (kN - 1);
  return quality_term(a64[i * kN + j], a64[i * kN + j + 1]);
}
HM_HD int quality_from_sum(int gradient_sum) {
  const int q = gradient_sum / 90;
  return q < 100 ? q : 100;
}

// Dot products of the DCT, k = 0..63 in order: T[i][j] = sum_k D[i][k] A[k][j] (a_pitch, d_pitch
// in floats), B[i][j] = sum_k T[i][k] D[j][k].
HM_HD float dct_t(const float* d, int d_pitch, const float* a, int a_pitch, int i, int j) {
  float s = 0.0f;
  for (int k = 0; k < kN; ++k) s = fadd(s, fmul(d[i * d_pitch + k], a[k * a_pitch + j]));
  return s;
}
HM_HD float dct_b(const float* t, int t_pitch, const float* d, int d_pitch, int i, int j) {
  float s = 0.0f;
  for (int k = 0; k < kN; ++k) s = fadd(s, fmul(t[i * t_pitch + k], d[j * d_pitch + k]));
  return s;
}

// Dihedral variant v (Dihedral order) at destination (a, b) of B' takes sign * B[src]. The medians:
// a variant's multiset of values is B's with some signs flipped (the transposes don't change it), so
// only 4 sign patterns exist: 0 none (original, flipPlus1), 1 flip where j is even (rot90, flipY),
// 2 flip where i is even (rot270, flipX), 3 flip where i + j is odd (rot180, flipMinus1).
struct DihedralSource {
  int src;    // 16 * i + j of B
  bool neg;   // negate
};
HM_HD DihedralSource dihedral_source(int v, int dst) {
  const int a = dst / kD, b = dst % kD;
  const int same = dst, transposed = b * kD + a;
  switch (v) {
    case 1: return {transposed, (a & 1) == 0};        // rot90:  B'[a][b] = +-B[b][a], + iff a odd
    case 2: return {same, ((a + b) & 1) != 0};        // rot180: - iff a + b odd
    case 3: return {transposed, (b & 1) == 0};        // rot270: + iff b odd
    case 4: return {same, (a & 1) == 0};              // flipX:  + iff a odd
    case 5: return {same, (b & 1) == 0};              // flipY:  + iff b odd
    case 6: return {transposed, false};               // flipPlus1: transpose
    case 7: return {transposed, ((a + b) & 1) != 0};  // flipMinus1: - iff a + b odd
    default: return {same, false};                    // original
  }
}
HM_HD int dihedral_pattern(int v) {
  switch (v) {
    case 1: case 5: return 1;
    case 3: case 4: return 2;
    case 2: case 7: return 3;
    default: return 0;
  }
}
// Value of B[k] (k = 16 i + j) under sign pattern p.
HM_HD float pattern_value(int p, int k, float x) {
  const int i = k / kD, j = k % kD;
  bool neg = false;
  if (p == 1) neg = (j & 1) == 0;
  if (p == 2) neg = (i & 1) == 0;
  if (p == 3) neg = ((i + j) & 1) != 0;
  return neg ? -x : x;
}
// True when `mine` is the lower median (the 128th smallest, 0-based 127) of the 256 values.
HM_HD bool is_lower_median(float mine, const float* values) {
  int less = 0, leq = 0;
  for (int k = 0; k < kD * kD; ++k) {
    less += values[k] < mine;
    leq += values[k] <= mine;
  }
  return less <= 127 && leq > 127;
}

}  // namespace hashmatch::pdq::steps
