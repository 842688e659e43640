// PDQ range-search kernels: every (query, entry) pair within the threshold, hits compacted into a
// bounded buffer through one 64-bit atomic counter (the count is exact even past the capacity, so
// the host sees every overflow and reruns; nothing is dropped silently).
#include <algorithm>
#include <cstdint>
#include <cstdlib>

#include "kernels/match/range_search.h"
#include "kernels/rt/cuda_rt.h"

namespace hashmatch::b1 {
namespace {

constexpr int kWarpsPerBlock = 4;
constexpr unsigned kFull = 0xffffffffu;

__device__ __forceinline__ void emit(const RangeLaunch& p, uint32_t q, uint32_t index, int d) {
  const unsigned long long slot = atomicAdd(p.count, 1ull);
  if (slot < p.capacity) {
    DeviceHit h;
    h.query = p.query_offset + q;
    h.index = index;
    h.distance = d;
    p.hits[slot] = h;
  }
}

// D = C + popc(A & B), m16n8k256, A row-major (queries), B column-major (list entries).
__device__ __forceinline__ void mma_and_popc(int (&d)[4], const uint32_t (&a)[4], uint32_t b0,
                                             uint32_t b1, int c_lo, int c_hi) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm("mma.sync.aligned.m16n8k256.row.col.s32.b1.b1.s32.and.popc "
      "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%10, %10, %11, %11};\n"
      : "=r"(d[0]), "=r"(d[1]), "=r"(d[2]), "=r"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1), "r"(c_lo), "r"(c_hi));
#else
  __trap();  // built for sm_80 / sm_90a only
#endif
}

// One warp: MT m16 tiles of queries (16 * MT rows, A fragments held in registers for the whole
// scan) against a contiguous chunk of list groups streamed through L1 (the warps of a block take
// different query tiles of the same chunk). Per group: 2 * MT MMAs whose accumulators start at
// -ceil((pa + pb - t) / 2); the AND of all results has its sign bit clear iff some pair matches,
// so the common case costs two LOP3 per MMA and one vote per group. A group that fires is
// recomputed tile by tile and its non-negative elements are emitted (exact distance from the
// accumulator, padding entries skipped).
// Registers per thread are bounded so that at least kMinBlocks blocks (16 warps) fit on an SM.
template <int MT, int kMinBlocks>
__global__ void __launch_bounds__(kWarpsPerBlock * 32, kMinBlocks)
    b1mma_range_kernel(const RangeLaunch p, const B1Plan plan) {
  // The warp's A fragments and row popcounts, also kept in shared memory: the rare slow path and
  // the popcount-bucket change read them from there with a run-time tile index (no unrolled copy
  // of the slow path per tile, which would cost registers in the hot loop).
  __shared__ uint4 s_a[kWarpsPerBlock][MT][32];
  __shared__ int2 s_pa[kWarpsPerBlock][MT][32];
  const int lane = int(threadIdx.x & 31);
  const int wib = int(threadIdx.x / 32);
  const uint32_t warp = blockIdx.x * kWarpsPerBlock + uint32_t(wib);
  if (warp >= plan.n_warps) return;  // whole warps only
  uint32_t qg, g0, g1;
  warp_work(plan, warp, p.group_begin, p.group_end, qg, g0, g1);
  if (g0 >= g1) return;
  const int t = p.threshold;
  const uint32_t row_base = qg * 16u * MT;

  uint32_t a[MT][4];
#pragma unroll
  for (int m = 0; m < MT; ++m) {
    int lo, hi;
    load_a_fragment(p.queries, p.nq, row_base + 16u * m, lane, a[m], lo, hi);
    // The four lanes of a group (same g, tig = 0..3) hold all eight words of rows g and g + 8.
    lo += __shfl_xor_sync(kFull, lo, 1);
    lo += __shfl_xor_sync(kFull, lo, 2);
    hi += __shfl_xor_sync(kFull, hi, 1);
    hi += __shfl_xor_sync(kFull, hi, 2);
    const uint32_t r = row_base + 16u * m + uint32_t(lane >> 2);
    s_a[wib][m][lane] = make_uint4(a[m][0], a[m][1], a[m][2], a[m][3]);
    s_pa[wib][m][lane] = make_int2(r < p.nq ? lo : kInvalidRowPopcount,
                                   r + 8 < p.nq ? hi : kInvalidRowPopcount);
  }
  __syncwarp();

  int c_lo[MT], c_hi[MT];
  int cur_pb = -1;
  const uint4* swz4 = reinterpret_cast<const uint4*>(p.swz);
  // Two groups in flight ahead of the one computed: with one query tile per warp the kernel is
  // bound by memory bandwidth and needs the loads outstanding.
  uint4 b_next = __ldg(swz4 + std::size_t(g0) * 32 + lane);
  uint4 b_next2 = g0 + 1 < g1 ? __ldg(swz4 + std::size_t(g0 + 1) * 32 + lane) : b_next;
  for (uint32_t grp = g0; grp < g1; ++grp) {
    const uint4 b = b_next;
    b_next = b_next2;
    if (grp + 2 < g1) b_next2 = __ldg(swz4 + std::size_t(grp + 2) * 32 + lane);
    const int pb = __ldg(p.group_pc + grp);  // same for the whole warp
    if (pb != cur_pb) {  // popcount buckets change rarely (sorted list)
      cur_pb = pb;
#pragma unroll
      for (int m = 0; m < MT; ++m) {
        const int2 pa = s_pa[wib][m][lane];
        c_lo[m] = start_value(pa.x, pb, t);
        c_hi[m] = start_value(pa.y, pb, t);
      }
    }
    int flag = -1;
#pragma unroll
    for (int m = 0; m < MT; ++m) {
      int d[4], e[4];
      mma_and_popc(d, a[m], b.x, b.y, c_lo[m], c_hi[m]);
      mma_and_popc(e, a[m], b.z, b.w, c_lo[m], c_hi[m]);
      flag &= d[0] & d[1] & d[2] & d[3];
      flag &= e[0] & e[1] & e[2] & e[3];
    }
    if (__any_sync(kFull, flag >= 0)) {
      // Slow path (rare): recompute tile by tile and emit the non-negative elements.
#pragma unroll 1
      for (int m = 0; m < MT; ++m) {
        const uint4 av = s_a[wib][m][lane];
        const uint32_t am[4] = {av.x, av.y, av.z, av.w};
        const int2 pa = s_pa[wib][m][lane];
        const int start_lo = start_value(pa.x, pb, t), start_hi = start_value(pa.y, pb, t);
#pragma unroll
        for (int tile = 0; tile < 2; ++tile) {
          int d[4];
          mma_and_popc(d, am, tile ? b.z : b.x, tile ? b.w : b.y, start_lo, start_hi);
#pragma unroll
          for (int i = 0; i < 4; ++i) {
            if (d[i] < 0) continue;
            const int row = d_row(lane, i), col = d_col(lane, i);
            const uint32_t q = row_base + 16u * m + uint32_t(row);
            const int pa_i = i < 2 ? pa.x : pa.y;
            const int start = i < 2 ? start_lo : start_hi;
            const uint32_t entry = grp * kGroupEntries + uint32_t(tile * 8 + col);
            const uint32_t index = __ldg(p.perm + entry);
            const int dist = distance_from_acc(d[i], start, pa_i, pb);
            if (q < p.nq && index != kPadIndex && dist <= t) emit(p, q, index, dist);
          }
        }
      }
    }
  }
}

