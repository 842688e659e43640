#include "video/cpu_pdq_sink.h"

#include <algorithm>
#include <stdexcept>

#include "host/common/error.h"

namespace hashmatch::video {

void FrameSink::push_device(const FrameInfo&, const DeviceFrame&) {
  throw Error("this frame sink does not take device frames");
}

CpuPdqSink::CpuPdqSink(int threads) : threads_(std::max(0, threads)) { start_threads(); }

CpuPdqSink::~CpuPdqSink() {
  cancel();
  stop_threads();
}

void CpuPdqSink::start_threads() {
  closing_ = false;
  cancelled_ = false;
  try {
    for (int t = 0; t < threads_; ++t) pool_.emplace_back([this] { worker(); });
  } catch (...) {
    // A thread that cannot start (a pids limit): the ones that did are joined (a joinable
    // std::thread destroyed would end the process), and the sink refuses frames from now on
    // (without threads a full queue would wait forever).
    stop_threads();
    std::lock_guard<std::mutex> lk(mu_);
    error_ = std::current_exception();
    throw;
  }
}

void CpuPdqSink::stop_threads() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    closing_ = true;
  }
  cv_work_.notify_all();
  cv_room_.notify_all();
  for (auto& t : pool_) t.join();
  pool_.clear();
}

VpdqFrame CpuPdqSink::hash_one(pdq::PdqHasher& hasher, const FrameInfo& info, const Image& rgb) {
  const pdq::PdqHash h = hasher.hash(rgb);
  VpdqFrame f;
  f.frame_number = info.frame_number;
  f.quality = h.quality;
  f.hash = h.hash;
  f.timestamp = info.timestamp;
  return f;
}

Image CpuPdqSink::take_buffer(std::size_t bytes) { return take_host_frame(bytes); }

void CpuPdqSink::push_host(const FrameInfo& info, Image&& rgb) {
  if (threads_ == 0) {
    VpdqFrame f = hash_one(inline_hasher_, info, rgb);
    give_host_frame(std::move(rgb));
    std::lock_guard<std::mutex> lk(mu_);
    results_.push_back(f);
    return;
  }
  std::unique_lock<std::mutex> lk(mu_);
  // Bounded queue: at most two frames waiting per hashing thread.
  const std::size_t cap = std::size_t(threads_) * 2;
  cv_room_.wait(lk, [&] { return queue_.size() < cap || error_ || cancelled_; });
  if (error_) std::rethrow_exception(error_);
  if (cancelled_) return;
  queue_.push_back(Job{info, std::move(rgb)});
  lk.unlock();
  cv_work_.notify_one();
}

void CpuPdqSink::worker() {
  pdq::PdqHasher hasher;
  for (;;) {
    Job job;
    {
      std::unique_lock<std::mutex> lk(mu_);
      cv_work_.wait(lk, [&] { return !queue_.empty() || closing_; });
      if (queue_.empty()) return;  // closing and drained
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    cv_room_.notify_one();
    try {
      VpdqFrame f = hash_one(hasher, job.info, job.rgb);
      give_host_frame(std::move(job.rgb));
      std::lock_guard<std::mutex> lk(mu_);
      results_.push_back(f);
    } catch (...) {
      std::lock_guard<std::mutex> lk(mu_);
      if (!error_) error_ = std::current_exception();
      cv_room_.notify_all();
    }
  }
}

std::vector<VpdqFrame> CpuPdqSink::finish() {
  if (threads_ > 0) {
    stop_threads();  // drains the queue
  }
  std::vector<VpdqFrame> out;
  std::exception_ptr err;
  {
    std::lock_guard<std::mutex> lk(mu_);
    out.swap(results_);
    err = std::exchange(error_, nullptr);
    queue_.clear();
  }
  if (threads_ > 0) start_threads();  // ready for the next video
  if (err) std::rethrow_exception(err);
  std::sort(out.begin(), out.end(),
            [](const VpdqFrame& a, const VpdqFrame& b) { return a.frame_number < b.frame_number; });
  return out;
}

void CpuPdqSink::cancel() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    cancelled_ = true;
    queue_.clear();
  }
  cv_room_.notify_all();
}

}  // namespace hashmatch::video
