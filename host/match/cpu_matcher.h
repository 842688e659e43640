// The CPU PDQ matcher: brute force (SIMD popcount, all cores) and multi-index hashing, chosen per
// call by a cost estimate for the call's threshold and batch size. Both are exact; the choice
// changes speed only. Exposed here for the tests and benchmarks; everyone else goes through
// make_pdq_matcher().
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "host/match/cpu_scan.h"
#include "host/match/matcher.h"
#include "host/match/mih_index.h"
#include "host/match/task_pool.h"

namespace hashmatch {

class CpuPdqMatcher final : public PdqMatcher {
 public:
  CpuPdqMatcher(std::vector<Hash256> hashes, const MatcherOptions& opts);
  ~CpuPdqMatcher() override;

  void range_search(std::span<const Hash256> queries, int threshold,
                    std::vector<PdqHit>& out) const override;
  std::size_t size() const override { return list_.size(); }
  std::string backend() const override;
  std::string detail() const override;
  std::size_t memory_bytes() const override;

  bool has_mih() const { return !mih_.empty(); }
  // The index a call with this threshold and batch size would use (kBrute or kMih).
  CpuIndex index_for(int threshold, std::size_t nq) const;
  match_detail::SimdLevel simd() const { return simd_; }
  int threads() const { return pool_->threads(); }

 private:
  double brute_cost_ns(int threshold, std::size_t nq) const;
  double mih_cost_ns(int threshold, std::size_t nq) const;
  void search_brute(std::span<const Hash256> queries, int t, std::vector<PdqHit>& out) const;
  void search_mih(std::span<const Hash256> queries, int t, std::vector<PdqHit>& out) const;

  MatcherOptions opts_;
  match_detail::SplitList list_;
  match_detail::SimdLevel simd_;
  match_detail::ScanFn scan_;
  std::unique_ptr<match_detail::TaskPool> pool_;
  match_detail::MihIndex mih_;
};

}  // namespace hashmatch
