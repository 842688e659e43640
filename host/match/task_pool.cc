#include "host/match/task_pool.h"

#include "host/common/parallel.h"

namespace hashmatch::match_detail {

TaskPool::TaskPool(int threads) : threads_(threads > 0 ? threads : default_jobs()) {
  for (int i = 1; i < threads_; ++i) workers_.emplace_back([this] { worker(); });
}

TaskPool::~TaskPool() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (auto& t : workers_) t.join();
}

void TaskPool::run_some(Job& job) {
  for (;;) {
    const std::size_t i = job.next.fetch_add(1, std::memory_order_relaxed);
    if (i >= job.n) return;
    try {
      (*job.fn)(i);
    } catch (...) {
      std::lock_guard<std::mutex> lk(job.mu);
      if (!job.error) job.error = std::current_exception();
    }
    if (job.done.fetch_add(1, std::memory_order_acq_rel) + 1 == job.n) {
      std::lock_guard<std::mutex> lk(job.mu);
      job.cv.notify_all();
    }
  }
}

void TaskPool::worker() {
  for (;;) {
    std::shared_ptr<Job> job;
    {
      std::unique_lock<std::mutex> lk(mu_);
      cv_.wait(lk, [&] {
        while (!jobs_.empty() && jobs_.front()->next.load(std::memory_order_relaxed) >=
                                     jobs_.front()->n) {
          jobs_.pop_front();  // fully handed out
        }
        return stop_ || !jobs_.empty();
      });
      if (stop_) return;
      job = jobs_.front();
    }
    run_some(*job);
  }
}

void TaskPool::parallel_for(std::size_t n, const std::function<void(std::size_t)>& fn) {
  if (n == 0) return;
  auto job = std::make_shared<Job>();
  job->fn = &fn;
  job->n = n;
  if (n > 1 && !workers_.empty()) {
    {
      std::lock_guard<std::mutex> lk(mu_);
      jobs_.push_back(job);
    }
    if (n == 2) {
      cv_.notify_one();
    } else {
      cv_.notify_all();
    }
  }
  run_some(*job);
  {
    std::unique_lock<std::mutex> lk(job->mu);
    job->cv.wait(lk, [&] { return job->done.load(std::memory_order_acquire) == job->n; });
  }
  if (job->error) std::rethrow_exception(job->error);
}

}  // namespace hashmatch::match_detail