constexpr int kPopcThreads = 256;
constexpr int kPopcQueryChunk = 128;  // queries staged in shared memory at a time (4 KiB)

// One thread per list entry (read from the swizzled layout), queries broadcast from shared memory.
__global__ void __launch_bounds__(kPopcThreads)
    popc_range_kernel(const RangeLaunch p, uint32_t queries_per_slice) {
  __shared__ uint4 sq[kPopcQueryChunk][2];
  const uint64_t first = uint64_t(p.group_begin) * kGroupEntries;
  const uint64_t last = uint64_t(p.group_end) * kGroupEntries;
  const uint64_t e = first + uint64_t(blockIdx.x) * kPopcThreads + threadIdx.x;
  uint32_t u[8];
  uint32_t index = kPadIndex;
  if (e < last) {
    index = __ldg(p.perm + e);
#pragma unroll
    for (uint32_t w = 0; w < 8; ++w) u[w] = __ldg(p.swz + (e / kGroupEntries) * kGroupWords +
                                                  swz_offset(uint32_t(e % kGroupEntries), w));
  }
  const uint32_t q0 = blockIdx.y * queries_per_slice;
  const uint32_t q1 = min(p.nq, q0 + queries_per_slice);
  const int t = p.threshold;
  for (uint32_t qc = q0; qc < q1; qc += kPopcQueryChunk) {
    const uint32_t n = min(uint32_t(kPopcQueryChunk), q1 - qc);
    __syncthreads();
    for (uint32_t k = threadIdx.x; k < n * 2; k += kPopcThreads) {
      sq[k / 2][k % 2] = reinterpret_cast<const uint4*>(p.queries)[std::size_t(qc) * 2 + k];
    }
    __syncthreads();
    if (index == kPadIndex) continue;
    for (uint32_t j = 0; j < n; ++j) {
      const uint4 x = sq[j][0], y = sq[j][1];
      const int d = __popc(u[0] ^ x.x) + __popc(u[1] ^ x.y) + __popc(u[2] ^ x.z) +
                    __popc(u[3] ^ x.w) + __popc(u[4] ^ y.x) + __popc(u[5] ^ y.y) +
                    __popc(u[6] ^ y.z) + __popc(u[7] ^ y.w);
      if (d <= t) emit(p, qc + j, index, d);
    }
  }
}

