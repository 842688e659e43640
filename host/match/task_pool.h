// A small persistent thread pool for the CPU matchers: parallel_for over task indices, callable
// from several threads at once (each call is a job; idle workers help whichever job has work
// left, and the calling thread works on its own job too, so a call never waits for a free worker).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace hashmatch::match_detail {

class TaskPool {
 public:
  // `threads` in total, the caller included: threads - 1 workers are started (0: all cores).
  explicit TaskPool(int threads);
  ~TaskPool();
  TaskPool(const TaskPool&) = delete;
  TaskPool& operator=(const TaskPool&) = delete;

  int threads() const { return threads_; }

  // Runs fn(i) for every i in [0, n) and returns when all have finished. The first exception
  // thrown by fn is rethrown here (the remaining tasks still run).
  void parallel_for(std::size_t n, const std::function<void(std::size_t)>& fn);

 private:
  struct Job {
    const std::function<void(std::size_t)>* fn = nullptr;
    std::size_t n = 0;
    std::atomic<std::size_t> next{0};
    std::atomic<std::size_t> done{0};
    std::mutex mu;
    std::condition_variable cv;
    std::exception_ptr error;
  };
  static void run_some(Job& job);
  void worker();

  int threads_ = 1;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Job>> jobs_;
  bool stop_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace hashmatch::match_detail
