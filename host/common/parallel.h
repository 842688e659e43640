// Ordered parallel map: items 0..n-1 are processed by `jobs` threads and their results emitted in
// index order on the calling thread. At most `window` results wait for emission, so memory stays
// bounded however many items there are. `work` must not throw (catch per item).
#pragma once

#include <algorithm>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace hashmatch {

template <typename R>
void ordered_parallel_map(std::size_t n, int jobs, const std::function<R(std::size_t)>& work,
                          const std::function<void(std::size_t, R&)>& emit,
                          std::size_t window = 0) {
  if (jobs < 1) jobs = 1;
  if (window == 0) window = std::size_t(jobs) * 4;
  if (jobs == 1 || n <= 1) {
    for (std::size_t i = 0; i < n; ++i) {
      R r = work(i);
      emit(i, r);
    }
    return;
  }
  std::mutex mu;
  std::condition_variable cv_done, cv_room;
  std::deque<std::optional<R>> pending;  // results for indices [base, base + pending.size())
  std::size_t base = 0, next = 0;
  auto worker = [&] {
    for (;;) {
      std::size_t i;
      {
        std::unique_lock<std::mutex> lk(mu);
        cv_room.wait(lk, [&] { return next >= n || next < base + window; });
        if (next >= n) return;
        i = next++;
        if (pending.size() < i - base + 1) pending.resize(i - base + 1);
      }
      R r = work(i);
      {
        std::lock_guard<std::mutex> lk(mu);
        pending[i - base] = std::move(r);
      }
      cv_done.notify_one();
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < jobs; ++t) threads.emplace_back(worker);
  for (std::size_t emitted = 0; emitted < n; ++emitted) {
    R r;
    {
      std::unique_lock<std::mutex> lk(mu);
      cv_done.wait(lk, [&] { return !pending.empty() && pending.front().has_value(); });
      r = std::move(*pending.front());
      pending.pop_front();
      ++base;
    }
    cv_room.notify_all();
    emit(emitted, r);
  }
  for (auto& t : threads) t.join();
}

// Number of worker threads to use by default: HASHMATCH_THREADS, else the hardware concurrency.
int default_jobs();

}  // namespace hashmatch
