// Internal to video/: free buffers recycled by size for several users at once (the copied-frame
// device buffers of video/gpu_pdq_cuda.cc, one recycler per GPU shared by every sink that copies
// frames). Header-only and free of CUDA so that the policy is tested on any machine
// (tests/video/test_sized_recycler.cc).
//
// Policy: a buffer given back is kept free, most recent first; take() hands out the most recent
// free buffer of exactly the size asked for. The free buffers are capped by count and by bytes,
// both per user (a user: a sink copying frames now; at least one is assumed), and the oldest free
// buffers beyond the caps go first, whatever their size. So a free list full of an earlier
// video's frame size gives way to the sizes in use now instead of refusing them for ever, and
// sessions that start and end together are not refused what they turn over. When a user goes,
// the free buffers are trimmed to the caps of the users left.
//
// Buffers dropped by give() and remove_user() are returned to the caller, to be destroyed outside
// any lock (freeing device memory synchronises the device).
#pragma once

#include <algorithm>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <vector>

namespace hashmatch::video {

template <class Buffer>  // Buffer::size(): its size in bytes
class SizedRecycler {
 public:
  using Ptr = std::unique_ptr<Buffer>;

  SizedRecycler(std::size_t max_free_per_user, std::size_t max_free_bytes_per_user)
      : max_count_(max_free_per_user), max_bytes_(max_free_bytes_per_user) {}

  // The most recently given back free buffer of `bytes`, or null.
  Ptr take(std::size_t bytes) {
    std::lock_guard<std::mutex> lk(mu_);
    for (auto it = free_.begin(); it != free_.end(); ++it) {
      if ((*it)->size() == bytes) {
        Ptr b = std::move(*it);
        free_.erase(it);
        free_bytes_ -= bytes;
        return b;
      }
    }
    return nullptr;
  }

  // Keeps `b` free (unless it alone is over the byte cap) and returns what the caps drop.
  std::vector<Ptr> give(Ptr b) {
    std::vector<Ptr> dropped;
    if (!b) return dropped;
    std::lock_guard<std::mutex> lk(mu_);
    const std::size_t bytes = b->size();
    free_.push_front(std::move(b));  // may throw: then nothing was counted
    free_bytes_ += bytes;
    trim_locked(dropped);
    return dropped;
  }

  void add_user() {
    std::lock_guard<std::mutex> lk(mu_);
    ++users_;
  }

  // A user went: returns the free buffers beyond the caps of the users left.
  std::vector<Ptr> remove_user() {
    std::vector<Ptr> dropped;
    std::lock_guard<std::mutex> lk(mu_);
    if (users_ > 0) --users_;
    trim_locked(dropped);
    return dropped;
  }

  std::size_t free_count() const {
    std::lock_guard<std::mutex> lk(mu_);
    return free_.size();
  }
  std::size_t free_bytes() const {
    std::lock_guard<std::mutex> lk(mu_);
    return free_bytes_;
  }
  std::size_t users() const {
    std::lock_guard<std::mutex> lk(mu_);
    return users_;
  }

 private:
  void trim_locked(std::vector<Ptr>& dropped) {
    const std::size_t n = std::max<std::size_t>(1, users_);
    while (!free_.empty() && (free_.size() > max_count_ * n || free_bytes_ > max_bytes_ * n)) {
      const std::size_t bytes = free_.back()->size();
      dropped.push_back(std::move(free_.back()));  // may throw: then nothing moved
      free_.pop_back();
      free_bytes_ -= bytes;
    }
  }

  const std::size_t max_count_;
  const std::size_t max_bytes_;
  mutable std::mutex mu_;
  std::deque<Ptr> free_;  // most recently given back first
  std::size_t free_bytes_ = 0;
  std::size_t users_ = 0;
};

}  // namespace hashmatch::video
