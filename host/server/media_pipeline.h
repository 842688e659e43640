// Media bytes -> exact digests and PDQ: decoding on bounded CPU thread pools (images on one, videos
// on another, so that images never queue behind long videos), then the decoded frames of all
// requests batched onto the PDQ backend (one queue per GPU, or one CPU queue; frame_hasher.h
// decides). Media bytes stay in memory (never written to disk).
//
// Memory is bounded by the configuration: the decode queue holds at most decode.queue jobs and the
// video queue video.queue (their bytes are the request bodies, already bounded by
// limits.max_body_bytes and the HTTP threads), and each PDQ queue at most
// batching.max_queue_frames frames and batching.max_queue_bytes of decoded pixels. Past a bound a
// request is refused (Status::kQueueFull, HTTP 429) at once.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "host/image/image.h"
#include "host/media/hash_media.h"
#include "host/pdq/pdq.h"
#include "host/server/batcher.h"
#include "host/server/config.h"
#include "host/server/frame_hasher.h"
#include "host/server/pdq_queues.h"
#include "host/server/task_pool.h"
#include "monitoring/metrics.h"

namespace hashmatch::server {

struct MediaOutcome {
  Status status;           // kOk, or why the request was refused (429 / 503)
  MediaHashResult result;  // digests, format, size, pdq (8 dihedral hashes), or the media error;
                           // for a video, vpdq (its frames) and extra["video"]
  bool video = false;
  // A video's hashed frames (result.vpdq), sorted by frame number; empty for an image.
  std::span<const VideoFrameHash> video_frames() const {
    if (!result.vpdq) return {};
    return *result.vpdq;
  }
  double decode_seconds = 0;
  double queue_seconds = 0;  // PDQ queue wait
};

class MediaPipeline {
 public:
  MediaPipeline(const ServerConfig& cfg, monitoring::Metrics& metrics);
  ~MediaPipeline();
  MediaPipeline(const MediaPipeline&) = delete;
  MediaPipeline& operator=(const MediaPipeline&) = delete;

  // Hashes one media item; blocks the calling thread until done or refused. `bytes` must stay
  // valid until it returns. Never throws for bad media (result.error is set).
  void hash(std::span<const uint8_t> bytes, MediaOutcome* out);

  // Hashes already decoded frames (video frames) through the same queues.
  Status hash_frames(std::vector<Image> frames, std::vector<pdq::PdqDihedral>* out);

  // Applies the reloadable settings (limits, queue bounds, batch knobs).
  void reconfigure(const ServerConfig& cfg);
  // Refuses new work, finishes what is queued.
  void shutdown();

  std::string backend() const { return backend_; }
  const std::string& why() const { return why_; }
  // False after a sticky device error took a GPU queue out (its work moved on); `why` says which.
  bool healthy(std::string* why = nullptr) const { return queues_->healthy(why); }

 private:
  static BatcherOptions batcher_options(const ServerConfig& cfg);
  // `format`: sniff_format(bytes), taken once in hash() to choose the pool.
  void decode(std::span<const uint8_t> bytes, MediaFormat format, MediaOutcome* out, Image* image);
  // `queued`: when the request was put in the video queue (its wait counts against the budget).
  void hash_video(std::span<const uint8_t> bytes, MediaOutcome* out,
                  std::chrono::steady_clock::time_point queued);
  Status submit_blocking(std::vector<Image> frames, std::chrono::steady_clock::time_point deadline,
                         std::shared_ptr<PdqBatcher::Ticket>* t);

  monitoring::Metrics& metrics_;
  mutable std::mutex cfg_mu_;
  DecodeLimits limits_;
  ServerConfig video_cfg_;  // the video settings (under cfg_mu_)
  std::unique_ptr<TaskPool> decoders_;  // images (and media that is neither)
  std::unique_ptr<TaskPool> videos_;    // videos (video.sessions threads); null without video
  // Video requests being hashed or waiting for a session. Each holds an HTTP worker all along, so
  // they are kept to half of http.threads (beyond: 429): images and probes always find a worker.
  std::atomic<int> videos_held_{0};
  int max_videos_held_ = 1;
  std::unique_ptr<PdqQueues> queues_;
  std::string backend_, why_;
};

}  // namespace hashmatch::server
