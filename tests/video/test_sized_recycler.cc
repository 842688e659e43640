// The recycling policy of the copied-frame device buffers (video/sized_recycler.h), with host
// stand-ins that count their frees: what is reused, what the caps drop and in which order.
#include "video/sized_recycler.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstddef>
#include <memory>
#include <thread>
#include <vector>

namespace hashmatch::video {
namespace {

struct FakeBuffer {
  FakeBuffer(std::size_t n, int id, std::atomic<int>* freed) : n_(n), id_(id), freed_(freed) {}
  ~FakeBuffer() { ++*freed_; }
  std::size_t size() const { return n_; }
  int id() const { return id_; }

 private:
  std::size_t n_;
  int id_;
  std::atomic<int>* freed_;
};

using Recycler = SizedRecycler<FakeBuffer>;

std::vector<std::unique_ptr<FakeBuffer>> make(int count, std::size_t size, int first_id,
                                          std::atomic<int>* freed) {
  std::vector<std::unique_ptr<FakeBuffer>> v;
  for (int i = 0; i < count; ++i) v.push_back(std::make_unique<FakeBuffer>(size, first_id + i, freed));
  return v;
}

TEST(SizedRecycler, ReusesOnlyTheSizeAskedForMostRecentFirst) {
  std::atomic<int> freed{0};
  Recycler r(8, 1 << 20);
  r.add_user();
  auto a = make(2, 100, 0, &freed);
  auto b = make(1, 200, 10, &freed);
  EXPECT_TRUE(r.give(std::move(a[0])).empty());
  EXPECT_TRUE(r.give(std::move(b[0])).empty());
  EXPECT_TRUE(r.give(std::move(a[1])).empty());
  EXPECT_EQ(r.free_count(), 3u);
  EXPECT_EQ(r.free_bytes(), 400u);
  EXPECT_EQ(r.take(300), nullptr);
  auto x = r.take(100);
  ASSERT_NE(x, nullptr);
  EXPECT_EQ(x->id(), 1);  // the last 100-byte buffer given back
  auto y = r.take(200);
  ASSERT_NE(y, nullptr);
  EXPECT_EQ(y->id(), 10);
  EXPECT_EQ(r.free_count(), 1u);
  EXPECT_EQ(r.free_bytes(), 100u);
  EXPECT_EQ(freed, 0);
}

// A free list full of one video's frame size gives way to the next video's size: the next video
// gets its own buffers back from the second batch on, and the stale ones are freed.
TEST(SizedRecycler, StaleSizesGiveWayToTheSizeInUse) {
  std::atomic<int> freed{0};
  Recycler r(4, 1 << 20);
  r.add_user();
  for (auto& b : make(4, 100, 0, &freed)) EXPECT_TRUE(r.give(std::move(b)).empty());
  ASSERT_EQ(r.free_count(), 4u);
  EXPECT_EQ(r.take(200), nullptr);  // the new size: a miss, allocated by the caller
  std::vector<std::unique_ptr<FakeBuffer>> dropped;
  for (auto& b : make(4, 200, 10, &freed)) {
    for (auto& d : r.give(std::move(b))) dropped.push_back(std::move(d));
  }
  ASSERT_EQ(dropped.size(), 4u);
  for (const auto& d : dropped) EXPECT_EQ(d->size(), 100u);  // oldest first, the stale size
  EXPECT_EQ(dropped.front()->id(), 0);
  dropped.clear();
  EXPECT_EQ(freed, 4);
  for (int i = 0; i < 4; ++i) {
    auto t = r.take(200);
    ASSERT_NE(t, nullptr) << i;
  }
  EXPECT_EQ(r.take(100), nullptr);
}

TEST(SizedRecycler, CapsScaleWithUsersAndShrinkWhenTheyGo) {
  std::atomic<int> freed{0};
  Recycler r(3, 1 << 20);
  for (int u = 0; u < 4; ++u) r.add_user();
  // Four sinks end their videos together: 4 x 3 buffers kept, nothing freed.
  for (auto& b : make(12, 100, 0, &freed)) EXPECT_TRUE(r.give(std::move(b)).empty());
  EXPECT_EQ(r.free_count(), 12u);
  EXPECT_EQ(r.give(std::make_unique<FakeBuffer>(100, 99, &freed)).size(), 1u);
  EXPECT_EQ(freed, 1);
  EXPECT_EQ(r.remove_user().size(), 3u);
  EXPECT_EQ(r.free_count(), 9u);
  r.remove_user();
  r.remove_user();
  EXPECT_EQ(r.free_count(), 3u);
  EXPECT_EQ(r.remove_user().size(), 0u);  // no user left: the caps of one
  EXPECT_EQ(r.users(), 0u);
  EXPECT_EQ(r.free_count(), 3u);
  EXPECT_EQ(freed, 10);
}

TEST(SizedRecycler, ByteCapDropsTheOldestAndAnOversizedBuffer) {
  std::atomic<int> freed{0};
  Recycler r(100, 1000);
  r.add_user();
  for (auto& b : make(3, 300, 0, &freed)) EXPECT_TRUE(r.give(std::move(b)).empty());
  auto d = r.give(std::make_unique<FakeBuffer>(300, 3, &freed));  // 1,200 bytes: the oldest goes
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0]->id(), 0);
  EXPECT_EQ(r.free_bytes(), 900u);
  auto big = r.give(std::make_unique<FakeBuffer>(5000, 4, &freed));  // over the cap alone
  EXPECT_EQ(r.free_bytes(), 0u);
  EXPECT_EQ(big.size(), 4u);
}

// Every buffer made is either free in the recycler or freed, with sinks taking and giving from
// several threads at once.
TEST(SizedRecycler, ThreadsTakingAndGivingLoseNothing) {
  std::atomic<int> freed{0};
  std::atomic<int> made{0};
  Recycler r(16, 1 << 20);
  for (int u = 0; u < 4; ++u) r.add_user();
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t) {
    ts.emplace_back([&, t] {
      std::vector<std::unique_ptr<FakeBuffer>> held;
      for (int i = 0; i < 3000; ++i) {
        const std::size_t size = 64u * static_cast<std::size_t>(1 + (i + t) % 3);
        auto b = r.take(size);
        if (!b) {
          b = std::make_unique<FakeBuffer>(size, i, &freed);
          ++made;
        }
        EXPECT_EQ(b->size(), size);
        held.push_back(std::move(b));
        if (held.size() == 8 || i % 7 == 0) {  // a batch hashed: its buffers come back
          for (auto& h : held) r.give(std::move(h));  // what the caps drop is freed here
          held.clear();
        }
      }
      for (auto& h : held) r.give(std::move(h));
    });
  }
  for (auto& t : ts) t.join();
  EXPECT_LE(r.free_count(), 64u);
  EXPECT_GT(made.load(), 0);
  EXPECT_EQ(static_cast<std::size_t>(made.load() - freed.load()), r.free_count());
  std::size_t bytes = 0;
  for (std::size_t s : {64u, 128u, 192u}) {
    while (auto b = r.take(s)) bytes += b->size();
  }
  EXPECT_EQ(bytes > 0, true);
  EXPECT_EQ(r.free_count(), 0u);
  EXPECT_EQ(r.free_bytes(), 0u);
  EXPECT_EQ(made.load(), freed.load());
}

}  // namespace
}  // namespace hashmatch::video
