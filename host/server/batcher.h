// A dynamic batcher after Triton's dynamic_batch_scheduler: items from many requests go into one
// bounded queue; a batch is dispatched when it holds `max_batch` items or when its oldest item has
// waited `max_queue_delay`. `slots` worker threads each execute one batch at a time, so up to
// `slots` batches are in flight; the executor keeps one backend state per slot (a CPU hasher; a
// CUDA stream with its pinned buffers), so no slot shares mutable state with another.
//
// Bounded: a submission that would take the queue past `max_queue_items` items or `max_queue_cost`
// (e.g. bytes of decoded pixels) is refused at once (Status::kQueueFull, the server's 429): memory
// never grows with the offered load. A submission larger than the whole queue is kTooLarge.
//
// The items of one submission may be spread over several batches; the ticket completes when all
// are done. No exception escapes a worker thread: an executor that throws fails the items of that
// batch (kFailed with the message), and the batcher goes on.
//
// Shutdown drains: shutdown() refuses new submissions, dispatches everything queued without
// waiting for the delay, and joins the workers when the queue is empty.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

namespace hashmatch::server {

struct Status {
  enum Code { kOk, kQueueFull, kTooLarge, kShuttingDown, kFailed, kTimeout };
  Code code = kOk;
  std::string message;
  bool ok() const { return code == kOk; }
  static Status error(Code c, std::string m) { return {c, std::move(m)}; }
};

// Receives what the batcher does (metrics). Every method may be called from any thread.
class BatcherObserver {
 public:
  virtual ~BatcherObserver() = default;
  virtual void on_depth(std::size_t items, uint64_t cost) {}
  virtual void on_queue_wait(double seconds) {}
  virtual void on_batch(std::size_t items, double seconds, bool ok) {}
  virtual void on_in_flight(int delta) {}
  virtual void on_rejected() {}
};

struct BatcherOptions {
  std::size_t max_batch = 64;
  std::chrono::nanoseconds max_queue_delay = std::chrono::milliseconds(2);
  std::size_t max_queue_items = 1024;
  uint64_t max_queue_cost = UINT64_MAX;
};

template <typename In, typename Out>
class DynamicBatcher {
 public:
  using Clock = std::chrono::steady_clock;
  // Executes one batch on worker `slot` (0..slots-1): fills out[i] for items[i]. May throw.
  using Execute =
      std::function<void(int slot, std::span<const In* const> items, std::span<Out> out)>;

  class Ticket;

  DynamicBatcher(std::string name, BatcherOptions opts, int slots, Execute execute,
                 std::shared_ptr<BatcherObserver> observer = nullptr)
      : name_(std::move(name)),
        opts_(opts),
        execute_(std::move(execute)),
        observer_(observer ? std::move(observer) : std::make_shared<BatcherObserver>()) {
    if (slots < 1) slots = 1;
    if (opts_.max_batch < 1) opts_.max_batch = 1;
    for (int s = 0; s < slots; ++s) workers_.emplace_back([this, s] { worker(s); });
  }

  ~DynamicBatcher() { shutdown(); }
  DynamicBatcher(const DynamicBatcher&) = delete;
  DynamicBatcher& operator=(const DynamicBatcher&) = delete;

  const std::string& name() const { return name_; }
  int slots() const { return static_cast<int>(workers_.size()); }

  // Changes the knobs of a running batcher (SIGHUP). Items already queued stay.
  void set_options(const BatcherOptions& opts) {
    std::lock_guard<std::mutex> lk(mu_);
    opts_ = opts;
    if (opts_.max_batch < 1) opts_.max_batch = 1;
    cv_.notify_all();
  }
  BatcherOptions options() const {
    std::lock_guard<std::mutex> lk(mu_);
    return opts_;
  }

