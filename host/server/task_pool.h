// A fixed set of threads with a bounded queue of tasks (the decoding pool). try_submit refuses
// when the queue is full (the server's 429) instead of letting it grow. Tasks must not throw; one
// that does is caught and counted (no exception escapes a worker thread).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "host/server/batcher.h"

namespace hashmatch::server {

class TaskPool {
 public:
  // `observer` (e.g. QueueMetrics) hears of the queue as a batcher's: on_depth at every push and
  // pop (under the pool's lock, so the last depth reported is the queue's), on_queue_wait when a
  // task leaves the queue for a thread, on_rejected when a full queue refuses one.
  TaskPool(std::string name, int threads, std::size_t max_queue,
           std::shared_ptr<BatcherObserver> observer = nullptr);
  ~TaskPool();  // runs what is queued, then joins
  TaskPool(const TaskPool&) = delete;
  TaskPool& operator=(const TaskPool&) = delete;

  // false when the queue is full or the pool is shutting down.
  bool try_submit(std::function<void()> task);
  void set_max_queue(std::size_t n);
  void shutdown();

  std::size_t depth() const;
  std::size_t max_queue() const;
  int threads() const { return static_cast<int>(threads_.size()); }
  std::size_t escaped_exceptions() const;

 private:
  void run();
  std::string name_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  struct Queued {
    std::function<void()> task;
    std::chrono::steady_clock::time_point since;
  };
  std::deque<Queued> queue_;
  std::size_t max_queue_;
  bool stopping_ = false;
  std::size_t escaped_ = 0;
  std::vector<std::thread> threads_;
  std::shared_ptr<BatcherObserver> observer_;
};

}  // namespace hashmatch::server
