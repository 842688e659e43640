// The dynamic batcher and the decode pool: dispatch on size and on delay, bounds (refusal, never
// growth), items of one request over several batches, failures confined to their batch, drain.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <numeric>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>

#include "host/server/batcher.h"
#include "host/server/queue_metrics.h"
#include "host/server/task_pool.h"
#include "monitoring/metrics.h"

namespace hashmatch::server {
namespace {

using namespace std::chrono_literals;
using Batcher = DynamicBatcher<int, int>;

struct Recorder {
  std::mutex mu;
  std::vector<std::size_t> sizes;
  void add(std::size_t n) {
    std::lock_guard<std::mutex> lk(mu);
    sizes.push_back(n);
  }
  std::vector<std::size_t> get() {
    std::lock_guard<std::mutex> lk(mu);
    return sizes;
  }
};

Batcher::Execute squares(Recorder* rec, std::chrono::milliseconds work = 0ms) {
  return [rec, work](int, std::span<const int* const> in, std::span<int> out) {
    if (rec) rec->add(in.size());
    if (work.count()) std::this_thread::sleep_for(work);
    for (std::size_t i = 0; i < in.size(); ++i) out[i] = *in[i] * *in[i];
  };
}

TEST(Batcher, FullBatchDispatchesWithoutWaitingForTheDelay) {
  Recorder rec;
  BatcherOptions o;
  o.max_batch = 8;
  o.max_queue_delay = 10s;  // never reached in this test
  Batcher b("t", o, 1, squares(&rec));
  std::vector<int> items(8);
  std::iota(items.begin(), items.end(), 1);
  const auto t0 = std::chrono::steady_clock::now();
  auto t = b.submit(items);
  ASSERT_TRUE(t->wait_for(5s)) << "a full batch must not wait for max_queue_delay";
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
  ASSERT_TRUE(t->status().ok());
  for (int i = 0; i < 8; ++i) EXPECT_EQ(t->results()[i], (i + 1) * (i + 1));
  EXPECT_EQ(rec.get(), std::vector<std::size_t>{8});
}

TEST(Batcher, PartialBatchDispatchesWhenTheOldestItemHasWaitedTheDelay) {
  Recorder rec;
  BatcherOptions o;
  o.max_batch = 64;
  o.max_queue_delay = 50ms;
  Batcher b("t", o, 1, squares(&rec));
  const auto t0 = std::chrono::steady_clock::now();
  auto t = b.submit({3});
  ASSERT_TRUE(t->wait_for(10s));
  const auto waited = std::chrono::steady_clock::now() - t0;
  EXPECT_GE(waited, 45ms) << "dispatched before the delay although the batch was not full";
  EXPECT_EQ(t->results()[0], 9);
  EXPECT_GE(t->queue_wait_seconds(), 0.045);
  EXPECT_EQ(rec.get(), std::vector<std::size_t>{1});
}

TEST(Batcher, RequestsShareBatchesAndLargeRequestsSpanSeveral) {
  Recorder rec;
  BatcherOptions o;
  o.max_batch = 4;
  o.max_queue_delay = 200ms;
  Batcher b("t", o, 1, squares(&rec, 20ms));
  // Three requests of 1, 2 and 7 items: 10 items, batches of at most 4.
  auto a = b.submit({1});
  auto c = b.submit({2, 3});
  auto d = b.submit({4, 5, 6, 7, 8, 9, 10});
  for (auto* t : {&a, &c, &d}) ASSERT_TRUE((*t)->wait_for(10s));
  EXPECT_EQ(a->results(), std::vector<int>({1}));
  EXPECT_EQ(c->results(), std::vector<int>({4, 9}));
  EXPECT_EQ(d->results(), std::vector<int>({16, 25, 36, 49, 64, 81, 100}));
  const auto sizes = rec.get();
  EXPECT_EQ(std::accumulate(sizes.begin(), sizes.end(), std::size_t{0}), 10u);
  for (std::size_t s : sizes) EXPECT_LE(s, 4u);
  EXPECT_EQ(sizes.front(), 4u) << "the first batch should take items of several requests";
}

TEST(Batcher, BoundedQueueRefusesInsteadOfGrowing) {
  std::atomic<bool> release{false};
  BatcherOptions o;
  o.max_batch = 1;
  o.max_queue_delay = 0ms;
  o.max_queue_items = 3;
  Batcher b("t", o, 1, [&](int, std::span<const int* const> in, std::span<int> out) {
    while (!release.load()) std::this_thread::sleep_for(1ms);
    for (std::size_t i = 0; i < in.size(); ++i) out[i] = *in[i];
  });
  auto first = b.submit({0});  // taken by the worker, which blocks
  while (b.depth() != 0) std::this_thread::sleep_for(1ms);
  std::vector<std::shared_ptr<Batcher::Ticket>> queued;
  for (int i = 1; i <= 3; ++i) queued.push_back(b.submit({i}));
  EXPECT_EQ(b.depth(), 3u);
  auto refused = b.submit({99});
  ASSERT_TRUE(refused->done()) << "a refusal must be immediate";
  EXPECT_EQ(refused->status().code, Status::kQueueFull);
  EXPECT_EQ(b.depth(), 3u);
  auto too_large = b.submit({1, 2, 3, 4});
  EXPECT_EQ(too_large->status().code, Status::kTooLarge);
  release = true;
  for (auto& t : queued) {
    ASSERT_TRUE(t->wait_for(10s));
    EXPECT_TRUE(t->status().ok());
  }
  // Room again.
  auto again = b.submit({7});
  ASSERT_TRUE(again->wait_for(10s));
  EXPECT_EQ(again->results()[0], 7);
}

TEST(Batcher, CostBoundRefusesLargeDecodedFrames) {
  BatcherOptions o;
  o.max_batch = 1;
  o.max_queue_delay = 1s;
  o.max_queue_items = 100;
  o.max_queue_cost = 1000;
  std::atomic<bool> release{false};
  Batcher b("t", o, 1, [&](int, std::span<const int* const> in, std::span<int> out) {
    while (!release.load()) std::this_thread::sleep_for(1ms);
    out[0] = *in[0];
  });
  auto busy = b.submit({0}, 10);
  while (b.depth() != 0) std::this_thread::sleep_for(1ms);
  auto ok = b.submit({1}, 600);
  auto full = b.submit({2}, 600);
  EXPECT_EQ(full->status().code, Status::kQueueFull);
  auto larger_than_all = b.submit({3}, 2000);
  EXPECT_EQ(larger_than_all->status().code, Status::kTooLarge);
  release = true;
  ASSERT_TRUE(ok->wait_for(10s));
  auto fits_now = b.submit({4}, 900);
  ASSERT_TRUE(fits_now->wait_for(10s));
  EXPECT_TRUE(fits_now->status().ok());
}

TEST(Batcher, AThrowingBatchFailsOnlyItsItemsAndTheWorkerGoesOn) {
  BatcherOptions o;
  o.max_batch = 1;
  o.max_queue_delay = 0ms;
  Batcher b("t", o, 1, [](int, std::span<const int* const> in, std::span<int> out) {
    if (*in[0] < 0) throw std::runtime_error("device out of memory");
    out[0] = *in[0] + 1;
  });
  auto bad = b.submit({-1});
  ASSERT_TRUE(bad->wait_for(10s));
  EXPECT_EQ(bad->status().code, Status::kFailed);
  EXPECT_NE(bad->status().message.find("device out of memory"), std::string::npos);
  auto good = b.submit({41});
  ASSERT_TRUE(good->wait_for(10s));
  ASSERT_TRUE(good->status().ok());
  EXPECT_EQ(good->results()[0], 42);
}

TEST(Batcher, SeveralSlotsRunBatchesConcurrently) {
  std::atomic<int> running{0}, peak{0};
  BatcherOptions o;
  o.max_batch = 1;
  o.max_queue_delay = 0ms;
  std::mutex slots_mu;
  std::set<int> slots_seen;
  Batcher b("t", o, 3, [&](int slot, std::span<const int* const> in, std::span<int> out) {
    {
      std::lock_guard<std::mutex> lk(slots_mu);
      slots_seen.insert(slot);
    }
    const int now = ++running;
    int p = peak.load();
    while (now > p && !peak.compare_exchange_weak(p, now)) {
    }
    std::this_thread::sleep_for(50ms);
    --running;
    out[0] = *in[0];
  });
  std::vector<std::shared_ptr<Batcher::Ticket>> ts;
  for (int i = 0; i < 6; ++i) ts.push_back(b.submit({i}));
  for (auto& t : ts) ASSERT_TRUE(t->wait_for(10s));
  EXPECT_GE(peak.load(), 2) << "batches did not overlap with 3 slots";
  EXPECT_LE(peak.load(), 3);
  for (int s : slots_seen) {
    EXPECT_GE(s, 0);
    EXPECT_LT(s, 3);
  }
}

TEST(Batcher, ShutdownDrainsWhatIsQueuedAndRefusesNewWork) {
  Recorder rec;
  BatcherOptions o;
  o.max_batch = 100;
  o.max_queue_delay = 60s;  // would never dispatch on its own within the test
  Batcher b("t", o, 1, squares(&rec));
  auto t = b.submit({5, 6});
  std::this_thread::sleep_for(20ms);
  EXPECT_FALSE(t->done());
  b.shutdown();
  ASSERT_TRUE(t->done()) << "shutdown must dispatch what is queued";
  EXPECT_EQ(t->results(), std::vector<int>({25, 36}));
  auto late = b.submit({1});
  EXPECT_EQ(late->status().code, Status::kShuttingDown);
}

TEST(Batcher, ReconfiguredBatchSizeApplies) {
  Recorder rec;
  BatcherOptions o;
  o.max_batch = 2;
  o.max_queue_delay = 5s;
  Batcher b("t", o, 1, squares(&rec));
  o.max_batch = 3;
  b.set_options(o);
  auto t = b.submit({1, 2, 3});
  ASSERT_TRUE(t->wait_for(4s)) << "a batch of the new size must dispatch at once";
  EXPECT_EQ(rec.get(), std::vector<std::size_t>{3});
}

TEST(TaskPool, BoundedQueueAndNoEscapingExceptions) {
  std::atomic<bool> release{false};
  std::atomic<int> ran{0};
  TaskPool pool("p", 1, 2);
  ASSERT_TRUE(pool.try_submit([&] {
    while (!release.load()) std::this_thread::sleep_for(1ms);
    ++ran;
  }));
  while (pool.depth() != 0) std::this_thread::sleep_for(1ms);
  EXPECT_TRUE(pool.try_submit([&] { throw std::runtime_error("boom"); }));
  EXPECT_TRUE(pool.try_submit([&] { ++ran; }));
  EXPECT_FALSE(pool.try_submit([&] { ++ran; })) << "queue of 2 is full";
  release = true;
  pool.shutdown();
  EXPECT_EQ(ran.load(), 2);
  EXPECT_EQ(pool.escaped_exceptions(), 1u);
  EXPECT_FALSE(pool.try_submit([] {}));
}

// The pool's queue in the metrics, as a batcher's queue is: the depth follows every push and pop
// (an idle pool shows 0, not the depth at the last submission), each task's wait is observed when
// it leaves the queue, and a refusal is counted.
TEST(TaskPool, QueueDepthWaitAndRejectionsReachTheMetrics) {
  monitoring::Metrics metrics;
  metrics.declare_queue("video", 2);
  auto has = [&](const std::string& line) {
    return metrics.render().find(line + "\n") != std::string::npos;
  };
  std::atomic<bool> release{false};
  TaskPool pool("video", 1, 2, std::make_shared<QueueMetrics>(metrics, "video"));
  ASSERT_TRUE(pool.try_submit([&] {
    while (!release.load()) std::this_thread::sleep_for(1ms);
  }));
  while (pool.depth() != 0) std::this_thread::sleep_for(1ms);  // the first task holds the thread
  EXPECT_TRUE(has("hashmatch_queue_depth{queue=\"video\"} 0")) << metrics.render();
  EXPECT_TRUE(has("hashmatch_queue_wait_seconds_count{queue=\"video\"} 1")) << metrics.render();
  ASSERT_TRUE(pool.try_submit([] {}));
  ASSERT_TRUE(pool.try_submit([] {}));
  EXPECT_TRUE(has("hashmatch_queue_depth{queue=\"video\"} 2")) << metrics.render();
  EXPECT_FALSE(pool.try_submit([] {}));
  EXPECT_TRUE(has("hashmatch_queue_rejections_total{queue=\"video\"} 1")) << metrics.render();
  release = true;
  pool.shutdown();  // runs what is queued
  EXPECT_TRUE(has("hashmatch_queue_depth{queue=\"video\"} 0")) << metrics.render();
  EXPECT_TRUE(has("hashmatch_queue_wait_seconds_count{queue=\"video\"} 3")) << metrics.render();
}

}  // namespace
}  // namespace hashmatch::server
