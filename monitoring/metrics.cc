#include "monitoring/metrics.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

namespace hashmatch::monitoring {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;

std::vector<double> Metrics::latency_buckets() {
  return {0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.035, 0.05, 0.075,
          0.1,    0.15,  0.25,  0.5,   1.0,  2.5,  5.0,   10.0, 30.0};
}

std::vector<double> Metrics::batch_size_buckets() {
  std::vector<double> b;
  for (double v = 1; v <= 4096; v *= 2) b.push_back(v);
  return b;
}

Metrics::Metrics() : registry_(std::make_shared<prometheus::Registry>()) {
  auto& r = *registry_;
  build_info_ = &BuildGauge()
                     .Name("hashmatch_build_info")
                     .Help("Build and backend information (value always 1)")
                     .Register(r);
  ready_ = &BuildGauge()
                .Name("hashmatch_ready")
                .Help("1 when the server is ready (lists loaded, not draining)")
                .Register(r);
  requests_ = &BuildCounter()
                   .Name("hashmatch_http_requests_total")
                   .Help("HTTP requests by endpoint (route template) and status code")
                   .Register(r);
  request_seconds_ = &BuildHistogram()
                          .Name("hashmatch_http_request_duration_seconds")
                          .Help("HTTP request latency from routing to response, by endpoint")
                          .Register(r);
  request_bytes_ = &BuildCounter()
                        .Name("hashmatch_http_request_body_bytes_total")
                        .Help("Request body bytes received, by endpoint")
                        .Register(r);
  queue_wait_ = &BuildHistogram()
                     .Name("hashmatch_queue_wait_seconds")
                     .Help("Time a request's first item waited in a batching queue")
                     .Register(r);
  batch_items_ = &BuildHistogram()
                      .Name("hashmatch_batch_items")
                      .Help("Items (frames or hash queries) per dispatched batch")
                      .Register(r);
  batch_seconds_ = &BuildHistogram()
                        .Name("hashmatch_batch_duration_seconds")
                        .Help("Time to execute one batch")
                        .Register(r);
  queue_depth_ = &BuildGauge()
                      .Name("hashmatch_queue_depth")
                      .Help("Items waiting in a batching or decoding queue")
                      .Register(r);
  queue_capacity_ = &BuildGauge()
                         .Name("hashmatch_queue_capacity")
                         .Help("Bound of a queue; beyond it requests get 429")
                         .Register(r);
  in_flight_ =
      &BuildGauge().Name("hashmatch_batches_in_flight").Help("Batches being executed").Register(r);
  rejections_ = &BuildCounter()
                     .Name("hashmatch_queue_rejections_total")
                     .Help("Requests refused because a queue was full (429)")
                     .Register(r);
  batch_failures_ = &BuildCounter()
                         .Name("hashmatch_batch_failures_total")
                         .Help("Batches that failed as a whole (e.g. device out of memory)")
                         .Register(r);
  frames_ = &BuildCounter()
                 .Name("hashmatch_frames_hashed_total")
                 .Help("Images and video frames hashed with PDQ, by backend")
                 .Register(r);
  comparisons_ = &BuildCounter()
                      .Name("hashmatch_comparisons_total")
                      .Help("PDQ hash comparisons (queries x list entries searched), by backend")
                      .Register(r);
  matches_ =
      &BuildCounter().Name("hashmatch_matches_total").Help("Matches reported, by list").Register(r);
  list_entries_ = &BuildGauge()
                       .Name("hashmatch_list_entries")
                       .Help("Entries of each loaded hash list")
                       .Register(r);
  list_reloads_ = &BuildCounter()
                       .Name("hashmatch_list_reloads_total")
                       .Help("List reloads by result (ok, unchanged, error)")
                       .Register(r);
  decode_errors_ = &BuildCounter()
                        .Name("hashmatch_decode_errors_total")
                        .Help("Media that could not be hashed, by reason")
                        .Register(r);
  audit_events_ = &BuildCounter()
                       .Name("hashmatch_audit_events_total")
                       .Help("List changes written to the audit log, by action")
                       .Register(r);
  ready_->Add({}).Set(0);
}

Metrics::~Metrics() = default;

prometheus::Counter& Metrics::counter(prometheus::Family<prometheus::Counter>& f,
                                      std::string_view label, std::string_view value) {
  return f.Add({{std::string(label), std::string(value)}});
}

prometheus::Gauge& Metrics::gauge(prometheus::Family<prometheus::Gauge>& f, std::string_view label,
                                  std::string_view value) {
  return f.Add({{std::string(label), std::string(value)}});
}

prometheus::Histogram& Metrics::histogram(prometheus::Family<prometheus::Histogram>& f,
                                          std::string_view label, std::string_view value,
                                          const std::vector<double>& buckets) {
  return f.Add({{std::string(label), std::string(value)}}, buckets);
}

void Metrics::set_build_info(const BuildInfo& info) {
  std::lock_guard<std::mutex> lk(build_mu_);
  if (build_gauge_) build_info_->Remove(build_gauge_);
  build_gauge_ = &build_info_->Add({{"version", info.version},
                                    {"cuda", info.cuda},
                                    {"cuda_architectures", info.cuda_architectures},
                                    {"pdq_backend", info.pdq_backend}});
  build_gauge_->Set(1);
}

void Metrics::set_ready(bool ready) { ready_->Add({}).Set(ready ? 1 : 0); }

void Metrics::observe_request(std::string_view endpoint, int status, double seconds) {
  requests_->Add({{"endpoint", std::string(endpoint)}, {"code", std::to_string(status)}})
      .Increment();
  static const std::vector<double> buckets = latency_buckets();
  histogram(*request_seconds_, "endpoint", endpoint, buckets).Observe(seconds);
}

void Metrics::add_request_bytes(std::string_view endpoint, uint64_t bytes) {
  counter(*request_bytes_, "endpoint", endpoint).Increment(static_cast<double>(bytes));
}

void Metrics::observe_queue_wait(std::string_view queue, double seconds) {
  static const std::vector<double> buckets = latency_buckets();
  histogram(*queue_wait_, "queue", queue, buckets).Observe(seconds);
}

void Metrics::observe_batch(std::string_view queue, std::size_t items, double seconds) {
  static const std::vector<double> sizes = batch_size_buckets();
  static const std::vector<double> buckets = latency_buckets();
  histogram(*batch_items_, "queue", queue, sizes).Observe(static_cast<double>(items));
  histogram(*batch_seconds_, "queue", queue, buckets).Observe(seconds);
}

void Metrics::declare_queue(std::string_view queue, double capacity) {
  gauge(*queue_capacity_, "queue", queue).Set(capacity);
  gauge(*queue_depth_, "queue", queue).Set(0);
  gauge(*in_flight_, "queue", queue);
  counter(*rejections_, "queue", queue);
  counter(*batch_failures_, "queue", queue);
}

void Metrics::set_queue_depth(std::string_view queue, double items) {
  gauge(*queue_depth_, "queue", queue).Set(items);
}

void Metrics::set_queue_capacity(std::string_view queue, double items) {
  gauge(*queue_capacity_, "queue", queue).Set(items);
}

void Metrics::add_in_flight(std::string_view queue, int delta) {
  gauge(*in_flight_, "queue", queue).Increment(delta);
}

void Metrics::add_rejection(std::string_view queue) {
  counter(*rejections_, "queue", queue).Increment();
}

void Metrics::add_batch_failure(std::string_view queue) {
  counter(*batch_failures_, "queue", queue).Increment();
}

void Metrics::add_frames_hashed(std::string_view backend, uint64_t frames) {
  counter(*frames_, "backend", backend).Increment(static_cast<double>(frames));
}

void Metrics::add_comparisons(std::string_view backend, double comparisons) {
  counter(*comparisons_, "backend", backend).Increment(comparisons);
}

void Metrics::add_matches(std::string_view list, uint64_t matches) {
  counter(*matches_, "list", list).Increment(static_cast<double>(matches));
}

void Metrics::set_list_entries(const std::map<std::string, double>& entries_by_list) {
  std::lock_guard<std::mutex> lk(lists_mu_);
  for (auto it = list_gauges_.begin(); it != list_gauges_.end();) {
    if (!entries_by_list.count(it->first)) {
      list_entries_->Remove(it->second);
      it = list_gauges_.erase(it);
    } else {
      ++it;
    }
  }
  for (const auto& [name, n] : entries_by_list) {
    auto& g = list_gauges_[name];
    if (!g) g = &list_entries_->Add({{"list", name}});
    g->Set(n);
  }
}

void Metrics::add_list_reload(std::string_view result) {
  counter(*list_reloads_, "result", result).Increment();
}

void Metrics::add_decode_error(std::string_view reason) {
  counter(*decode_errors_, "reason", reason.empty() ? "unknown" : reason).Increment();
}

void Metrics::add_audit_event(std::string_view action) {
  counter(*audit_events_, "action", action).Increment();
}

std::string Metrics::render() const {
  prometheus::TextSerializer s;
  return s.Serialize(registry_->Collect());
}

}  // namespace hashmatch::monitoring
