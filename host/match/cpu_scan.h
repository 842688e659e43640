// Brute-force Hamming range scan kernels for the CPU matcher, one per instruction set, chosen at
// run time (__builtin_cpu_supports): the build itself stays baseline x86-64 (never -march=native).
//
// The list is stored split in halves (structure of arrays): lo[i] holds words 0-1 of entry i,
// hi[i] words 2-3. For thresholds up to kHalfRejectMaxThreshold the scan rejects on the first 128
// bits (d >= d_lo) and reads only the lo array: half the memory traffic, half the popcounts; the
// rare pair that passes is finished from hi.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "host/common/hash256.h"
#include "host/match/huge_array.h"
#include "host/match/matcher.h"

namespace hashmatch::match_detail {

struct alignas(16) HalfHash {
  uint64_t w[2];
};
static_assert(sizeof(HalfHash) == 16);

class SplitList {
 public:
  SplitList() = default;
  explicit SplitList(const std::vector<Hash256>& hashes);
  std::size_t size() const { return lo_.size(); }
  const HalfHash* lo() const { return lo_.data(); }
  const HalfHash* hi() const { return hi_.data(); }
  Hash256 get(std::size_t i) const {
    Hash256 h;
    h.w = {lo_[i].w[0], lo_[i].w[1], hi_[i].w[0], hi_[i].w[1]};
    return h;
  }
  std::size_t memory_bytes() const { return lo_.bytes() + hi_.bytes(); }

 private:
  HugeArray<HalfHash> lo_, hi_;
};

// Exact distance between a query and entry i of the split list.
inline int split_distance(const HalfHash* lo, const HalfHash* hi, std::size_t i, const Hash256& q) {
  return std::popcount(lo[i].w[0] ^ q.w[0]) + std::popcount(lo[i].w[1] ^ q.w[1]) +
         std::popcount(hi[i].w[0] ^ q.w[2]) + std::popcount(hi[i].w[1] ^ q.w[3]);
}

constexpr int kHalfRejectMaxThreshold = 48;

enum class SimdLevel { kGeneric, kPopcnt, kAvx2, kAvx512 };

// The best level this CPU supports.
SimdLevel best_simd_level();
bool simd_supported(SimdLevel level);
const char* simd_name(SimdLevel level);  // "generic", "popcnt", "avx2", "avx512"

// Appends to `out` every (query, entry) pair with hamming_distance <= threshold, for entries
// [begin, end) of the split list (lo, hi) and queries[0, nq). Query indices are reported as
// q_offset + local index. Cache-blocked: a block of entries is compared with every query before
// the next block, so a list larger than the caches is read from memory once per call.
using ScanFn = void (*)(const HalfHash* lo, const HalfHash* hi, std::size_t begin,
                        std::size_t end, const Hash256* queries, std::size_t nq,
                        uint32_t q_offset, int threshold, std::vector<PdqHit>& out);
ScanFn scan_function(SimdLevel level);

}  // namespace hashmatch::match_detail
