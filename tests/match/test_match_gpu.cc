// The CUDA matcher (both kernels: b1 tensor cores and popcount) against the CPU oracle: planted
// near-duplicates at distances 0, t and t + 1, every batch-size path, PDQ-like hashes, the hit
// buffer overflowing (grown, and split), empty inputs, t = 256, the reference haystack, several
// shards, concurrent calls. Label gpu: skips without a device, fails with HASHMATCH_REQUIRE_GPU=1.
#include <gtest/gtest.h>

#include <thread>

#include "host/common/error.h"
#include "host/match/cpu_matcher.h"
#include "tests/match/match_testutil.h"
#include "tests/testutil/testutil.h"

namespace hashmatch::test {
namespace {

class MatchGpu : public GpuTest {};

MatcherOptions gpu_opts(GpuKernel k) {
  MatcherOptions o;
  o.backend = Backend::kCuda;
  o.gpu_kernel = k;
  return o;
}

const GpuKernel kKernels[] = {GpuKernel::kB1Mma, GpuKernel::kPopc};

std::string kname(GpuKernel k) { return std::string(gpu_kernel_name(k)); }

// The CPU matcher as a fast oracle for the larger cases (itself checked against the plain double
// loop in test_match_cpu).
std::vector<PdqHit> cpu_sorted(const std::vector<Hash256>& list,
                               const std::vector<Hash256>& queries, int t) {
  CpuPdqMatcher m(list, MatcherOptions{.backend = Backend::kCpu, .cpu_index = CpuIndex::kBrute});
  return run_sorted(m, queries, t);
}

TEST_F(MatchGpu, PlantedNearDuplicatesAtBoundaries) {
  std::mt19937_64 rng(fresh_seed("gpu_planted"));
  for (int t : {0, 1, 31, 32, 63, 64, 100}) {
    const PlantedSet s = make_planted(rng, 50001, 100, t);
    const auto want = oracle(s.list, s.queries, t);
    expect_planted(want, s, t);
    for (GpuKernel k : kKernels) {
      SCOPED_TRACE(kname(k) + " t=" + std::to_string(t));
      auto m = make_pdq_matcher(s.list, gpu_opts(k));
      ASSERT_EQ(m->backend(), "cuda-" + kname(k));
      const auto got = run_sorted(*m, s.queries, t);
      EXPECT_EQ(got, want) << first_difference(want, got);
      expect_planted(got, s, t);
    }
  }
}

TEST_F(MatchGpu, EveryBatchShape) {
  // 1..16 rows: MT = 1; 17..32: 2; 33..64: 4; more: 8 (and a partial last tile each time).
  std::mt19937_64 rng(fresh_seed("gpu_batches"));
  for (std::size_t nq : {1, 2, 15, 16, 17, 31, 33, 64, 65, 129, 1000}) {
    const PlantedSet s = make_planted(rng, 20000, nq, 31);
    const auto want = cpu_sorted(s.list, s.queries, 31);
    for (GpuKernel k : kKernels) {
      SCOPED_TRACE(kname(k) + " nq=" + std::to_string(nq));
      auto m = make_pdq_matcher(s.list, gpu_opts(k));
      const auto got = run_sorted(*m, s.queries, 31);
      EXPECT_EQ(got, want) << first_difference(want, got);
      expect_planted(got, s, 31);
    }
  }
}

TEST_F(MatchGpu, PdqLikeHashes) {
  std::mt19937_64 rng(fresh_seed("gpu_pdq_like"));
  for (int t : {0, 31, 32, 64}) {
    const PlantedSet s = make_planted(rng, 30000, 70, t, /*pdq_like=*/true);
    const auto want = cpu_sorted(s.list, s.queries, t);
    for (GpuKernel k : kKernels) {
      SCOPED_TRACE(kname(k) + " t=" + std::to_string(t));
      const auto got = run_sorted(*make_pdq_matcher(s.list, gpu_opts(k)), s.queries, t);
      EXPECT_EQ(got, want) << first_difference(want, got);
      expect_planted(got, s, t);
    }
  }
}

TEST_F(MatchGpu, OverflowGrowsOrSplitsNeverDrops) {
  std::mt19937_64 rng(fresh_seed("gpu_overflow"));
  // Many hits: t = 256 matches every pair; t = 100 on a clustered list (copies of few bases).
  const PlantedSet all = make_planted(rng, 777, 37, 256);
  std::vector<Hash256> clustered(3000);
  std::vector<Hash256> bases(5);
  for (auto& b : bases) b = random_hash(rng);
  for (std::size_t i = 0; i < clustered.size(); ++i) {
    clustered[i] = flip_bits(bases[i % bases.size()], int(rng() % 40), rng);
  }
  for (GpuKernel k : kKernels) {
    for (std::size_t max_cap : {std::size_t{0}, std::size_t{16}, std::size_t{1000}}) {
      SCOPED_TRACE(kname(k) + " max capacity " + std::to_string(max_cap));
      MatcherOptions o = gpu_opts(k);
      o.gpu_hit_capacity = 16;  // tiny: every pass overflows
      o.gpu_max_hit_capacity = max_cap;  // 0: default (grow), 16: split down to single groups
      auto m = make_pdq_matcher(all.list, o);
      const auto got = run_sorted(*m, all.queries, 256);
      ASSERT_EQ(got.size(), all.list.size() * all.queries.size());
      EXPECT_EQ(got, oracle(all.list, all.queries, 256));
      auto c = make_pdq_matcher(clustered, o);
      const std::vector<Hash256> qs(bases.begin(), bases.end());
      const auto want = oracle(clustered, qs, 30);
      EXPECT_GT(want.size(), 100u);
      const auto got_c = run_sorted(*c, qs, 30);
      EXPECT_EQ(got_c, want) << first_difference(want, got_c);
    }
  }
}

TEST_F(MatchGpu, QueryBatchLargerThanOnePass) {
  std::mt19937_64 rng(fresh_seed("gpu_big_batch"));
  const PlantedSet s = make_planted(rng, 3000, 20000, 31);  // > 16,384 queries per pass
  const auto want = cpu_sorted(s.list, s.queries, 31);
  for (GpuKernel k : kKernels) {
    SCOPED_TRACE(kname(k));
    const auto got = run_sorted(*make_pdq_matcher(s.list, gpu_opts(k)), s.queries, 31);
    EXPECT_EQ(got, want) << first_difference(want, got);
  }
}

TEST_F(MatchGpu, EmptyInputsAndThresholdEdges) {
  std::mt19937_64 rng(fresh_seed("gpu_edges"));
  std::vector<Hash256> queries = {random_hash(rng), Hash256{}};
  for (GpuKernel k : kKernels) {
    SCOPED_TRACE(kname(k));
    auto empty = make_pdq_matcher({}, gpu_opts(k));
    std::vector<PdqHit> out = {PdqHit{9, 9, 9}};
    empty->range_search(queries, 256, out);
    EXPECT_EQ(out.size(), 1u);
    auto m = make_pdq_matcher(std::vector<Hash256>(queries), gpu_opts(k));
    m->range_search({}, 31, out);
    EXPECT_EQ(out.size(), 1u);
    EXPECT_THROW(m->range_search(queries, 257, out), InvalidArgument);
    EXPECT_THROW(m->range_search(queries, -1, out), InvalidArgument);
    out.clear();
    m->range_search(queries, 0, out);
    std::sort(out.begin(), out.end());
    EXPECT_EQ(out, (std::vector<PdqHit>{{0, 0, 0}, {1, 1, 0}}));
    const auto all = run_sorted(*m, queries, 256);
    EXPECT_EQ(all, oracle(queries, queries, 256));
  }
}

TEST_F(MatchGpu, ReferenceHaystackAndNeedles) {
  const auto dir = testdata_dir() / "pdq" / "reg-test-input";
  const auto haystack = read_hash_lines((dir / "haystack.txt").string());
  const auto needles = read_hash_lines((dir / "needles.txt").string());
  for (int t : {0, 31, 32, 64, 90}) {
    const auto want = oracle(haystack, needles, t);
    for (GpuKernel k : kKernels) {
      SCOPED_TRACE(kname(k) + " t=" + std::to_string(t));
      const auto got = run_sorted(*make_pdq_matcher(haystack, gpu_opts(k)), needles, t);
      EXPECT_EQ(got, want) << first_difference(want, got);
    }
  }
}

TEST_F(MatchGpu, ShardsAndConcurrentCalls) {
  std::mt19937_64 rng(fresh_seed("gpu_shards"));
  const PlantedSet s = make_planted(rng, 40000, 64, 31);
  const auto want = oracle(s.list, s.queries, 31);
  // Three shards on device 0 exercise the sharding path on a one-GPU machine.
  MatcherOptions o = gpu_opts(GpuKernel::kB1Mma);
  o.gpu_devices = {0, 0, 0};
  auto m = make_pdq_matcher(s.list, o);
  EXPECT_EQ(run_sorted(*m, s.queries, 31), want);
  std::vector<std::vector<PdqHit>> got(4);
  std::vector<std::thread> th;
  for (int i = 0; i < 4; ++i) th.emplace_back([&, i] { got[i] = run_sorted(*m, s.queries, 31); });
  for (auto& t : th) t.join();
  for (const auto& g : got) EXPECT_EQ(g, want) << first_difference(want, g);
  MatcherOptions bad = gpu_opts(GpuKernel::kB1Mma);
  bad.gpu_devices = {4096};
  EXPECT_THROW(make_pdq_matcher(s.list, bad), CudaError);
}

TEST_F(MatchGpu, AutoPicksTheGpu) {
  auto m = make_pdq_matcher({Hash256{}}, MatcherOptions{});
  EXPECT_EQ(m->backend(), "cuda-b1mma") << m->detail();
  EXPECT_GT(m->memory_bytes(), 0u);
}

}  // namespace
}  // namespace hashmatch::test
