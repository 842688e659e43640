#include "host/match/mih_index.h"

#include <algorithm>
#include <array>
#include <bit>
#include <mutex>

#include "host/match/task_pool.h"

namespace hashmatch::match_detail {
namespace {

// All 16-bit masks ordered by popcount; kUpTo[r] = how many have popcount <= r.
struct ProbeMasks {
  std::array<uint16_t, 65536> masks{};
  std::array<uint32_t, 18> up_to{};
  ProbeMasks() {
    std::size_t k = 0;
    for (int pc = 0; pc <= 16; ++pc) {
      for (uint32_t m = 0; m < 65536; ++m) {
        if (std::popcount(m) == pc) masks[k++] = uint16_t(m);
      }
      up_to[pc] = uint32_t(k);
    }
  }
};
const ProbeMasks& probe_masks() {
  static const ProbeMasks m;
  return m;
}

}  // namespace

std::size_t MihIndex::probes_per_table(int r) {
  r = std::clamp(r, 0, 16);
  return probe_masks().up_to[r];
}

MihIndex::MihIndex(const SplitList& list, TaskPool& pool)
    : list_(&list), n_(list.size()), offsets_(kTables * (kBuckets + 1)), ids_(kTables * n_) {
  std::array<double, kTables> sq{};
  pool.parallel_for(kTables, [&](std::size_t j) {
    uint32_t* off = offsets_.data() + j * (kBuckets + 1);
    uint32_t* ids = ids_.data() + j * n_;
    // Substring j is in word j / 4: the lo half for j < 8, the hi half otherwise.
    const HalfHash* half = (j < 8) ? list.lo() : list.hi();
    const int shift = 16 * (int(j) & 3);
    auto sub = [&](std::size_t i) {
      return uint32_t(half[i].w[(j >> 2) & 1] >> shift) & 0xffffu;
    };
    std::vector<uint32_t> count(kBuckets + 1, 0);
    for (std::size_t i = 0; i < n_; ++i) ++count[sub(i) + 1];
    double s = 0;
    for (std::size_t b = 1; b <= kBuckets; ++b) s += double(count[b]) * double(count[b]);
    sq[j] = s;
    for (std::size_t b = 0; b < kBuckets; ++b) count[b + 1] += count[b];
    std::copy(count.begin(), count.end(), off);
    for (std::size_t i = 0; i < n_; ++i) ids[count[sub(i)]++] = uint32_t(i);
  });
  double total = 0;
  for (double s : sq) total += s;
  mean_bucket_ = n_ ? total / double(kTables) / double(n_) : 0.0;
}

// Cloned for POPCNT and baseline x86-64 (chosen at load time through an ifunc).
#if defined(__x86_64__)
__attribute__((target_clones("popcnt", "default")))
#endif
void MihIndex::search(const Hash256* queries, std::size_t nq, uint32_t q_offset, int t,
                      int table_begin, int table_end, std::vector<PdqHit>& out) const {
  if (n_ == 0) return;
  const ProbeMasks& pm = probe_masks();
  const int r = radius(t);
  const uint32_t nprobe = pm.up_to[std::clamp(r, 0, 16)];
  const HalfHash* lo = list_->lo();
  const HalfHash* hi = list_->hi();
  // Per query, three passes so that the random memory accesses overlap instead of queueing one
  // behind the other: (1) bucket offsets of every probed key (prefetched), (2) the non-empty
  // buckets' id runs (prefetched) gathered into one candidate array, (3) the candidates verified
  // against the list, prefetching a fixed distance ahead.
  struct Run {
    uint32_t begin, end;  // in ids of table `table`
    int table;
  };
  std::vector<Run> runs;
  std::vector<uint32_t> cand;
  std::vector<uint32_t> cand_table_end;  // cand index where each table's candidates end
  for (std::size_t q = 0; q < nq; ++q) {
    const Hash256& qh = queries[q];
    const uint32_t qi = q_offset + uint32_t(q);
    for (int j = table_begin; j < table_end; ++j) {
      const uint32_t* off = offsets_.data() + std::size_t(j) * (kBuckets + 1);
      const uint32_t qs = substring(qh, j);
      for (uint32_t p = 0; p < nprobe; ++p) __builtin_prefetch(off + (qs ^ pm.masks[p]));
    }
    runs.clear();
    for (int j = table_begin; j < table_end; ++j) {
      const uint32_t* off = offsets_.data() + std::size_t(j) * (kBuckets + 1);
      const uint32_t* ids = ids_.data() + std::size_t(j) * n_;
      const uint32_t qs = substring(qh, j);
      for (uint32_t p = 0; p < nprobe; ++p) {
        const uint32_t key = qs ^ pm.masks[p];
        const uint32_t b = off[key], e = off[key + 1];
        if (b < e) {
          __builtin_prefetch(ids + b);
          runs.push_back({b, e, j});
        }
      }
    }
    cand.clear();
    cand_table_end.assign(kTables, 0);
    for (const Run& r : runs) {
      const uint32_t* ids = ids_.data() + std::size_t(r.table) * n_;
      cand.insert(cand.end(), ids + r.begin, ids + r.end);
      cand_table_end[r.table] = uint32_t(cand.size());
    }
    constexpr std::size_t kAhead = 16;
    const std::size_t nc = cand.size();
    for (std::size_t k = 0; k < std::min(kAhead, nc); ++k) __builtin_prefetch(lo + cand[k]);
    int j = table_begin;
    for (std::size_t k = 0; k < nc; ++k) {
      while (k >= cand_table_end[j]) ++j;  // tables appear in order in `cand`
      if (k + kAhead < nc) __builtin_prefetch(lo + cand[k + kAhead]);
      const uint32_t id = cand[k];
      const int d_lo = std::popcount(lo[id].w[0] ^ qh.w[0]) + std::popcount(lo[id].w[1] ^ qh.w[1]);
      if (d_lo > t) continue;
      const int d =
          d_lo + std::popcount(hi[id].w[0] ^ qh.w[2]) + std::popcount(hi[id].w[1] ^ qh.w[3]);
      if (d > t) continue;
      // Reported by the first table whose substring is within r (every table probes all keys
      // within r, so that table found it too).
      const Hash256 e = list_->get(id);
      bool earlier = false;
      for (int i = 0; i < j && !earlier; ++i) {
        earlier = std::popcount(substring(e, i) ^ substring(qh, i)) <= r;
      }
      if (!earlier) out.push_back(PdqHit{qi, id, d});
    }
  }
}

}  // namespace hashmatch::match_detail
