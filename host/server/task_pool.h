// A fixed set of threads with a bounded queue of tasks (the decoding pool). try_submit refuses
// when the queue is full (the server's 429) instead of letting it grow. Tasks must not throw; one
// that does is caught and counted (no exception escapes a worker thread).
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace hashmatch::server {

class TaskPool {
 public:
  TaskPool(std::string name, int threads, std::size_t max_queue);
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
  std::deque<std::function<void()>> queue_;
  std::size_t max_queue_;
  bool stopping_ = false;
  std::size_t escaped_ = 0;
  std::vector<std::thread> threads_;
};

}  // namespace hashmatch::server
