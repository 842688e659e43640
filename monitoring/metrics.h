// The metrics of a hashmatch process, in one place, named as Prometheus wants them: base units
// (seconds, bytes, ratios), `_total` for counters, a `hashmatch_` prefix. The server (host/server)
// reports through this narrow interface; nothing here knows about HTTP, lists or GPUs beyond the
// label values it is handed.
//
// Series (labels in braces):
//   hashmatch_build_info{version,cuda,cuda_architectures,pdq_backend}       gauge, always 1
//   hashmatch_ready                                                         gauge 0/1
//   hashmatch_http_requests_total{endpoint,code}                            counter
//   hashmatch_http_request_duration_seconds{endpoint}                       histogram
//   hashmatch_http_request_body_bytes_total{endpoint}                       counter
//   hashmatch_queue_wait_seconds{queue}                                     histogram
//   hashmatch_batch_items{queue}                                            histogram (batch sizes)
//   hashmatch_batch_duration_seconds{queue}                                 histogram
//   hashmatch_queue_depth{queue}           items waiting                    gauge
//   hashmatch_queue_capacity{queue}        bound of the queue               gauge
//   hashmatch_batches_in_flight{queue}                                      gauge
//   hashmatch_queue_rejections_total{queue}     full queue -> 429           counter
//   hashmatch_batch_failures_total{queue}                                   counter
//   hashmatch_frames_hashed_total{backend}     images and video frames      counter
//   hashmatch_comparisons_total{backend}       PDQ distance computations    counter
//   hashmatch_matches_total{list}                                           counter
//   hashmatch_list_entries{list}                                            gauge
//   hashmatch_list_reloads_total{result}       ok | unchanged | error       counter
//   hashmatch_decode_errors_total{reason}      truncated, corrupt, ...      counter
//   hashmatch_audit_events_total{action}                                    counter
// and, per visible GPU (NVML; none without a driver), see gpu_collector.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace prometheus {
class Registry;
class Counter;
class Gauge;
class Histogram;
template <typename T>
class Family;
}  // namespace prometheus

namespace hashmatch::monitoring {

struct BuildInfo {
  std::string version;
  std::string cuda;                // "13.0", or "none"
  std::string cuda_architectures;  // "80-real 90a-real", or ""
  std::string pdq_backend;         // the hashing backend in use, e.g. "cpu", "cuda"
};

// Thread-safe: every method may be called from any thread.
class Metrics {
 public:
  Metrics();
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  std::shared_ptr<prometheus::Registry> registry() const { return registry_; }

  void set_build_info(const BuildInfo& info);
  void set_ready(bool ready);

  // One finished HTTP request: endpoint is the route template ("/v1/hash", "/v1/lists/{name}").
  void observe_request(std::string_view endpoint, int status, double seconds);
  void add_request_bytes(std::string_view endpoint, uint64_t bytes);

  // Batching: `queue` names a queue ("pdq-cpu", "pdq-cuda0", "match", "decode", "video").
  // Creates the queue's series at zero (so rates start from 0 rather than from the first event).
  void declare_queue(std::string_view queue, double capacity);
  void observe_queue_wait(std::string_view queue, double seconds);
  void observe_batch(std::string_view queue, std::size_t items, double seconds);
  void set_queue_depth(std::string_view queue, double items);
  void set_queue_capacity(std::string_view queue, double items);
  void add_in_flight(std::string_view queue, int delta);
  void add_rejection(std::string_view queue);
  void add_batch_failure(std::string_view queue);

  void add_frames_hashed(std::string_view backend, uint64_t frames);
  void add_comparisons(std::string_view backend, double comparisons);
  void add_matches(std::string_view list, uint64_t matches);
  // Replaces the list-size series (lists that vanished lose theirs).
  void set_list_entries(const std::map<std::string, double>& entries_by_list);
  void add_list_reload(std::string_view result);
  void add_decode_error(std::string_view reason);
  void add_audit_event(std::string_view action);

  // The text exposition of everything registered (what /metrics serves); for tests and tools.
  std::string render() const;

  // Histogram bucket bounds (exposed for tests and the dashboard).
  static std::vector<double> latency_buckets();     // 0.5 ms .. 30 s
  static std::vector<double> batch_size_buckets();  // 1, 2, 4, .. 4096

 private:
  prometheus::Counter& counter(prometheus::Family<prometheus::Counter>& f, std::string_view label,
                               std::string_view value);
  prometheus::Gauge& gauge(prometheus::Family<prometheus::Gauge>& f, std::string_view label,
                           std::string_view value);
  prometheus::Histogram& histogram(prometheus::Family<prometheus::Histogram>& f,
                                   std::string_view label, std::string_view value,
                                   const std::vector<double>& buckets);

  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Gauge>* build_info_;
  prometheus::Family<prometheus::Gauge>* ready_;
  prometheus::Family<prometheus::Counter>* requests_;
  prometheus::Family<prometheus::Histogram>* request_seconds_;
  prometheus::Family<prometheus::Counter>* request_bytes_;
  prometheus::Family<prometheus::Histogram>* queue_wait_;
  prometheus::Family<prometheus::Histogram>* batch_items_;
  prometheus::Family<prometheus::Histogram>* batch_seconds_;
  prometheus::Family<prometheus::Gauge>* queue_depth_;
  prometheus::Family<prometheus::Gauge>* queue_capacity_;
  prometheus::Family<prometheus::Gauge>* in_flight_;
  prometheus::Family<prometheus::Counter>* rejections_;
  prometheus::Family<prometheus::Counter>* batch_failures_;
  prometheus::Family<prometheus::Counter>* frames_;
  prometheus::Family<prometheus::Counter>* comparisons_;
  prometheus::Family<prometheus::Counter>* matches_;
  prometheus::Family<prometheus::Gauge>* list_entries_;
  prometheus::Family<prometheus::Counter>* list_reloads_;
  prometheus::Family<prometheus::Counter>* decode_errors_;
  prometheus::Family<prometheus::Counter>* audit_events_;

  std::mutex lists_mu_;
  std::map<std::string, prometheus::Gauge*> list_gauges_;
  std::mutex build_mu_;
  prometheus::Gauge* build_gauge_ = nullptr;
};

}  // namespace hashmatch::monitoring
