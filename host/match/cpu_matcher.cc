#include "host/match/cpu_matcher.h"

#include <algorithm>
#include <cmath>

#include "host/common/error.h"

namespace hashmatch {
namespace {

using match_detail::MihIndex;
using match_detail::SimdLevel;

// Cost model (thread CPU time, nanoseconds, measured on the 2-core AMD EPYC (Zen 3, AVX2)
// development machine with a 1 M list, see docs/performance.md). Only the ratio matters: it picks
// the faster of two exact methods, so an error here costs speed, never results.
constexpr double kBruteHalfNs = 0.46;  // per comparison, lo-half reject (t <= 48)
constexpr double kBruteFullNs = 0.85;  // per comparison, full 256 bits
constexpr double kProbeNs = 10.0;      // per bucket probed (offset and id-run reads, random)
constexpr double kVerifyNs = 15.0;     // per candidate verified (random access, prefetched)
// Below this many entries the MIH tables are not worth their 64 bytes per entry.
constexpr std::size_t kMihMinEntries = 16384;
// Work below this runs on the calling thread (waking workers costs more than it saves).
constexpr double kInlineNs = 60000.0;

SimdLevel choose_simd(CpuSimd want) {
  using match_detail::simd_supported;
  SimdLevel level = match_detail::best_simd_level();
  switch (want) {
    case CpuSimd::kAuto: return level;
    case CpuSimd::kScalar:
      return simd_supported(SimdLevel::kPopcnt) ? SimdLevel::kPopcnt : SimdLevel::kGeneric;
    case CpuSimd::kAvx2: level = SimdLevel::kAvx2; break;
    case CpuSimd::kAvx512: level = SimdLevel::kAvx512; break;
  }
  if (!simd_supported(level)) {
    throw InvalidArgument(std::string("this CPU does not support the ") +
                          match_detail::simd_name(level) + " scan kernel");
  }
  return level;
}

}  // namespace

CpuPdqMatcher::CpuPdqMatcher(std::vector<Hash256> hashes, const MatcherOptions& opts)
    : opts_(opts),
      list_(hashes),
      simd_(choose_simd(opts.cpu_simd)),
      scan_(match_detail::scan_function(simd_)),
      pool_(std::make_unique<match_detail::TaskPool>(opts.threads)) {
  hashes.clear();
  hashes.shrink_to_fit();
  bool build = false;
  if (opts.cpu_index == CpuIndex::kMih) {
    build = true;
  } else if (opts.cpu_index == CpuIndex::kAuto && list_.size() >= kMihMinEntries) {
    const int t = std::clamp(opts.expected_threshold, 0, 256);
    // Uniform estimate before the tables exist: a bucket holds about N / 65,536 + 1 entries.
    const double bucket = double(list_.size()) / double(MihIndex::kBuckets) + 1.0;
    const double probes = double(MihIndex::kTables * MihIndex::probes_per_table(MihIndex::radius(t)));
    const double mih = probes * (kProbeNs + bucket * kVerifyNs);
    build = mih < brute_cost_ns(t, 1);
  }
  if (build) mih_ = MihIndex(list_, *pool_);
}

CpuPdqMatcher::~CpuPdqMatcher() = default;

double CpuPdqMatcher::brute_cost_ns(int t, std::size_t nq) const {
  const double per = t <= match_detail::kHalfRejectMaxThreshold ? kBruteHalfNs : kBruteFullNs;
  return per * double(list_.size()) * double(nq);
}

double CpuPdqMatcher::mih_cost_ns(int t, std::size_t nq) const {
  const double probes = double(MihIndex::kTables * MihIndex::probes_per_table(MihIndex::radius(t)));
  return double(nq) * probes * (kProbeNs + mih_.mean_bucket_size() * kVerifyNs);
}

CpuIndex CpuPdqMatcher::index_for(int t, std::size_t nq) const {
  if (mih_.empty()) return CpuIndex::kBrute;
  if (opts_.cpu_index == CpuIndex::kMih) return CpuIndex::kMih;
  return mih_cost_ns(t, nq) < brute_cost_ns(t, nq) ? CpuIndex::kMih : CpuIndex::kBrute;
}

std::string CpuPdqMatcher::backend() const {
  return index_for(std::clamp(opts_.expected_threshold, 0, 256), 1) == CpuIndex::kMih ? "cpu-mih"
                                                                                      : "cpu-brute";
}

std::string CpuPdqMatcher::detail() const {
  return backend() + " (" + match_detail::simd_name(simd_) + ", " +
         std::to_string(pool_->threads()) + " threads" + (has_mih() ? ", mih tables" : "") + ")";
}

std::size_t CpuPdqMatcher::memory_bytes() const {
  return list_.memory_bytes() + mih_.memory_bytes();
}

void CpuPdqMatcher::range_search(std::span<const Hash256> queries, int threshold,
                                 std::vector<PdqHit>& out) const {
  if (threshold < 0 || threshold > Hash256::kBits) {
    throw InvalidArgument("PDQ threshold must be in [0, 256], got " + std::to_string(threshold));
  }
  if (queries.size() > std::size_t(UINT32_MAX)) {
    throw InvalidArgument("too many queries in one batch");
  }
  if (queries.empty() || list_.size() == 0) return;
  if (index_for(threshold, queries.size()) == CpuIndex::kMih) {
    search_mih(queries, threshold, out);
  } else {
    search_brute(queries, threshold, out);
  }
}

namespace {
void append_all(std::vector<std::vector<PdqHit>>& parts, std::vector<PdqHit>& out) {
  std::size_t total = out.size();
  for (const auto& p : parts) total += p.size();
  out.reserve(total);
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
}
}  // namespace

void CpuPdqMatcher::search_brute(std::span<const Hash256> queries, int t,
                                 std::vector<PdqHit>& out) const {
  const std::size_t n = list_.size(), nq = queries.size();
  if (brute_cost_ns(t, nq) < kInlineNs || pool_->threads() == 1) {
    scan_(list_.lo(), list_.hi(), 0, n, queries.data(), nq, 0, t, out);
    return;
  }
  // Tasks: list chunks (each streamed once per batch) times query chunks, about 4 per thread.
  const std::size_t want = std::size_t(pool_->threads()) * 4;
  const std::size_t list_chunks = std::clamp<std::size_t>(n / 16384, 1, want);
  const std::size_t query_chunks = std::clamp<std::size_t>((want + list_chunks - 1) / list_chunks,
                                                           1, (nq + 15) / 16);
  const std::size_t lstep = (n + list_chunks - 1) / list_chunks;
  const std::size_t qstep = (nq + query_chunks - 1) / query_chunks;
  std::vector<std::vector<PdqHit>> parts(list_chunks * query_chunks);
  pool_->parallel_for(parts.size(), [&](std::size_t task) {
    const std::size_t lc = task / query_chunks, qc = task % query_chunks;
    const std::size_t b = lc * lstep, e = std::min(n, b + lstep);
    const std::size_t qb = qc * qstep, qe = std::min(nq, qb + qstep);
    if (b < e && qb < qe) {
      scan_(list_.lo(), list_.hi(), b, e, queries.data() + qb, qe - qb, uint32_t(qb), t,
            parts[task]);
    }
  });
  append_all(parts, out);
}

void CpuPdqMatcher::search_mih(std::span<const Hash256> queries, int t,
                               std::vector<PdqHit>& out) const {
  const std::size_t nq = queries.size();
  if (mih_cost_ns(t, nq) < kInlineNs || pool_->threads() == 1) {
    mih_.search(queries.data(), nq, 0, t, 0, MihIndex::kTables, out);
    return;
  }
  const std::size_t want = std::size_t(pool_->threads()) * 4;
  // Few queries: split the tables too (each table group is an independent part of the answer).
  const std::size_t table_groups = nq >= want ? 1 : (nq * 4 >= want ? 4 : 16);
  const std::size_t query_chunks = std::min(nq, want * 4);
  const std::size_t qstep = (nq + query_chunks - 1) / query_chunks;
  const int tables_per_group = MihIndex::kTables / int(table_groups);
  std::vector<std::vector<PdqHit>> parts(query_chunks * table_groups);
  pool_->parallel_for(parts.size(), [&](std::size_t task) {
    const std::size_t qc = task / table_groups, tg = task % table_groups;
    const std::size_t qb = qc * qstep, qe = std::min(nq, qb + qstep);
    if (qb >= qe) return;
    const int tb = int(tg) * tables_per_group;
    mih_.search(queries.data() + qb, qe - qb, uint32_t(qb), t, tb, tb + tables_per_group,
                parts[task]);
  });
  append_all(parts, out);
}

}  // namespace hashmatch
