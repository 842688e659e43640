// CPU and GPU give identical clusters (skipped without a GPU).
#include <gtest/gtest.h>

#include <random>

#include "host/triage/cluster.h"
#include "tests/testutil/testutil.h"

namespace hashmatch::triage {
namespace {

class TriageGpuTest : public test::GpuTest {};

TEST_F(TriageGpuTest, CpuAndGpuClustersIdentical) {
  const uint32_t seed = std::random_device{}();
  std::printf("seed %u\n", seed);
  std::mt19937_64 rng(seed);
  std::vector<TriageItem> items;
  for (int g = 0; g < 5000; ++g) {
    Hash256 base;
    for (auto& w : base.w) w = rng();
    const int members = 1 + static_cast<int>(rng() % 4);
    for (int m = 0; m < members; ++m) {
      Hash256 h = base;
      const int bits = static_cast<int>(rng() % 40);
      for (int k = 0; k < bits; ++k) {
        const int b = static_cast<int>(rng() % 256);
        h.w[b >> 6] ^= uint64_t{1} << (b & 63);
      }
      TriageItem it;
      it.path = std::to_string(g) + "/" + std::to_string(m);
      it.pdq = h;
      it.pdq_quality = 100;
      std::array<Hash256, kNumDihedral> d;
      d.fill(h);
      d[1].w[0] ^= rng();
      it.dihedral = d;
      items.push_back(it);
    }
  }
  for (bool dihedral : {false, true}) {
    ClusterOptions cpu, gpu;
    cpu.dihedral = gpu.dihedral = dihedral;
    cpu.matcher.backend = Backend::kCpu;
    gpu.matcher.backend = Backend::kCuda;
    gpu.tile = cpu.tile = 4096;
    const ClusterResult a = cluster_items(items, cpu), b = cluster_items(items, gpu);
    EXPECT_EQ(a.cluster_of, b.cluster_of) << "dihedral " << dihedral;
    EXPECT_NE(b.backend.find("cuda"), std::string::npos) << b.backend;
  }
}

}  // namespace
}  // namespace hashmatch::triage
