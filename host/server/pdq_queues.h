// The PDQ frame queues of the server: one per GPU (or one CPU queue), each a DynamicBatcher whose
// slots own a FrameHasher. Picks the least loaded healthy queue for each submission.
//
// Device health (STYLE.md): an out-of-memory or any other failed batch fails only that batch
// (counted, the server goes on). A sticky CUDA error (illegal address, launch failure, ECC ...:
// the device context is unusable) marks that queue unhealthy: it takes no more work, healthy()
// turns false (readiness reports it), and when no healthy GPU queue is left the frames go to a CPU
// queue made on first need.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "host/image/image.h"
#include "host/pdq/pdq.h"
#include "host/server/batcher.h"
#include "host/server/frame_hasher.h"
#include "host/server/queue_metrics.h"
#include "monitoring/metrics.h"

namespace hashmatch::server {

using PdqBatcher = DynamicBatcher<Image, pdq::PdqDihedral>;

// True for CUDA errors after which the device context cannot be used again.
bool is_sticky_device_error(const std::string& message);

class PdqQueues {
 public:
  // `fallback` makes the CPU queue used once every GPU queue is unhealthy (called at most once).
  PdqQueues(std::vector<PdqQueueSpec> specs, const BatcherOptions& opts,
            monitoring::Metrics& metrics, std::function<PdqQueueSpec()> fallback);
  ~PdqQueues();

  // Queues the frames (all or none) on the least loaded healthy queue.
  std::shared_ptr<PdqBatcher::Ticket> submit(std::vector<Image> frames, uint64_t cost,
                                             bool count_rejection = true);

  void set_options(const BatcherOptions& opts);
  void shutdown();

  // False once a queue was marked unhealthy; `why` says which and why.
  bool healthy(std::string* why = nullptr) const;
  std::string backend() const;  // of the first queue ("cpu", "cuda")

 private:
  struct Queue {
    std::string name;
    std::string backend;
    std::vector<std::unique_ptr<FrameHasher>> slots;
    std::unique_ptr<PdqBatcher> batcher;
    std::atomic<bool> healthy{true};
  };
  Queue* add_queue(PdqQueueSpec spec, const BatcherOptions& opts);
  Queue* pick();

  monitoring::Metrics& metrics_;
  std::mutex fallback_mu_;  // one fallback queue, made once
  std::function<PdqQueueSpec()> fallback_;
  mutable std::mutex mu_;  // guards queues_ (appends), why_, opts_
  std::vector<std::unique_ptr<Queue>> queues_;
  BatcherOptions opts_;
  std::string why_;
  std::atomic<bool> degraded_{false};
  std::atomic<unsigned> next_{0};
};

}  // namespace hashmatch::server