  // Queues `items` (all or none) with a total `cost`. On refusal the returned ticket is done and
  // its status says why. `count_rejection`: a full queue counts as a refused request
  // (observer's on_rejected); a caller that retries (a video's frames wait for room) says false.
  std::shared_ptr<Ticket> submit(std::vector<In> items, uint64_t cost = 0,
                                 bool count_rejection = true) {
    auto t = std::shared_ptr<Ticket>(new Ticket(std::move(items), cost));
    if (t->items_.empty()) {
      t->finish(Status{});
      return t;
    }
    {
      std::lock_guard<std::mutex> lk(mu_);
      if (stopping_) {
        t->finish(Status::error(Status::kShuttingDown, name_ + ": shutting down"));
        return t;
      }
      if (t->items_.size() > opts_.max_queue_items || cost > opts_.max_queue_cost) {
        t->finish(Status::error(
            Status::kTooLarge,
            name_ + ": request of " + std::to_string(t->items_.size()) + " items (" +
                std::to_string(cost) + " bytes) exceeds the queue capacity of " +
                std::to_string(opts_.max_queue_items) + " items / " +
                (opts_.max_queue_cost == UINT64_MAX ? std::string("unlimited")
                                                    : std::to_string(opts_.max_queue_cost)) +
                " bytes"));
        return t;
      }
      if (queue_.size() + t->items_.size() > opts_.max_queue_items ||
          queued_cost_ + cost > opts_.max_queue_cost) {
        if (count_rejection) observer_->on_rejected();
        t->finish(Status::error(Status::kQueueFull, name_ + ": queue full"));
        return t;
      }
      t->remaining_ = t->items_.size();
      t->submitted_ = Clock::now();
      queued_cost_ += cost;
      // The cost is released with the ticket's last item taken from the queue.
      for (std::size_t i = 0; i < t->items_.size(); ++i) queue_.push_back({t, i, t->submitted_});
      observer_->on_depth(queue_.size(), queued_cost_);
    }
    cv_.notify_one();
    return t;
  }

  // Refuses new work, dispatches what is queued (without waiting for the delay), joins workers.
  void shutdown() {
    {
      std::lock_guard<std::mutex> lk(mu_);
      if (stopping_ && workers_.empty()) return;
      stopping_ = true;
    }
    cv_.notify_all();
    for (auto& w : workers_) {
      if (w.joinable()) w.join();
    }
    workers_.clear();
  }

  std::size_t depth() const {
    std::lock_guard<std::mutex> lk(mu_);
    return queue_.size();
  }

  class Ticket {
   public:
    // Blocks until every item is done (or the submission was refused).
    const Status& wait() {
      std::unique_lock<std::mutex> lk(mu_);
      cv_.wait(lk, [&] { return done_; });
      return status_;
    }
    // false when `timeout` passed first.
    bool wait_for(std::chrono::nanoseconds timeout) {
      std::unique_lock<std::mutex> lk(mu_);
      return cv_.wait_for(lk, timeout, [&] { return done_; });
    }
    bool done() const {
      std::lock_guard<std::mutex> lk(mu_);
      return done_;
    }
    const Status& status() const { return status_; }  // after wait()
    std::vector<Out>& results() { return results_; }  // after wait(), when status().ok()
    const std::vector<In>& items() const { return items_; }
    // The items back, from a refused submission (to submit them again later).
    std::vector<In> release_items() { return std::move(items_); }
    // Seconds the first item waited in the queue (after wait()).
    double queue_wait_seconds() const { return queue_wait_; }

   private:
    friend class DynamicBatcher;
    Ticket(std::vector<In> items, uint64_t cost)
        : items_(std::move(items)), results_(items_.size()), cost_(cost) {}
    void finish(Status s) {
      {
        std::lock_guard<std::mutex> lk(mu_);
        status_ = std::move(s);
        done_ = true;
      }
      cv_.notify_all();
    }
    // Called by workers (each item exactly once).
    void item_done(std::size_t n, const Status* failure) {
      bool last = false;
      {
        std::lock_guard<std::mutex> lk(mu_);
        if (failure && status_.ok()) status_ = *failure;
        remaining_ -= n;
        last = remaining_ == 0;
        if (last) done_ = true;
      }
      if (last) cv_.notify_all();
    }

