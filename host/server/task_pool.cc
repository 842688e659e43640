#include "host/server/task_pool.h"

#include <cstdio>
#include <exception>

namespace hashmatch::server {

TaskPool::TaskPool(std::string name, int threads, std::size_t max_queue,
                   std::shared_ptr<BatcherObserver> observer)
    : name_(std::move(name)),
      max_queue_(max_queue),
      observer_(observer ? std::move(observer) : std::make_shared<BatcherObserver>()) {
  if (threads < 1) threads = 1;
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { run(); });
}

TaskPool::~TaskPool() { shutdown(); }

bool TaskPool::try_submit(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (stopping_) return false;
    if (queue_.size() >= max_queue_) {
      observer_->on_rejected();
      return false;
    }
    queue_.push_back({std::move(task), std::chrono::steady_clock::now()});
    observer_->on_depth(queue_.size(), 0);
  }
  cv_.notify_one();
  return true;
}

void TaskPool::set_max_queue(std::size_t n) {
  std::lock_guard<std::mutex> lk(mu_);
  max_queue_ = n;
}

void TaskPool::shutdown() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

std::size_t TaskPool::depth() const {
  std::lock_guard<std::mutex> lk(mu_);
  return queue_.size();
}

std::size_t TaskPool::max_queue() const {
  std::lock_guard<std::mutex> lk(mu_);
  return max_queue_;
}

std::size_t TaskPool::escaped_exceptions() const {
  std::lock_guard<std::mutex> lk(mu_);
  return escaped_;
}

void TaskPool::run() {
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock<std::mutex> lk(mu_);
      cv_.wait(lk, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      task = std::move(queue_.front().task);
      observer_->on_queue_wait(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - queue_.front().since)
              .count());
      queue_.pop_front();
      observer_->on_depth(queue_.size(), 0);
    }
    try {
      task();
    } catch (const std::exception& e) {
      std::lock_guard<std::mutex> lk(mu_);
      ++escaped_;
      std::fprintf(stderr, "hashmatch serve: %s: task failed: %s\n", name_.c_str(), e.what());
    } catch (...) {
      std::lock_guard<std::mutex> lk(mu_);
      ++escaped_;
      std::fprintf(stderr, "hashmatch serve: %s: task failed\n", name_.c_str());
    }
  }
}

}  // namespace hashmatch::server
