// The Prometheus pull endpoint: GET /metrics on its own address (default 127.0.0.1:9464), serving
// the process's Metrics registry and the GPU collector (civetweb inside prometheus-cpp's Exposer).
#pragma once

#include <memory>
#include <string>

namespace prometheus {
class Exposer;
}

namespace hashmatch::monitoring {

class Metrics;
class GpuCollector;

class MetricsExporter {
 public:
  // Binds `address` ("HOST:PORT"; port 0 picks a free one). Throws hashmatch::IoError when the
  // address cannot be bound. `metrics` and `gpus` must outlive the exporter (gpus may be null).
  MetricsExporter(const std::string& address, Metrics& metrics, std::shared_ptr<GpuCollector> gpus);
  ~MetricsExporter();
  MetricsExporter(const MetricsExporter&) = delete;
  MetricsExporter& operator=(const MetricsExporter&) = delete;

  int port() const { return port_; }

 private:
  std::unique_ptr<prometheus::Exposer> exposer_;
  std::shared_ptr<GpuCollector> gpus_;
  int port_ = 0;
};

}  // namespace hashmatch::monitoring