// Warps per SM the list is split for with large batches: 128 (4 waves of the resident warps: a smaller tail than
// plan_b1mma's 32; +5 % on an H100). HASHMATCH_B1MMA_WARPS_PER_SM overrides it for tuning runs
// (bench_match); read once.
int b1mma_warps_per_sm() {
  static const int v = [] {
    const char* e = std::getenv("HASHMATCH_B1MMA_WARPS_PER_SM");
    const int x = e ? std::atoi(e) : 0;
    return x >= 8 && x <= 4096 ? x : 128;
  }();
  return v;
}

// Query tiles per warp x blocks per SM for large batches (HASHMATCH_B1MMA_VARIANT, read once, for
// tuning runs): 85 = 8 tiles, 5 blocks (default: 96 registers, 4 bytes spilled); 84 = 8 tiles,
// 4 blocks (106 registers: occupancy 25 %, latency-bound by ncu on an H100); 46 / 48 = 4 tiles,
// 6 / 8 blocks (more warps, each B fragment feeding half as many MMAs). H100, 10 M x 8,192,
// t = 31, at 128 warps per SM: 85 8.5e12, 84 8.0e12, 46 7.1e12, 48 7.0e12 comparisons/s.
int b1mma_variant() {
  static const int v = [] {
    const char* e = std::getenv("HASHMATCH_B1MMA_VARIANT");
    const int x = e ? std::atoi(e) : 85;
    return x == 84 || x == 46 || x == 48 ? x : 85;
  }();
  return v;
}

template <int MT, int kMinBlocks = 4>
void launch_b1mma_mt(const RangeLaunch& p, int sm_count, cudaStream_t stream, int warps_per_sm = 32) {
  // plan_b1mma aims at 32 warps per SM: scale the SM count for another density.
  const int plan_sms = std::max(1, int(int64_t(sm_count) * warps_per_sm / 32));
  const B1Plan plan = plan_b1mma(p.nq, p.group_end - p.group_begin, MT, plan_sms);
  if (plan.n_warps == 0) return;
  if (plan.n_warps > 0xffffffffull) throw CudaError("range search launch too large");
  const uint64_t blocks = (plan.n_warps + kWarpsPerBlock - 1) / kWarpsPerBlock;
  b1mma_range_kernel<MT, kMinBlocks>
      <<<dim3(uint32_t(blocks)), dim3(kWarpsPerBlock * 32), 0, stream>>>(p, plan);
  HM_CUDA_CHECK_LAUNCH();
}

}  // namespace

void launch_b1mma_range(const RangeLaunch& p, int sm_count, cudaStream_t stream) {
  if (p.nq == 0 || p.group_end <= p.group_begin) return;
  // Query rows per warp: few queries, small tiles (more warps over the list); large batches,
  // 128 rows per warp so each B fragment read feeds 16 MMAs.
  if (p.nq <= 16) {
    launch_b1mma_mt<1>(p, sm_count, stream);
  } else if (p.nq <= 32) {
    launch_b1mma_mt<2>(p, sm_count, stream);
  } else if (p.nq <= 64) {
    launch_b1mma_mt<4>(p, sm_count, stream);
  } else if (b1mma_variant() == 84) {
    launch_b1mma_mt<8, 4>(p, sm_count, stream, b1mma_warps_per_sm());
  } else if (b1mma_variant() == 46) {
    launch_b1mma_mt<4, 6>(p, sm_count, stream, b1mma_warps_per_sm());
  } else if (b1mma_variant() == 48) {
    launch_b1mma_mt<4, 8>(p, sm_count, stream, b1mma_warps_per_sm());
  } else {
    launch_b1mma_mt<8, 5>(p, sm_count, stream, b1mma_warps_per_sm());
  }
}

void launch_popc_range(const RangeLaunch& p, int sm_count, cudaStream_t stream) {
  if (p.nq == 0 || p.group_end <= p.group_begin) return;
  const uint64_t entries = uint64_t(p.group_end - p.group_begin) * kGroupEntries;
  const uint64_t bx = (entries + kPopcThreads - 1) / kPopcThreads;
  if (bx > 0x7fffffffull) throw CudaError("range search launch too large");
  // Small lists: split the queries over grid.y so that every SM gets blocks.
  const uint64_t want = uint64_t(std::max(sm_count, 1)) * 8;
  const uint32_t max_slices = (p.nq + kPopcQueryChunk - 1) / kPopcQueryChunk;
  const uint32_t slices = uint32_t(std::clamp<uint64_t>((want + bx - 1) / bx, 1,
                                                        std::min<uint32_t>(max_slices, 65535)));
  const uint32_t per_slice = (p.nq + slices - 1) / slices;
  popc_range_kernel<<<dim3(uint32_t(bx), slices), dim3(kPopcThreads), 0, stream>>>(p, per_slice);
  HM_CUDA_CHECK_LAUNCH();
}

}  // namespace hashmatch::b1
