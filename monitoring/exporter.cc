#include "monitoring/exporter.h"

#include <prometheus/exposer.h>
#include <prometheus/registry.h>

#include <exception>

#include "host/common/error.h"
#include "monitoring/gpu_collector.h"
#include "monitoring/metrics.h"

namespace hashmatch::monitoring {

MetricsExporter::MetricsExporter(const std::string& address, Metrics& metrics,
                                 std::shared_ptr<GpuCollector> gpus)
    : gpus_(std::move(gpus)) {
  try {
    exposer_ = std::make_unique<prometheus::Exposer>(
        std::vector<std::string>{"listening_ports", address, "num_threads", "2"});
  } catch (const std::exception& e) {
    throw IoError("cannot serve metrics on " + address + ": " + e.what());
  }
  exposer_->RegisterCollectable(metrics.registry());
  if (gpus_ && gpus_->available()) exposer_->RegisterCollectable(gpus_);
  const auto ports = exposer_->GetListeningPorts();
  if (!ports.empty()) port_ = ports.front();
}

MetricsExporter::~MetricsExporter() = default;

}  // namespace hashmatch::monitoring
