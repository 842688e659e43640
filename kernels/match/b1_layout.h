// Data layout and per-lane fragment logic of the b1 tensor-core range-search kernel, shared by the
// CUDA kernel (range_search.cu) and its CPU emulation (tests/match/test_b1_emulation.cc). Host-safe
// and device-safe: no CUDA header, plain integer code, HM_HD on every function.
//
// The instruction: mma.sync.aligned.m16n8k256.row.col.s32.b1.b1.s32.and.popc
//   D[16 x 8] = C + popc(A[16 x 256] AND B[256 x 8]); A rows = queries, B columns = list entries.
// Fragments (PTX ISA, "Matrix Fragments for mma.m16n8k256"; g = lane >> 2, tig = lane & 3):
//   A: a0 row g,   k = tig*32 .. +31          a1 row g+8, k = tig*32 .. +31
//      a2 row g,   k = 128 + tig*32 .. +31    a3 row g+8, k = 128 + tig*32 .. +31
//      (the ISA text prints "(threadID_in_group * 32) + i for ai where i < 64"; only i & 0x1F
//      partitions the 16 x 256 matrix over the 32 lanes, as in the m16n8k128 table.)
//   B: b0 k = tig*32 .. +31, b1 k = 128 + tig*32 .. +31; column g
//   C/D: c0, c1 row g, c2, c3 row g+8; column tig*2 + (i & 1)
// A hash as eight 32-bit words u[0..7] (u[j] = bits 32j..32j+31, little-endian halves of the
// Hash256 64-bit words) puts k-chunk j at word j: a lane needs words tig and tig + 4 of its rows.
//
// Hamming distance from AND-popcount: d = pa + pb - 2c (pa, pb popcounts, c = popc(a & b)).
// d <= t  <=>  c >= ceil((pa + pb - t) / 2). The accumulator starts at
// start = -ceil((pa + pb - t) / 2), so a match is exactly D >= 0 (a sign test). The start needs
// pb constant per tile: the list is sorted by popcount, each popcount bucket padded to whole
// groups of 16 entries (two n8 tiles), and every group carries its popcount.
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#define HM_HD __host__ __device__ __forceinline__
#else
#define HM_HD inline
#endif

