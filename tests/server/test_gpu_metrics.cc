// With a GPU: NVML is found at run time and every GPU gets its gauges (skips without a device).
#include <gtest/gtest.h>

#include <set>

#include "kernels/rt/device.h"
#include "monitoring/gpu_collector.h"
#include "tests/testutil/testutil.h"

namespace hashmatch::monitoring {
namespace {

class GpuMetrics : public test::GpuTest {};

TEST_F(GpuMetrics, NvmlReportsEveryVisibleGpu) {
  GpuCollector c;
  ASSERT_TRUE(c.available()) << c.why();
  const auto samples = c.sample();
  ASSERT_GE(samples.size(), list_gpus().size());
  for (const GpuSample& s : samples) {
    EXPECT_FALSE(s.name.empty());
    EXPECT_GT(s.memory_total_bytes, 1e9);
    EXPECT_GE(s.memory_used_bytes, 0);
    EXPECT_GE(s.utilization_ratio, 0);
    EXPECT_LE(s.utilization_ratio, 1);
    EXPECT_GT(s.temperature_celsius, 0);
  }
  const auto families = c.Collect();
  std::set<std::string> names;
  for (const auto& f : families) names.insert(f.name);
  EXPECT_TRUE(names.count("hashmatch_gpu_utilization_ratio"));
  EXPECT_TRUE(names.count("hashmatch_gpu_memory_used_bytes"));
  EXPECT_TRUE(names.count("hashmatch_gpu_temperature_celsius"));
}

}  // namespace
}  // namespace hashmatch::monitoring
