// CpuPdqSink: hashes host RGB24 frames with the bit-exact CPU PDQ (full resolution) on a small
// pool of threads. The queue between the decode thread and the pool is bounded (back-pressure),
// so memory stays bounded whatever the video's length; RGB buffers are recycled (across sinks and
// videos: video/host_frames.h).
#pragma once

#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "host/pdq/pdq.h"
#include "video/frame_sink.h"
#include "video/host_frames.h"

namespace hashmatch::video {

class CpuPdqSink : public FrameSink {
 public:
  // threads 0: hash on the calling (decode) thread; N > 0: N hashing threads.
  explicit CpuPdqSink(int threads = 0);
  ~CpuPdqSink() override;
  CpuPdqSink(const CpuPdqSink&) = delete;
  CpuPdqSink& operator=(const CpuPdqSink&) = delete;

  Image take_buffer(std::size_t bytes) override;
  void push_host(const FrameInfo& info, Image&& rgb) override;
  std::vector<VpdqFrame> finish() override;
  void cancel() override;

 private:
  struct Job {
    FrameInfo info;
    Image rgb;
  };
  void worker();
  VpdqFrame hash_one(pdq::PdqHasher& hasher, const FrameInfo& info, const Image& rgb);
  void start_threads();
  void stop_threads();

  HostFramesUser frames_user_;
  int threads_;
  pdq::PdqHasher inline_hasher_;
  std::mutex mu_;
  std::condition_variable cv_work_, cv_room_;
  std::deque<Job> queue_;
  std::vector<VpdqFrame> results_;
  std::exception_ptr error_;
  bool closing_ = false;
  bool cancelled_ = false;
  std::vector<std::thread> pool_;
};

}  // namespace hashmatch::video
