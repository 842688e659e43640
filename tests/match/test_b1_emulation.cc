// CPU emulation of the b1 tensor-core range-search kernel (kernels/match/range_search.cu): the
// kernel's own lane logic (b1_layout.h: swizzled list, A-fragment loads, accumulator start, D
// element mapping, distance recovery) runs on the CPU against an emulated
// mma.m16n8k256.row.col.s32.b1.b1.s32.and.popc whose register-to-matrix mapping is written here
// from the PTX ISA tables, independently of the kernel's code. A layout bug shows up as a
// difference from the brute-force oracle without GPU time. (The GPU tests then check the real
// instruction against the same oracle.)
#include <gtest/gtest.h>

#include <array>
#include <bit>

#include "kernels/match/b1_host_layout.h"
#include "kernels/match/b1_layout.h"
#include "tests/match/match_testutil.h"
#include "tests/testutil/testutil.h"

namespace hashmatch::test {
namespace {

using Lanes4 = std::array<std::array<uint32_t, 4>, 32>;
using Lanes2 = std::array<std::array<uint32_t, 2>, 32>;
using Acc = std::array<std::array<int, 4>, 32>;

// mma.sync.aligned.m16n8k256.row.col.s32.b1.b1.s32.and.popc, from the PTX ISA fragment tables
// ("Matrix Fragments for mma.m16n8k256"): element i of a fragment is bit (i % 32) of register
// i / 32; groupID = lane >> 2, threadID_in_group = lane % 4.
struct EmulatedMma {
  // Also checks that the fragments of the 32 lanes cover every matrix element exactly once.
  static Acc run(const Lanes4& a, const Lanes2& b, const Acc& c) {
    std::array<std::array<int, 256>, 16> A{};  // [row][k]
    std::array<std::array<int, 8>, 256> B{};   // [k][col]
    std::array<std::array<int, 256>, 16> a_seen{};
    std::array<std::array<int, 8>, 256> b_seen{};
    for (int lane = 0; lane < 32; ++lane) {
      const int g = lane >> 2, tig = lane % 4;
      for (int i = 0; i < 128; ++i) {
        const int row = (i < 32 || (i >= 64 && i < 96)) ? g : g + 8;
        const int col = i < 64 ? tig * 32 + (i & 0x1f) : tig * 32 + (i & 0x1f) + 128;
        A[row][col] = (a[lane][i / 32] >> (i % 32)) & 1;
        ++a_seen[row][col];
      }
      for (int i = 0; i < 64; ++i) {
        const int row = i < 32 ? tig * 32 + (i & 0x1f) : tig * 32 + (i & 0x1f) + 128;
        B[row][g] = (b[lane][i / 32] >> (i % 32)) & 1;
        ++b_seen[row][g];
      }
    }
    for (auto& r : a_seen) for (int v : r) EXPECT_EQ(v, 1) << "A fragment coverage";
    for (auto& r : b_seen) for (int v : r) EXPECT_EQ(v, 1) << "B fragment coverage";
    std::array<std::array<int, 8>, 16> C{}, D{};
    std::array<std::array<int, 8>, 16> c_seen{};
    for (int lane = 0; lane < 32; ++lane) {
      const int g = lane >> 2, tig = lane % 4;
      for (int i = 0; i < 4; ++i) {
        const int row = i < 2 ? g : g + 8, col = tig * 2 + (i & 1);
        C[row][col] = c[lane][i];
        ++c_seen[row][col];
      }
    }
    for (auto& r : c_seen) for (int v : r) EXPECT_EQ(v, 1) << "C fragment coverage";
    for (int r = 0; r < 16; ++r) {
      for (int col = 0; col < 8; ++col) {
        int acc = C[r][col];
        for (int k = 0; k < 256; ++k) acc += A[r][k] & B[k][col];
        D[r][col] = acc;
      }
    }
    Acc d{};
    for (int lane = 0; lane < 32; ++lane) {
      const int g = lane >> 2, tig = lane % 4;
      for (int i = 0; i < 4; ++i) d[lane][i] = D[i < 2 ? g : g + 8][tig * 2 + (i & 1)];
    }
    return d;
  }
};

// The kernel's warp loop (b1mma_range_kernel), lane by lane: MT m16 tiles of queries against every
// group of the layout, sign test per group, slow path on a group that fires.
std::vector<PdqHit> emulate_kernel(const b1::HostLayout& L, const std::vector<Hash256>& queries,
                                   int t, int mt, std::size_t* slow_groups = nullptr) {
  std::vector<uint32_t> qw(queries.size() * 8);
  for (std::size_t q = 0; q < queries.size(); ++q) {
    const auto u = b1::hash_words(queries[q]);
    std::copy(u.begin(), u.end(), qw.begin() + q * 8);
  }
  const uint32_t nq = uint32_t(queries.size());
  std::vector<PdqHit> hits;
  const uint32_t n_qgroups = (nq + 16u * mt - 1) / (16u * mt);
  for (uint32_t qg = 0; qg < n_qgroups; ++qg) {
    const uint32_t row_base = qg * 16u * mt;
    std::vector<Lanes4> a(mt);
    std::vector<std::array<std::array<int, 2>, 32>> pa(mt);  // [m][lane] = (pa_lo, pa_hi)
    for (int m = 0; m < mt; ++m) {
      std::array<int, 32> lo{}, hi{};
      for (int lane = 0; lane < 32; ++lane) {
        b1::load_a_fragment(qw.data(), nq, row_base + 16u * m, lane, a[m][lane].data(), lo[lane],
                            hi[lane]);
      }
      for (int lane = 0; lane < 32; ++lane) {
        // __shfl_xor_sync(.., 1) then (.., 2): the sum over the four lanes of the group.
        int slo = 0, shi = 0;
        for (int k = 0; k < 4; ++k) {
          slo += lo[(lane & ~3) | k];
          shi += hi[(lane & ~3) | k];
        }
        const uint32_t r = row_base + 16u * m + uint32_t(lane >> 2);
        pa[m][lane] = {r < nq ? slo : b1::kInvalidRowPopcount,
                       r + 8 < nq ? shi : b1::kInvalidRowPopcount};
      }
    }
    for (uint32_t grp = 0; grp < L.n_groups; ++grp) {
      const int pb = L.group_pc[grp];
      Lanes2 b0{}, b1v{};
      for (int lane = 0; lane < 32; ++lane) {
        const uint32_t* u4 = L.swz.data() + std::size_t(grp) * b1::kGroupWords + lane * 4;
        b0[lane] = {u4[0], u4[1]};  // uint4 .x .y: tile 0
        b1v[lane] = {u4[2], u4[3]};  // .z .w: tile 1
      }
      std::vector<std::array<Acc, 2>> d(mt);
      std::vector<Acc> c(mt);
      bool any = false;
      for (int m = 0; m < mt; ++m) {
        for (int lane = 0; lane < 32; ++lane) {
          const int clo = b1::start_value(pa[m][lane][0], pb, t);
          const int chi = b1::start_value(pa[m][lane][1], pb, t);
          c[m][lane] = {clo, clo, chi, chi};  // {%10, %10, %11, %11} in the asm
        }
        d[m][0] = EmulatedMma::run(a[m], b0, c[m]);
        d[m][1] = EmulatedMma::run(a[m], b1v, c[m]);
        for (int lane = 0; lane < 32; ++lane) {
          int flag = -1;
          for (int tile = 0; tile < 2; ++tile) {
            for (int i = 0; i < 4; ++i) flag &= d[m][tile][lane][i];
          }
          any = any || flag >= 0;
        }
      }
      if (!any) continue;
      if (slow_groups) ++*slow_groups;
      for (int m = 0; m < mt; ++m) {
        for (int tile = 0; tile < 2; ++tile) {
          for (int lane = 0; lane < 32; ++lane) {
            for (int i = 0; i < 4; ++i) {
              const int acc = d[m][tile][lane][i];
              if (acc < 0) continue;
              const int row = b1::d_row(lane, i), col = b1::d_col(lane, i);
              const uint32_t q = row_base + 16u * m + uint32_t(row);
              const int pa_i = pa[m][lane][i < 2 ? 0 : 1];
              const int start = c[m][lane][i];
              const uint32_t entry = grp * b1::kGroupEntries + uint32_t(tile * 8 + col);
              const uint32_t index = L.perm[entry];
              const int dist = b1::distance_from_acc(acc, start, pa_i, pb);
              if (q < nq && index != b1::kPadIndex && dist <= t) hits.push_back({q, index, dist});
            }
          }
        }
      }
    }
  }
  std::sort(hits.begin(), hits.end());
  return hits;
}

// The popc kernel's view: entry words read back from the swizzled layout.
std::vector<PdqHit> emulate_popc(const b1::HostLayout& L, const std::vector<Hash256>& queries,
                                 int t) {
  std::vector<PdqHit> hits;
  for (uint64_t e = 0; e < uint64_t(L.n_groups) * b1::kGroupEntries; ++e) {
    const uint32_t index = L.perm[e];
    if (index == b1::kPadIndex) continue;
    for (uint32_t q = 0; q < queries.size(); ++q) {
      const auto u = b1::hash_words(queries[q]);
      int d = 0;
      for (uint32_t w = 0; w < 8; ++w) d += std::popcount(b1::swz_entry_word(L.swz.data(), e, w) ^ u[w]);
      if (d <= t) hits.push_back({q, index, d});
    }
  }
  std::sort(hits.begin(), hits.end());
  return hits;
}

TEST(B1Emulation, LayoutRoundTrip) {
  std::mt19937_64 rng(fresh_seed("layout"));
  for (std::size_t n : {0, 1, 15, 16, 17, 333}) {
    std::vector<Hash256> list(n);
    for (auto& h : list) h = random_hash(rng);
    if (n > 3) list[1] = Hash256{};  // popcount 0 bucket
    const uint32_t offset = 1000;
    const auto L = b1::build_host_layout(list.data(), n, offset);
    ASSERT_EQ(L.swz.size(), std::size_t(L.n_groups) * b1::kGroupWords);
    ASSERT_EQ(L.perm.size(), std::size_t(L.n_groups) * b1::kGroupEntries);
    std::vector<int> seen(n, 0);
    int last_pc = -1;
    for (uint64_t e = 0; e < L.perm.size(); ++e) {
      const int pc = L.group_pc[e / b1::kGroupEntries];
      EXPECT_GE(pc, last_pc) << "groups sorted by popcount";
      last_pc = pc;
      Hash256 h;
      for (int k = 0; k < 4; ++k) {
        h.w[k] = uint64_t(b1::swz_entry_word(L.swz.data(), e, 2 * k)) |
                 (uint64_t(b1::swz_entry_word(L.swz.data(), e, 2 * k + 1)) << 32);
      }
      if (L.perm[e] == b1::kPadIndex) {
        EXPECT_TRUE(h.is_zero());
        continue;
      }
      const uint32_t i = L.perm[e] - offset;
      ASSERT_LT(i, n);
      ++seen[i];
      EXPECT_EQ(h, list[i]);
      EXPECT_EQ(h.popcount(), pc);
    }
    for (std::size_t i = 0; i < n; ++i) EXPECT_EQ(seen[i], 1) << "entry " << i;
  }
}

TEST(B1Emulation, SignTestEqualsThresholdTest) {
  // For every feasible AND-popcount c: (c + start >= 0) <=> (pa + pb - 2c <= t), and the distance
  // recovered from the accumulator is exact.
  for (int t : {0, 1, 2, 30, 31, 32, 63, 64, 127, 128, 200, 255, 256}) {
    for (int pa = 0; pa <= 256; pa += 1) {
      for (int pb = 0; pb <= 256; pb += 3) {
        const int start = b1::start_value(pa, pb, t);
        for (int c = std::max(0, pa + pb - 256); c <= std::min(pa, pb); ++c) {
          const int acc = start + c;
          const int d = pa + pb - 2 * c;
          ASSERT_EQ(acc >= 0, d <= t) << "pa=" << pa << " pb=" << pb << " c=" << c << " t=" << t;
          ASSERT_EQ(b1::distance_from_acc(acc, start, pa, pb), d);
        }
      }
    }
  }
  // A query row past the batch can never match, whatever the group.
  for (int pb = 0; pb <= 256; ++pb) {
    EXPECT_LT(b1::start_value(b1::kInvalidRowPopcount, pb, 256) + 256, 0);
  }
}

TEST(B1Emulation, KernelTileLogicMatchesOracle) {
  std::mt19937_64 rng(fresh_seed("b1_emulation"));
  for (int t : {0, 31, 32, 64, 256}) {
    for (bool pdq_like : {false, true}) {
      // 37 queries: not a multiple of 16 (rows past the batch in the last tile).
      PlantedSet s = make_planted(rng, 300, 37, t, pdq_like);
      const auto want = oracle(s.list, s.queries, t);
      const auto L = b1::build_host_layout(s.list.data(), s.list.size(), 0);
      for (int mt : {1, 2}) {
        SCOPED_TRACE("t=" + std::to_string(t) + " pdq_like=" + std::to_string(pdq_like) +
                     " MT=" + std::to_string(mt));
        std::size_t slow = 0;
        const auto got = emulate_kernel(L, s.queries, t, mt, &slow);
        EXPECT_EQ(got, want) << first_difference(want, got);
        expect_planted(got, s, t);
        if (t < 64) {
          EXPECT_LT(slow, L.n_groups * ((37 + 16 * mt - 1) / (16 * mt))) << "sign test";
        }
      }
      const auto popc = emulate_popc(L, s.queries, t);
      EXPECT_EQ(popc, want) << first_difference(want, popc);
    }
  }
}

TEST(B1Emulation, LaunchPlanCoversEveryTileOnce) {
  // Every (query tile group, list group) pair is assigned to exactly one warp, for group ranges
  // that start anywhere (the overflow split launches sub-ranges), any SM count and any MT.
  for (uint32_t nq : {1u, 15u, 16u, 17u, 100u, 1000u, 16384u}) {
    for (uint32_t groups : {1u, 2u, 7u, 100u, 5000u}) {
      for (int mt : {1, 2, 4, 8}) {
        for (int sms : {1, 7, 132}) {
          const uint32_t begin = 3;
          const b1::B1Plan plan = b1::plan_b1mma(nq, groups, mt, sms);
          const uint32_t nqg = (nq + 16u * mt - 1) / (16u * mt);
          ASSERT_EQ(plan.n_qgroups, nqg);
          std::vector<uint8_t> seen(std::size_t(nqg) * groups, 0);
          for (uint32_t w = 0; w < plan.n_warps; ++w) {
            uint32_t qg, g0, g1;
            b1::warp_work(plan, w, begin, begin + groups, qg, g0, g1);
            ASSERT_LT(qg, nqg);
            for (uint32_t g = g0; g < g1; ++g) {
              ASSERT_GE(g, begin);
              ASSERT_LT(g, begin + groups);
              ++seen[std::size_t(qg) * groups + (g - begin)];
            }
          }
          for (uint8_t v : seen) ASSERT_EQ(v, 1) << "nq " << nq << " groups " << groups;
        }
      }
    }
  }
}

TEST(B1Emulation, ReferenceHaystack) {
  const auto dir = testdata_dir() / "pdq" / "reg-test-input";
  const auto haystack = read_hash_lines((dir / "haystack.txt").string());
  auto needles = read_hash_lines((dir / "needles.txt").string());
  needles.resize(std::min<std::size_t>(needles.size(), 20));
  const auto L = b1::build_host_layout(haystack.data(), haystack.size(), 0);
  for (int t : {31, 70}) {
    const auto want = oracle(haystack, needles, t);
    const auto got = emulate_kernel(L, needles, t, 1);
    EXPECT_EQ(got, want) << first_difference(want, got);
  }
}

}  // namespace
}  // namespace hashmatch::test
