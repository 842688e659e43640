// Multi-index hashing (Norouzi et al.) for exact PDQ range search on the CPU.
//
// The 256 bits are split into kTables = 16 substrings of 16 bits (substring j = bits 16j..16j+15).
// If d(q, x) <= t then some substring differs in at most r = floor(t / 16) bits (pigeonhole), so
// probing, in every table, each bucket within r bits of the query's substring finds every match;
// candidates are verified exactly. A match found in table j is reported only when no earlier table
// i < j also has substring distance <= r (there it was found too): no duplicates without a set.
//
// Tables are direct-addressed (65,536 buckets, CSR: offsets + entry ids), 64 bytes per entry for
// the 16 tables plus 4 MiB of offsets.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "host/common/hash256.h"
#include "host/match/cpu_scan.h"
#include "host/match/matcher.h"

namespace hashmatch::match_detail {

class TaskPool;

class MihIndex {
 public:
  static constexpr int kTables = 16;
  static constexpr int kSubBits = 16;
  static constexpr std::size_t kBuckets = std::size_t{1} << kSubBits;

  MihIndex() = default;
  // Builds the tables over `list` (which must outlive the index); tables built in parallel.
  MihIndex(const SplitList& list, TaskPool& pool);

  bool empty() const { return ids_.empty(); }

  // Probe radius per table for threshold t.
  static int radius(int t) { return t / kTables; }
  // Number of keys probed per table at radius r: sum_{k <= r} C(16, k).
  static std::size_t probes_per_table(int r);

  // Appends the matches of queries[0, nq) (reported as q_offset + local index) within t, using the
  // tables [table_begin, table_end) only (every table is needed for the complete answer; callers
  // split the tables across tasks).
  void search(const Hash256* queries, std::size_t nq, uint32_t q_offset, int t, int table_begin,
              int table_end, std::vector<PdqHit>& out) const;

  // Expected entries in the bucket of a query drawn like the list entries (sum of squared bucket
  // sizes / N, averaged over the tables): >= N / 65,536, larger for clustered lists.
  double mean_bucket_size() const { return mean_bucket_; }
  std::size_t memory_bytes() const {
    return offsets_.bytes() + ids_.bytes();
  }

  static uint32_t substring(const Hash256& h, int j) {
    return uint32_t(h.w[j >> 2] >> (16 * (j & 3))) & 0xffffu;
  }

 private:
  const SplitList* list_ = nullptr;
  std::size_t n_ = 0;
  HugeArray<uint32_t> offsets_;  // [kTables][kBuckets + 1]
  HugeArray<uint32_t> ids_;      // [kTables][n]: entry ids grouped by bucket
  double mean_bucket_ = 0;
};

}  // namespace hashmatch::match_detail
