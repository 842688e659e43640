// CPU matchers: brute force (every compiled-in SIMD level this CPU supports) and multi-index
// hashing against the oracle, on random lists with planted near-duplicates at distances 0, t and
// t + 1, on the reference haystack/needles, and at the edges (empty list, empty batch, t = 256).
#include <gtest/gtest.h>

#include <thread>

#include "host/common/error.h"
#include "host/match/cpu_matcher.h"
#include "kernels/rt/device.h"
#include "tests/match/match_testutil.h"
#include "tests/testutil/testutil.h"

namespace hashmatch::test {
namespace {

using match_detail::SimdLevel;

struct Variant {
  std::string name;
  MatcherOptions opts;
};

// Every CPU configuration worth comparing: brute force per supported SIMD level, MIH, auto.
std::vector<Variant> cpu_variants(int threads = 0) {
  std::vector<Variant> v;
  auto add = [&](const std::string& name, CpuIndex idx, CpuSimd simd) {
    MatcherOptions o;
    o.backend = Backend::kCpu;
    o.cpu_index = idx;
    o.cpu_simd = simd;
    o.threads = threads;
    v.push_back({name, o});
  };
  add("brute-scalar", CpuIndex::kBrute, CpuSimd::kScalar);
  if (match_detail::simd_supported(SimdLevel::kAvx2)) {
    add("brute-avx2", CpuIndex::kBrute, CpuSimd::kAvx2);
  }
  if (match_detail::simd_supported(SimdLevel::kAvx512)) {
    add("brute-avx512", CpuIndex::kBrute, CpuSimd::kAvx512);
  }
  add("mih", CpuIndex::kMih, CpuSimd::kAuto);
  add("auto", CpuIndex::kAuto, CpuSimd::kAuto);
  return v;
}

void check_all_variants(const PlantedSet& s, int t, int threads = 0) {
  const auto want = oracle(s.list, s.queries, t);
  expect_planted(want, s, t);  // the oracle itself sees the planted boundaries
  for (const Variant& v : cpu_variants(threads)) {
    SCOPED_TRACE(v.name + " t=" + std::to_string(t));
    auto m = make_pdq_matcher(s.list, v.opts);
    EXPECT_EQ(m->size(), s.list.size());
    const auto got = run_sorted(*m, s.queries, t);
    EXPECT_EQ(got, want) << first_difference(want, got);
    expect_planted(got, s, t);
  }
}

TEST(MatchCpu, PlantedNearDuplicatesAtBoundaries) {
  std::mt19937_64 rng(fresh_seed("planted"));
  // 20,001 entries: above the MIH minimum, not a multiple of any SIMD step (tails exercised).
  for (int t : {0, 1, 15, 16, 31, 32, 47, 48, 49, 63, 64, 100}) {
    const PlantedSet s = make_planted(rng, 20001, 24, t);
    check_all_variants(s, t);
  }
}

TEST(MatchCpu, PdqLikeHashesWithEqualPopcount) {
  std::mt19937_64 rng(fresh_seed("pdq_like"));
  for (int t : {0, 31, 32, 64}) {
    const PlantedSet s = make_planted(rng, 5000, 16, t, /*pdq_like=*/true);
    check_all_variants(s, t);
  }
}

TEST(MatchCpu, ManyThreadsAndTasks) {
  // Enough entries and threads that the brute force splits the list into several chunks and the
  // MIH search splits queries and tables into tasks.
  std::mt19937_64 rng(fresh_seed("tasks"));
  for (int t : {31, 64}) {
    const PlantedSet s = make_planted(rng, 70000, 48, t);
    check_all_variants(s, t, /*threads=*/5);
  }
  const PlantedSet one = make_planted(rng, 70000, 1, 31);
  check_all_variants(one, 31, /*threads=*/5);
}

TEST(MatchCpu, Threshold256MatchesEverything) {
  std::mt19937_64 rng(fresh_seed("t256"));
  const PlantedSet s = make_planted(rng, 301, 7, 256);
  for (const Variant& v : cpu_variants()) {
    SCOPED_TRACE(v.name);
    auto m = make_pdq_matcher(s.list, v.opts);
    const auto got = run_sorted(*m, s.queries, 256);
    ASSERT_EQ(got.size(), s.list.size() * s.queries.size());
    EXPECT_EQ(got, oracle(s.list, s.queries, 256));
  }
}

TEST(MatchCpu, EmptyListAndEmptyBatch) {
  std::mt19937_64 rng(fresh_seed("empty"));
  std::vector<Hash256> queries = {random_hash(rng), random_hash(rng)};
  for (const Variant& v : cpu_variants()) {
    SCOPED_TRACE(v.name);
    auto empty = make_pdq_matcher({}, v.opts);
    EXPECT_EQ(empty->size(), 0u);
    std::vector<PdqHit> out = {PdqHit{9, 9, 9}};  // appended to, never cleared
    empty->range_search(queries, 256, out);
    EXPECT_EQ(out.size(), 1u);
    auto m = make_pdq_matcher(std::vector<Hash256>(queries), v.opts);
    m->range_search({}, 31, out);
    EXPECT_EQ(out.size(), 1u);
    m->range_search(queries, 0, out);
    EXPECT_EQ(out.size(), 3u);  // each query finds itself
  }
}

TEST(MatchCpu, ThresholdOutOfRangeThrows) {
  auto m = make_pdq_matcher({Hash256{}}, MatcherOptions{.backend = Backend::kCpu});
  std::vector<PdqHit> out;
  std::vector<Hash256> q = {Hash256{}};
  EXPECT_THROW(m->range_search(q, -1, out), InvalidArgument);
  EXPECT_THROW(m->range_search(q, 257, out), InvalidArgument);
  EXPECT_NO_THROW(m->range_search(q, 256, out));
}

TEST(MatchCpu, ConcurrentCalls) {
  std::mt19937_64 rng(fresh_seed("concurrent"));
  const PlantedSet s = make_planted(rng, 30000, 16, 31);
  const auto want = oracle(s.list, s.queries, 31);
  for (CpuIndex idx : {CpuIndex::kBrute, CpuIndex::kMih}) {
    auto m = make_pdq_matcher(s.list, MatcherOptions{.backend = Backend::kCpu, .threads = 3,
                                                     .cpu_index = idx});
    std::vector<std::vector<PdqHit>> got(4);
    std::vector<std::thread> th;
    for (int i = 0; i < 4; ++i) th.emplace_back([&, i] { got[i] = run_sorted(*m, s.queries, 31); });
    for (auto& t : th) t.join();
    for (const auto& g : got) EXPECT_EQ(g, want) << first_difference(want, g);
  }
}

TEST(MatchCpu, ReferenceHaystackAndNeedles) {
  // Real PDQ hashes (non-uniform, clustered): brute force and MIH must agree with the oracle.
  const auto dir = testdata_dir() / "pdq" / "reg-test-input";
  const auto haystack = read_hash_lines((dir / "haystack.txt").string());
  const auto needles = read_hash_lines((dir / "needles.txt").string());
  ASSERT_GT(haystack.size(), 1000u);
  ASSERT_GT(needles.size(), 50u);
  for (int t : {0, 10, 31, 32, 63, 64, 90}) {
    const auto want = oracle(haystack, needles, t);
    if (t == 31) {
      EXPECT_GT(want.size(), needles.size() / 2) << "needles should match the haystack";
    }
    for (const Variant& v : cpu_variants()) {
      SCOPED_TRACE(v.name + " t=" + std::to_string(t));
      auto m = make_pdq_matcher(haystack, v.opts);
      const auto got = run_sorted(*m, needles, t);
      EXPECT_EQ(got, want) << first_difference(want, got);
    }
  }
}

TEST(MatchCpu, IndexChoice) {
  std::mt19937_64 rng(fresh_seed("choice"));
  std::vector<Hash256> big(100000);
  for (auto& h : big) h = random_hash(rng);
  auto m = std::make_unique<CpuPdqMatcher>(big, MatcherOptions{.backend = Backend::kCpu});
  EXPECT_TRUE(m->has_mih());
  EXPECT_EQ(m->backend(), "cpu-mih");
  EXPECT_EQ(m->index_for(31, 1), CpuIndex::kMih);
  EXPECT_EQ(m->index_for(200, 1), CpuIndex::kBrute);  // MIH would probe nearly everything
  std::vector<Hash256> small(1000);
  auto s = std::make_unique<CpuPdqMatcher>(small, MatcherOptions{.backend = Backend::kCpu});
  EXPECT_FALSE(s->has_mih());
  EXPECT_EQ(s->backend(), "cpu-brute");
  auto b = std::make_unique<CpuPdqMatcher>(
      big, MatcherOptions{.backend = Backend::kCpu, .cpu_index = CpuIndex::kBrute});
  EXPECT_FALSE(b->has_mih());
  EXPECT_GT(m->memory_bytes(), b->memory_bytes());
}

TEST(MatchCpu, BackendNamesAndSelection) {
  EXPECT_EQ(parse_backend("auto"), Backend::kAuto);
  EXPECT_EQ(parse_backend("cpu"), Backend::kCpu);
  EXPECT_EQ(parse_backend("cuda"), Backend::kCuda);
  EXPECT_THROW(parse_backend("tpu"), InvalidArgument);
  EXPECT_EQ(backend_name(Backend::kCuda), "cuda");
  EXPECT_EQ(parse_cpu_index("mih"), CpuIndex::kMih);
  EXPECT_THROW(parse_cpu_index("lsh"), InvalidArgument);
  EXPECT_EQ(parse_gpu_kernel("b1mma"), GpuKernel::kB1Mma);
  EXPECT_EQ(gpu_kernel_name(GpuKernel::kPopc), "popc");
  EXPECT_THROW(parse_gpu_kernel("xor"), InvalidArgument);
  if (!gpu_available()) {
    // No GPU: cuda is an error with a message; auto falls back to the CPU (unless a GPU is
    // required, when auto is an error too).
    EXPECT_THROW(make_pdq_matcher({Hash256{}}, MatcherOptions{.backend = Backend::kCuda}),
                 CudaError);
    if (!gpu_required()) {
      auto m = make_pdq_matcher({Hash256{}}, MatcherOptions{.backend = Backend::kAuto});
      EXPECT_EQ(m->backend().rfind("cpu-", 0), 0u) << m->backend();
    } else {
      EXPECT_THROW(make_pdq_matcher({Hash256{}}, MatcherOptions{}), CudaError);
    }
  }
}

TEST(MatchCpu, ScanKernelsOnSubRanges) {
  // Every kernel this CPU can run (the generic one too), on list sub-ranges with odd ends and a
  // query offset: the chunking the matcher does across threads.
  std::mt19937_64 rng(fresh_seed("scan_ranges"));
  const PlantedSet s = make_planted(rng, 3001, 9, 40);
  const match_detail::SplitList split(s.list);
  for (SimdLevel level :
       {SimdLevel::kGeneric, SimdLevel::kPopcnt, SimdLevel::kAvx2, SimdLevel::kAvx512}) {
    if (!match_detail::simd_supported(level)) continue;
    for (int t : {0, 40, 41, 64}) {
      SCOPED_TRACE(std::string(match_detail::simd_name(level)) + " t=" + std::to_string(t));
      const auto fn = match_detail::scan_function(level);
      std::vector<PdqHit> got;
      const std::size_t cuts[] = {0, 5, 1030, 2999, 3001};
      for (std::size_t c = 0; c + 1 < std::size(cuts); ++c) {
        fn(split.lo(), split.hi(), cuts[c], cuts[c + 1], s.queries.data() + 2, 7, 2, t, got);
      }
      std::sort(got.begin(), got.end());
      std::vector<PdqHit> want;
      for (const PdqHit& h : oracle(s.list, s.queries, t)) {
        if (h.query >= 2) want.push_back(h);
      }
      EXPECT_EQ(got, want) << first_difference(want, got);
    }
  }
}

TEST(MatchCpu, UnsupportedSimdLevelThrows) {
  if (match_detail::simd_supported(SimdLevel::kAvx512)) GTEST_SKIP() << "this CPU has AVX-512";
  EXPECT_THROW(make_pdq_matcher({Hash256{}}, MatcherOptions{.backend = Backend::kCpu,
                                                            .cpu_simd = CpuSimd::kAvx512}),
               InvalidArgument);
}

}  // namespace
}  // namespace hashmatch::test