namespace hashmatch::b1 {

constexpr int kGroupEntries = 16;          // entries per group: two m16n8k256 B tiles
constexpr int kGroupWords = 128;           // uint32 per group in the swizzled layout (16 x 8)
constexpr uint32_t kPadIndex = 0xffffffffu;  // perm value of a padding entry
constexpr int kInvalidRowPopcount = 1024;    // pa of a query row past the batch: never matches

// Swizzled list layout: group G occupies words [G * 128, G * 128 + 128); lane l of the warp loads
// the uint4 at word G * 128 + l * 4 = {b0, b1} of tile 0, {b0, b1} of tile 1 (one coalesced
// 512-byte warp load per group). For entry e (0..15) of the group, word w (0..7):
//   tile = e / 8, column g = e % 8, lane = g * 4 + (w & 3), register = w >> 2.
HM_HD uint32_t swz_offset(uint32_t entry_in_group, uint32_t word) {
  const uint32_t tile = entry_in_group >> 3, g = entry_in_group & 7;
  const uint32_t lane = g * 4 + (word & 3);
  return lane * 4 + tile * 2 + (word >> 2);
}

// Word w of entry e of the swizzled list (the popc kernel reads entries this way).
HM_HD uint32_t swz_entry_word(const uint32_t* swz, uint64_t entry, uint32_t word) {
  return swz[(entry / kGroupEntries) * kGroupWords + swz_offset(uint32_t(entry % kGroupEntries), word)];
}

// A fragment of one m16 tile of queries: rows row0 .. row0 + 15 of `q` ([nq][8] words). Rows past
// nq are zero. Also returns this lane's share of the two row popcounts (words tig and tig + 4;
// the four lanes of a group together cover all eight words).
HM_HD void load_a_fragment(const uint32_t* q, uint32_t nq, uint32_t row0, int lane, uint32_t a[4],
                           int& pc_lo_part, int& pc_hi_part) {
  const uint32_t g = uint32_t(lane) >> 2, tig = uint32_t(lane) & 3;
  const uint32_t r_lo = row0 + g, r_hi = row0 + g + 8;
  a[0] = r_lo < nq ? q[uint64_t(r_lo) * 8 + tig] : 0u;
  a[1] = r_hi < nq ? q[uint64_t(r_hi) * 8 + tig] : 0u;
  a[2] = r_lo < nq ? q[uint64_t(r_lo) * 8 + tig + 4] : 0u;
  a[3] = r_hi < nq ? q[uint64_t(r_hi) * 8 + tig + 4] : 0u;
#if defined(__CUDA_ARCH__)
  pc_lo_part = __popc(a[0]) + __popc(a[2]);
  pc_hi_part = __popc(a[1]) + __popc(a[3]);
#else
  pc_lo_part = __builtin_popcount(a[0]) + __builtin_popcount(a[2]);
  pc_hi_part = __builtin_popcount(a[1]) + __builtin_popcount(a[3]);
#endif
}

// Accumulator start for query popcount pa, group popcount pb, threshold t: -ceil((pa+pb-t)/2).
// (x + 1) >> 1 is ceil(x / 2) for negative x too (arithmetic shift).
HM_HD int start_value(int pa, int pb, int t) { return -((pa + pb - t + 1) >> 1); }

// Element i (0..3) of a lane's C/D fragment: row (0..15) and column (0..7) in the tile.
HM_HD int d_row(int lane, int i) { return (lane >> 2) + (i >= 2 ? 8 : 0); }
HM_HD int d_col(int lane, int i) { return (lane & 3) * 2 + (i & 1); }

// The exact distance recovered from a final accumulator (the MMA is exact integer arithmetic).
HM_HD int distance_from_acc(int acc, int start, int pa, int pb) {
  return pa + pb - 2 * (acc - start);
}

// How a b1mma launch splits the work: warp w takes query tile group w % n_qgroups (16 * MT rows)
// and list chunk w / n_qgroups (groups_per_chunk groups). About 32 warps per SM: the list is cut
// into as many chunks as needed to give every SM work even for one query tile.
struct B1Plan {
  uint32_t n_qgroups = 0;
  uint32_t groups_per_chunk = 0;
  uint64_t n_warps = 0;
};
HM_HD B1Plan plan_b1mma(uint32_t nq, uint32_t groups, int mt, int sm_count) {
  B1Plan p;
  if (nq == 0 || groups == 0) return p;
  p.n_qgroups = (nq + 16u * uint32_t(mt) - 1) / (16u * uint32_t(mt));
  const uint64_t target = uint64_t(sm_count > 1 ? sm_count : 1) * 32;
  uint64_t chunks = (target + p.n_qgroups - 1) / p.n_qgroups;
  if (chunks < 1) chunks = 1;
  if (chunks > groups) chunks = groups;
  p.groups_per_chunk = uint32_t((groups + chunks - 1) / chunks);
  chunks = (groups + p.groups_per_chunk - 1) / p.groups_per_chunk;
  p.n_warps = uint64_t(p.n_qgroups) * chunks;
  return p;
}
// The query tile group and group range [g0, g1) of warp w (g0 >= g1: nothing to do).
HM_HD void warp_work(const B1Plan& p, uint32_t warp, uint32_t group_begin, uint32_t group_end,
                     uint32_t& qg, uint32_t& g0, uint32_t& g1) {
  qg = warp % p.n_qgroups;
  const uint32_t chunk = warp / p.n_qgroups;
  g0 = group_begin + chunk * p.groups_per_chunk;
  g1 = g0 + p.groups_per_chunk < group_end ? g0 + p.groups_per_chunk : group_end;
}

// One hit as the kernels write it: the layout of hashmatch::PdqHit (query, index, distance).
struct DeviceHit {
  uint32_t query;
  uint32_t index;
  int32_t distance;
};

}  // namespace hashmatch::b1
