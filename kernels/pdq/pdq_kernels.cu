// Batched GPU PDQ kernels. Compiled with --fmad=false -prec-div=true -prec-sqrt=true -ftz=false
// (kernels/pdq/CMakeLists.txt) and every float operation is explicitly rounded (pdq_steps.h): the
// results are bit-identical to host/pdq/pdq.cc. Parallelism comes from rows, columns, coefficients
// and images, never from reordering a sum.
#include "kernels/pdq/pdq_kernels.h"

#include "kernels/rt/cuda_rt.h"

namespace hashmatch::pdq::detail {
namespace {

using namespace steps;

constexpr int kModeTiny = 0, kModeDirect = 1, kModeFilter = 2;

// The first row pass of a filter image whose box window fits in one tile (width <= 4,032): the
// luminance of every pixel is computed once. The value leaving the window (column t - window) is
// in the current tile or the previous one, so the L tile of the general path (a second luminance
// per pixel) is not needed; the outputs of step k go to slot k of the previous tile, whose slot k
// was last read at step k + window - 32 <= k. Same steps, same float operations, same results.
__device__ void first_row_pass_one_luma(const PipelineArgs& a, const ImageDesc& d, const Box& b,
                                        float* cur, float* prv, int r0, int lane) {
  float* tmp = a.arena + d.tmp_off;
  const int my_row = r0 + lane;
  const bool active = my_row < d.rows;
  const int rows_here = min(kWarp, d.rows - r0);
  for (int k = 0; k < kTileCols; ++k) prv[lane * kTilePitch + k] = 0.0f;  // columns < 0
  float sum = 0.0f;
  int count = 0;
  const int n = box_steps(b);
  const int w = b.window;
  for (int c0 = 0; c0 < n; c0 += kTileCols) {
    int col;
    const bool ok = tile_col_r(b, c0, lane, &col);
    for (int rr = 0; rr < rows_here; ++rr) {
      cur[rr * kTilePitch + lane] = ok ? pixel_luma(d, r0 + rr, col) : 0.0f;
    }
    __syncwarp();
    if (active) {
      const float* my_c = cur + lane * kTilePitch;
      float* my_p = prv + lane * kTilePitch;
      for (int k = 0; k < kTileCols; ++k) {
        const int t = c0 + k;
        if (t >= n) break;
        const int j = k - w;
        const float l = j >= 0 ? my_c[j] : my_p[j + kTileCols];
        float v;
        if (box_step(b, t, my_c[k], l, &sum, &count, &v) >= 0) my_p[k] = v;
      }
    }
    __syncwarp();
    const int oi = tile_out_index(b, c0, lane);
    if (oi >= 0) {
      for (int rr = 0; rr < rows_here; ++rr) {
        tmp[static_cast<std::size_t>(r0 + rr) * d.cols + oi] = prv[rr * kTilePitch + lane];
      }
    }
    __syncwarp();
    float* x = cur;  // this chunk's luminance is the next chunk's previous tile
    cur = prv;
    prv = x;
  }
}

// Row passes. kFirst: luminance from the pixels -> tmp (all outputs) or a64 (direct images).
// !kFirst: buf -> nar (the 64 decimated columns of every row).
template <bool kFirst>
__global__ void __launch_bounds__(kRowWarps * kWarp) row_pass_kernel(PipelineArgs a) {
  __shared__ float tiles[kRowWarps][2][kWarp * kTilePitch];
  const int g = blockIdx.x;
  const int img = find_owner(a.group_prefix, a.n, static_cast<int32_t>(g));
  const ImageDesc d = a.descs[img];
  const int warp = threadIdx.x / kWarp, lane = threadIdx.x % kWarp;
  const int r0 = (g - a.group_prefix[img]) * (kRowWarps * kWarp) + warp * kWarp;
  if (d.mode == kModeTiny || r0 >= d.rows) return;  // whole warps leave together
  if (!kFirst && d.mode != kModeFilter) return;
  if (kFirst && d.mode == kModeDirect) {
    float* a64 = a.arena + d.a64_off;
    for (int rr = 0; rr < kWarp && r0 + rr < d.rows; ++rr) {
      for (int c = lane; c < kN; c += kWarp) a64[(r0 + rr) * kN + c] = pixel_luma(d, r0 + rr, c);
    }
    return;
  }
  const Box b = make_box(d.cols);
  if (kFirst && b.window <= kTileCols) {
    first_row_pass_one_luma(a, d, b, tiles[warp][0], tiles[warp][1], r0, lane);
    return;
  }
  float* tr = tiles[warp][0];
  float* tl = tiles[warp][1];
  const float* src = a.arena + d.buf_off;  // !kFirst
  float* tmp = a.arena + d.tmp_off;        // kFirst
  float* nar = a.arena + d.nar_off;        // !kFirst
  const int my_row = r0 + lane;
  const bool active = my_row < d.rows;
  const int rows_here = min(kWarp, d.rows - r0);
  float sum = 0.0f;
  int count = 0;
  Sampler s = make_sampler(d.cols);
  const int n = box_steps(b);
  for (int c0 = 0; c0 < n; c0 += kTileCols) {
    // Coalesced tile loads: one row of the warp per iteration, lane = column.
    int col_r, col_l;
    const bool ok_r = tile_col_r(b, c0, lane, &col_r);
    const bool ok_l = tile_col_l(b, c0, lane, &col_l);
    for (int rr = 0; rr < rows_here; ++rr) {
      const int row = r0 + rr;
      float vr = 0.0f, vl = 0.0f;
      if (kFirst) {
        if (ok_r) vr = pixel_luma(d, row, col_r);
        if (ok_l) vl = pixel_luma(d, row, col_l);
      } else {
        const float* line = src + static_cast<std::size_t>(row) * d.cols;
        if (ok_r) vr = line[col_r];
        if (ok_l) vl = line[col_l];
      }
      tr[rr * kTilePitch + lane] = vr;
      tl[rr * kTilePitch + lane] = vl;
    }
    __syncwarp();
    if (active) {
      float* my_r = tr + lane * kTilePitch;
      const float* my_l = tl + lane * kTilePitch;
      if (kFirst) {
        row_chunk(b, c0, my_r, my_l, &sum, &count, [](int, float) {});
      } else {
        float* out = nar + static_cast<std::size_t>(my_row) * kN;
        row_chunk(b, c0, my_r, my_l, &sum, &count, [&](int oi, float v) {
          sample(&s, d.cols, oi, v, [&](int slot, float x) { out[slot] = x; });
        });
      }
    }
    __syncwarp();
    if (kFirst) {
      // The R tile now holds outputs c0 - half + 1 + lane: store them coalesced.
      const int oi = tile_out_index(b, c0, lane);
      if (oi >= 0) {
        for (int rr = 0; rr < rows_here; ++rr) {
          tmp[static_cast<std::size_t>(r0 + rr) * d.cols + oi] = tr[rr * kTilePitch + lane];
        }
      }
      __syncwarp();
    }
  }
}

// Column pass 1: one thread per column of every filter image, tmp -> buf.
__global__ void __launch_bounds__(128) column_pass_kernel(PipelineArgs a) {
  const int64_t gid = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (gid >= a.columns) return;
  const int img = find_owner(a.col_prefix, a.n, gid);
  const ImageDesc d = a.descs[img];
  const int j = static_cast<int>(gid - a.col_prefix[img]);
  const float* in = a.arena + d.tmp_off + j;
  float* out = a.arena + d.buf_off + j;
  const std::size_t stride = static_cast<std::size_t>(d.cols);
  box_line(in, stride, make_box(d.rows), [&](int oi, float v) { out[oi * stride] = v; });
}

// Final stage: one block per image.
__global__ void __launch_bounds__(kFinalThreads) final_kernel(PipelineArgs a) {
  constexpr int kP = kN + 1;  // padded rows of D and T: conflict-free column access
  __shared__ float s_a[kN * kN];
  __shared__ float s_d[kD * kP];
  __shared__ float s_t[kD * kP];
  __shared__ float s_b[kD * kD];
  __shared__ float s_p[4][kD * kD];
  __shared__ float s_med[4];
  __shared__ int s_q;
  const int img = blockIdx.x;
  const int tid = threadIdx.x, lane = tid % kWarp, warp = tid / kWarp;
  const ImageDesc d = a.descs[img];
  uint32_t* out = a.out_words + static_cast<std::size_t>(img) * kWordsPerImage;
  if (d.mode == kModeTiny) {
    if (tid < kWordsPerImage) out[tid] = 0u;
    if (tid == 0) a.out_quality[img] = 0;
    return;
  }
  for (int k = tid; k < kD * kN; k += kFinalThreads) s_d[(k / kN) * kP + k % kN] = a.dct[k];
  if (d.mode == kModeDirect) {
    const float* a64 = a.arena + d.a64_off;
    for (int k = tid; k < kN * kN; k += kFinalThreads) s_a[k] = a64[k];
  } else if (tid < kN) {
    // Column pass 2 over decimated column `tid` of nar, keeping the 64 decimated rows.
    const float* in = a.arena + d.nar_off + tid;
    Sampler s = make_sampler(d.rows);
    box_line(in, kN, make_box(d.rows), [&](int oi, float v) {
      sample(&s, d.rows, oi, v, [&](int slot, float x) { s_a[slot * kN + tid] = x; });
    });
  }
  if (tid == 0) s_q = 0;
  __syncthreads();

  // Quality: integer sum of the 8064 pair terms (order-free).
  int q = 0;
  for (int p = tid; p < 2 * (kN - 1) * kN; p += kFinalThreads) q += quality_pair(s_a, p);
  for (int off = kWarp / 2; off > 0; off /= 2) q += __shfl_down_sync(0xffffffffu, q, off);
  if (lane == 0) atomicAdd(&s_q, q);

  // T = D A (16 x 64): 4 outputs per thread, each a sequential k = 0..63 sum.
  for (int e = tid; e < kD * kN; e += kFinalThreads) {
    const int i = e / kN, j = e % kN;
    s_t[i * kP + j] = dct_t(s_d, kP, s_a, kN, i, j);
  }
  __syncthreads();
  // B = T D^T (16 x 16): one output per thread.
  const float x = dct_b(s_t, kP, s_d, kP, tid / kD, tid % kD);
  s_b[tid] = x;
  const int patterns = a.dihedral ? 4 : 1;
  for (int p = 0; p < patterns; ++p) s_p[p][tid] = pattern_value(p, tid, x);
  __syncthreads();
  // Lower medians by rank counting (every thread tests its own value; tied winners write equal
  // values).
  for (int p = 0; p < patterns; ++p) {
    const float mine = s_p[p][tid];
    if (is_lower_median(mine, s_p[p])) s_med[p] = mine;
  }
  __syncthreads();
  const int variants = a.dihedral ? 8 : 1;
  for (int v = 0; v < 8; ++v) {
    uint32_t word = 0u;
    if (v < variants) {
      const DihedralSource src = dihedral_source(v, tid);
      const float val = src.neg ? -s_b[src.src] : s_b[src.src];
      word = __ballot_sync(0xffffffffu, val > s_med[dihedral_pattern(v)]);
    }
    if (lane == 0) out[v * 8 + warp] = word;
  }
  if (tid == 0) a.out_quality[img] = quality_from_sum(s_q);
}

}  // namespace

void launch_pipeline(const PipelineArgs& a, cudaStream_t stream) {
  if (a.n <= 0) return;
  if (a.row_groups > 0) {
    row_pass_kernel<true><<<a.row_groups, kRowWarps * kWarp, 0, stream>>>(a);
    HM_CUDA_CHECK_LAUNCH();
  }
  if (a.columns > 0) {
    const int64_t blocks = (a.columns + 127) / 128;
    column_pass_kernel<<<static_cast<unsigned>(blocks), 128, 0, stream>>>(a);
    HM_CUDA_CHECK_LAUNCH();
    row_pass_kernel<false><<<a.row_groups, kRowWarps * kWarp, 0, stream>>>(a);
    HM_CUDA_CHECK_LAUNCH();
  }
  final_kernel<<<a.n, kFinalThreads, 0, stream>>>(a);
  HM_CUDA_CHECK_LAUNCH();
}

}  // namespace hashmatch::pdq::detail