    std::vector<In> items_;
    std::vector<Out> results_;
    uint64_t cost_ = 0;
    std::size_t taken_ = 0;  // items taken off the queue (under the batcher's lock)
    Clock::time_point submitted_{};
    double queue_wait_ = 0;
    bool first_dispatched_ = false;  // under the batcher's lock
    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::size_t remaining_ = 0;
    bool done_ = false;
    Status status_;
  };

 private:
  struct Entry {
    std::shared_ptr<Ticket> ticket;
    std::size_t index;
    Clock::time_point enqueued;
  };

  void worker(int slot) {
    std::vector<Entry> batch;
    std::vector<const In*> in;
    std::vector<Out> out;
    for (;;) {
      batch.clear();
      {
        std::unique_lock<std::mutex> lk(mu_);
        for (;;) {
          if (queue_.empty()) {
            if (stopping_) return;
            cv_.wait(lk);
            continue;
          }
          if (stopping_ || queue_.size() >= opts_.max_batch) break;
          const auto deadline = queue_.front().enqueued + opts_.max_queue_delay;
          if (Clock::now() >= deadline) break;
          cv_.wait_until(lk, deadline);
        }
        const std::size_t n = std::min(queue_.size(), opts_.max_batch);
        const auto now = Clock::now();
        for (std::size_t i = 0; i < n; ++i) {
          Entry e = std::move(queue_.front());
          queue_.pop_front();
          Ticket& t = *e.ticket;
          if (!t.first_dispatched_) {
            t.first_dispatched_ = true;
            t.queue_wait_ = std::chrono::duration<double>(now - t.submitted_).count();
            observer_->on_queue_wait(t.queue_wait_);
          }
          if (++t.taken_ == t.items_.size()) queued_cost_ -= t.cost_;
          batch.push_back(std::move(e));
        }
        observer_->on_depth(queue_.size(), queued_cost_);
        if (!queue_.empty()) cv_.notify_one();  // another slot may start the next batch
      }
      run(slot, batch, in, out);
    }
  }

  void run(int slot, std::vector<Entry>& batch, std::vector<const In*>& in, std::vector<Out>& out) {
    in.clear();
    for (const Entry& e : batch) in.push_back(&e.ticket->items_[e.index]);
    out.clear();
    out.resize(batch.size());
    observer_->on_in_flight(+1);
    const auto t0 = Clock::now();
    Status failure;
    try {
      execute_(slot, std::span<const In* const>(in), std::span<Out>(out));
    } catch (const std::exception& e) {
      failure = Status::error(Status::kFailed, name_ + ": batch failed: " + e.what());
    } catch (...) {
      failure = Status::error(Status::kFailed, name_ + ": batch failed (unknown error)");
    }
    const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    observer_->on_in_flight(-1);
    observer_->on_batch(batch.size(), secs, failure.ok());
    // Results go to their tickets; a ticket's items are completed in runs to take its lock once.
    std::size_t i = 0;
    while (i < batch.size()) {
      Ticket* t = batch[i].ticket.get();
      std::size_t j = i;
      for (; j < batch.size() && batch[j].ticket.get() == t; ++j) {
        if (failure.ok()) t->results_[batch[j].index] = std::move(out[j]);
      }
      t->item_done(j - i, failure.ok() ? nullptr : &failure);
      i = j;
    }
    batch.clear();  // drops the ticket references outside the lock
  }

  const std::string name_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  BatcherOptions opts_;
  std::deque<Entry> queue_;
  uint64_t queued_cost_ = 0;
  bool stopping_ = false;
  Execute execute_;
  std::shared_ptr<BatcherObserver> observer_;
  std::vector<std::thread> workers_;
};

}  // namespace hashmatch::server
