#include "host/server/pdq_queues.h"

#include <cstdio>
#include <exception>

#include "host/common/error.h"

namespace hashmatch::server {

bool is_sticky_device_error(const std::string& message) {
  static const char* const kSticky[] = {
      "cudaErrorIllegalAddress",     "cudaErrorLaunchFailure",
      "cudaErrorHardwareStackError", "cudaErrorIllegalInstruction",
      "cudaErrorMisalignedAddress",  "cudaErrorInvalidAddressSpace",
      "cudaErrorInvalidPc",          "cudaErrorECCUncorrectable",
      "cudaErrorLaunchTimeout",      "cudaErrorAssert",
      "cudaErrorDevicesUnavailable", "cudaErrorUnknown",
  };
  for (const char* s : kSticky) {
    if (message.find(s) != std::string::npos) return true;
  }
  return false;
}

PdqQueues::PdqQueues(std::vector<PdqQueueSpec> specs, const BatcherOptions& opts,
                     monitoring::Metrics& metrics, std::function<PdqQueueSpec()> fallback)
    : metrics_(metrics), fallback_(std::move(fallback)), opts_(opts) {
  for (PdqQueueSpec& s : specs) add_queue(std::move(s), opts);
}

PdqQueues::~PdqQueues() { shutdown(); }

PdqQueues::Queue* PdqQueues::add_queue(PdqQueueSpec spec, const BatcherOptions& opts) {
  auto q = std::make_unique<Queue>();
  q->name = spec.name;
  q->backend = spec.backend;
  q->slots = std::move(spec.slots);
  Queue* qp = q.get();
  auto execute = [this, qp](int slot, std::span<const Image* const> items,
                            std::span<pdq::PdqDihedral> out) {
    std::vector<pdq::PdqDihedral> r;
    try {
      r = qp->slots[slot]->hash(items);
    } catch (const std::exception& e) {
      const std::string msg = e.what();
      if (qp->backend != "cpu" && is_sticky_device_error(msg) && qp->healthy.exchange(false)) {
        {
          std::lock_guard<std::mutex> lk(mu_);
          why_ = qp->name + " unhealthy after a sticky device error (" + msg + ")";
        }
        degraded_.store(true);
        std::fprintf(stderr, "hashmatch serve: %s marked unhealthy: %s; its work moves on\n",
                     qp->name.c_str(), msg.c_str());
      }
      throw;  // the batch fails (counted by the batcher's observer)
    }
    if (r.size() != out.size()) throw Error("PDQ backend returned a wrong number of hashes");
    for (std::size_t i = 0; i < r.size(); ++i) out[i] = r[i];
    metrics_.add_frames_hashed(qp->backend, items.size());
  };
  q->batcher =
      std::make_unique<PdqBatcher>(q->name, opts, static_cast<int>(q->slots.size()), execute,
                                   std::make_shared<QueueMetrics>(metrics_, q->name));
  metrics_.declare_queue(q->name, static_cast<double>(opts.max_queue_items));
  metrics_.add_frames_hashed(q->backend, 0);
  std::lock_guard<std::mutex> lk(mu_);
  queues_.push_back(std::move(q));
  return qp;
}

PdqQueues::Queue* PdqQueues::pick() {
  std::vector<Queue*> healthy;
  {
    std::lock_guard<std::mutex> lk(mu_);
    for (auto& q : queues_) {
      if (q->healthy.load()) healthy.push_back(q.get());
    }
  }
  if (healthy.empty()) {
    // Every GPU queue failed: frames go to the CPU from now on (the queue is made once).
    std::lock_guard<std::mutex> fl(fallback_mu_);
    {
      std::lock_guard<std::mutex> lk(mu_);
      for (auto& q : queues_) {
        if (q->healthy.load()) return q.get();  // made meanwhile by another thread
      }
    }
    if (!fallback_) return nullptr;
    auto make = std::move(fallback_);
    fallback_ = nullptr;
    BatcherOptions o;
    {
      std::lock_guard<std::mutex> lk(mu_);
      o = opts_;
    }
    Queue* q = add_queue(make(), o);
    std::fprintf(stderr, "hashmatch serve: no healthy GPU queue left: hashing on %s\n",
                 q->name.c_str());
    return q;
  }
  // The least loaded; ties round-robin.
  const unsigned start = next_.fetch_add(1, std::memory_order_relaxed);
  Queue* best = nullptr;
  std::size_t best_depth = 0;
  for (std::size_t k = 0; k < healthy.size(); ++k) {
    Queue* q = healthy[(start + k) % healthy.size()];
    const std::size_t d = q->batcher->depth();
    if (!best || d < best_depth) {
      best = q;
      best_depth = d;
    }
  }
  return best;
}

std::shared_ptr<PdqBatcher::Ticket> PdqQueues::submit(std::vector<Image> frames, uint64_t cost,
                                                      bool count_rejection) {
  Queue* q = pick();
  if (!q) throw Error("no PDQ queue can take work (every device failed and no CPU fallback)");
  return q->batcher->submit(std::move(frames), cost, count_rejection);
}

void PdqQueues::set_options(const BatcherOptions& opts) {
  std::vector<Queue*> all;
  {
    std::lock_guard<std::mutex> lk(mu_);
    opts_ = opts;
    for (auto& q : queues_) all.push_back(q.get());
  }
  for (Queue* q : all) {
    q->batcher->set_options(opts);
    metrics_.set_queue_capacity(q->name, static_cast<double>(opts.max_queue_items));
  }
}

void PdqQueues::shutdown() {
  std::vector<Queue*> all;
  {
    std::lock_guard<std::mutex> lk(mu_);
    for (auto& q : queues_) all.push_back(q.get());
  }
  for (Queue* q : all) q->batcher->shutdown();
}

bool PdqQueues::healthy(std::string* why) const {
  if (!degraded_.load()) return true;
  if (why) {
    std::lock_guard<std::mutex> lk(mu_);
    *why = why_;
  }
  return false;
}

std::string PdqQueues::backend() const {
  std::lock_guard<std::mutex> lk(mu_);
  return queues_.empty() ? "" : queues_.front()->backend;
}

}  // namespace hashmatch::server
