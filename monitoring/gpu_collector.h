// GPU gauges read through NVML at scrape time.
//
// NVML (libnvidia-ml.so.1) is loaded with dlopen when the collector is created, so the binary
// runs on machines without a driver: no library or no device means no GPU series (and `why()`
// says so), never a failure. Series, per device (labels gpu = NVML index, name, uuid):
//   hashmatch_gpu_utilization_ratio        share of the last sample period a kernel ran (0..1)
//   hashmatch_gpu_memory_used_bytes / hashmatch_gpu_memory_total_bytes
//   hashmatch_gpu_temperature_celsius
//   hashmatch_gpu_power_watts
// HASHMATCH_NVML_LIBRARY overrides the library name (tests point it at a missing file).
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <memory>
#include <string>
#include <vector>

namespace hashmatch::monitoring {

struct GpuSample {
  unsigned index = 0;
  std::string name, uuid;
  double utilization_ratio = -1;  // -1: not available
  double memory_used_bytes = -1, memory_total_bytes = -1;
  double temperature_celsius = -1;
  double power_watts = -1;
};

class GpuCollector : public prometheus::Collectable {
 public:
  GpuCollector();
  ~GpuCollector() override;
  GpuCollector(const GpuCollector&) = delete;
  GpuCollector& operator=(const GpuCollector&) = delete;

  // True when NVML was loaded and initialised.
  bool available() const;
  // Why there are no GPU series ("" when available).
  const std::string& why() const { return why_; }
  // Current readings of every device (empty without NVML).
  std::vector<GpuSample> sample() const;

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  struct Nvml;
  std::unique_ptr<Nvml> nvml_;
  std::string why_;
};

}  // namespace hashmatch::monitoring
