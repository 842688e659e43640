// Reports a batcher's activity to the process metrics under one queue name.
#pragma once

#include <string>

#include "host/server/batcher.h"
#include "monitoring/metrics.h"

namespace hashmatch::server {

class QueueMetrics : public BatcherObserver {
 public:
  QueueMetrics(monitoring::Metrics& m, std::string queue) : m_(m), queue_(std::move(queue)) {}
  void on_depth(std::size_t items, uint64_t) override {
    m_.set_queue_depth(queue_, static_cast<double>(items));
  }
  void on_queue_wait(double s) override { m_.observe_queue_wait(queue_, s); }
  void on_batch(std::size_t items, double s, bool ok) override {
    m_.observe_batch(queue_, items, s);
    if (!ok) m_.add_batch_failure(queue_);
  }
  void on_in_flight(int d) override { m_.add_in_flight(queue_, d); }
  void on_rejected() override { m_.add_rejection(queue_); }

 private:
  monitoring::Metrics& m_;
  std::string queue_;
};

}  // namespace hashmatch::server
