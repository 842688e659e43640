#include "host/server/media_pipeline.h"

#include <algorithm>
#include <chrono>
#include <deque>
#include <functional>
#include <future>
#include <new>
#include <stdexcept>
#include <thread>

#include "host/common/digest.h"
#include "host/common/error.h"
#include "host/image/decode.h"
#include "host/server/queue_metrics.h"
#if HM_VIDEO
#include "video/frame_sink.h"
#include "video/vpdq.h"
#endif

namespace hashmatch::server {
namespace {

using Clock = std::chrono::steady_clock;

double since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

DecodeLimits limits_of(const ServerConfig& cfg) {
  DecodeLimits l;
  l.max_file_bytes = cfg.max_body_bytes;
  l.max_pixels = cfg.max_pixels;
  l.max_dimension = cfg.max_dimension;
  return l;
}

int decode_threads(const ServerConfig& cfg) {
  if (cfg.decode_threads > 0) return cfg.decode_threads;
  const unsigned n = std::thread::hardware_concurrency();
  return n ? static_cast<int>(n) : 1;
}

// Videos decoded at once: video.sessions, or half the decode threads (at least 2).
int video_sessions(const ServerConfig& cfg) {
  if (cfg.video_sessions > 0) return cfg.video_sessions;
  return std::max(2, decode_threads(cfg) / 2);
}

uint64_t image_bytes(const Image& img) { return img.pixels.size(); }

}  // namespace

BatcherOptions MediaPipeline::batcher_options(const ServerConfig& cfg) {
  BatcherOptions o;
  o.max_batch = static_cast<std::size_t>(cfg.max_batch_frames);
  o.max_queue_delay = std::chrono::duration_cast<std::chrono::nanoseconds>(cfg.max_queue_delay);
  o.max_queue_items = static_cast<std::size_t>(cfg.max_queue_frames);
  o.max_queue_cost = cfg.max_queue_bytes;
  return o;
}

#if HM_VIDEO
namespace {

// Takes the sampled frames of one video from the decoder and sends them through the PDQ queue in
// chunks of max_batch_frames frames or `chunk_bytes` of pixels, whichever comes first (at most
// kMaxPending chunks outstanding, so a long or 4K video holds little memory: 43 4K frames in one
// chunk were more than the queue's byte limit, and the video was refused as too large). A full
// queue is retried until the video's deadline; then the video is refused, and decoding stops.
class SinkRefused : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
class QueueSink : public video::FrameSink {
 public:
  static constexpr std::size_t kMaxPending = 4;
  using Ticket = PdqBatcher::Ticket;
  using Submit = std::function<Status(std::vector<Image>, std::shared_ptr<Ticket>*)>;

  QueueSink(Submit submit, std::size_t chunk, uint64_t chunk_bytes)
      : submit_(std::move(submit)), chunk_(chunk), chunk_bytes_(std::max<uint64_t>(1, chunk_bytes)) {}

  void push_host(const video::FrameInfo& info, Image&& rgb) override {
    // Refused: the request fails with status(); the rest of the video is not worth decoding.
    if (!status_.ok()) throw SinkRefused(status_.message);
    bytes_ += image_bytes(rgb);
    infos_.push_back(info);
    frames_.push_back(std::move(rgb));
    if (frames_.size() >= chunk_ || bytes_ >= chunk_bytes_) flush();
  }

  std::vector<video::VpdqFrame> finish() override {
    flush();
    while (!pending_.empty()) settle();
    std::sort(done_.begin(), done_.end(), [](const video::VpdqFrame& a, const video::VpdqFrame& b) {
      return a.frame_number < b.frame_number;
    });
    return std::move(done_);
  }

  void cancel() override {
    frames_.clear();
    infos_.clear();
    bytes_ = 0;
  }

  const Status& status() const { return status_; }

 private:
  struct Pending {
    std::shared_ptr<Ticket> ticket;
    std::vector<video::FrameInfo> infos;
  };

  void flush() {
    if (frames_.empty() || !status_.ok()) return;
    while (pending_.size() >= kMaxPending) settle();
    std::shared_ptr<Ticket> t;
    const Status st = submit_(std::move(frames_), &t);
    frames_ = {};
    bytes_ = 0;
    if (!st.ok()) {
      status_ = st;
      infos_.clear();
      return;
    }
    pending_.push_back({std::move(t), std::move(infos_)});
    infos_ = {};
  }

  void settle() {
    Pending p = std::move(pending_.front());
    pending_.pop_front();
    const Status& st = p.ticket->wait();
    if (!st.ok()) {
      if (status_.ok()) status_ = st;
      return;
    }
    const auto& r = p.ticket->results();
    for (std::size_t i = 0; i < p.infos.size(); ++i) {
      video::VpdqFrame f;
      f.frame_number = p.infos[i].frame_number;
      f.timestamp = p.infos[i].timestamp;
      f.quality = r[i].quality;
      f.hash = r[i].hashes[0];
      done_.push_back(f);
    }
  }

  Submit submit_;
  std::size_t chunk_;
  uint64_t chunk_bytes_;
  uint64_t bytes_ = 0;  // pixels in frames_
  std::vector<Image> frames_;
  std::vector<video::FrameInfo> infos_;
  std::deque<Pending> pending_;
  std::vector<video::VpdqFrame> done_;
  Status status_;
};

}  // namespace
#endif

MediaPipeline::MediaPipeline(const ServerConfig& cfg, monitoring::Metrics& metrics)
    : metrics_(metrics), limits_(limits_of(cfg)), video_cfg_(cfg) {
  decoders_ = std::make_unique<TaskPool>("decode", decode_threads(cfg),
                                         static_cast<std::size_t>(cfg.decode_queue),
                                         std::make_shared<QueueMetrics>(metrics_, "decode"));
  metrics_.declare_queue("decode", cfg.decode_queue);
#if HM_VIDEO
  // Videos on threads of their own: a video holds its thread for up to video.time_budget, and
  // images queued behind a few long videos would wait that long.
  videos_ = std::make_unique<TaskPool>("video", video_sessions(cfg),
                                       static_cast<std::size_t>(cfg.video_queue),
                                       std::make_shared<QueueMetrics>(metrics_, "video"));
  metrics_.declare_queue("video", cfg.video_queue);
  max_videos_held_ = std::max(1, cfg.http_threads / 2);
#endif
  std::vector<PdqQueueSpec> specs =
      make_pdq_queues(cfg.backend, cfg.batches_in_flight, cfg.pdq_prescale, &why_);
  backend_ = specs.empty() ? "cpu" : specs.front().backend;
  std::function<PdqQueueSpec()> fallback;
  if (backend_ != "cpu") {
    const int prescale = cfg.pdq_prescale;
    fallback = [prescale] {
      return std::move(make_pdq_queues("cpu", 0, prescale, nullptr).front());
    };
  }
  queues_ = std::make_unique<PdqQueues>(std::move(specs), batcher_options(cfg), metrics_,
                                        std::move(fallback));
}

MediaPipeline::~MediaPipeline() { shutdown(); }

void MediaPipeline::reconfigure(const ServerConfig& cfg) {
  {
    std::lock_guard<std::mutex> lk(cfg_mu_);
    limits_ = limits_of(cfg);
    video_cfg_ = cfg;
  }
  decoders_->set_max_queue(static_cast<std::size_t>(cfg.decode_queue));
  metrics_.set_queue_capacity("decode", cfg.decode_queue);
  if (videos_) {
    videos_->set_max_queue(static_cast<std::size_t>(cfg.video_queue));
    metrics_.set_queue_capacity("video", cfg.video_queue);
  }
  queues_->set_options(batcher_options(cfg));
}

void MediaPipeline::shutdown() {
  if (decoders_) decoders_->shutdown();
  if (videos_) videos_->shutdown();
  if (queues_) queues_->shutdown();
}

void MediaPipeline::decode(std::span<const uint8_t> bytes, MediaFormat format, MediaOutcome* out,
                           Image* image) {
  MediaHashResult& r = out->result;
  DecodeLimits limits;
  {
    std::lock_guard<std::mutex> lk(cfg_mu_);
    limits = limits_;
  }
  r.size = bytes.size();
  r.digests =
      digest_bytes(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
  r.have_digests = true;
  try {
    r.format = format;
    if (r.format == MediaFormat::kEmpty || bytes.empty()) {
      throw MediaError("empty", "the media is empty (0 bytes)");
    }
    if (is_video_format(r.format)) {
#if HM_VIDEO
      out->video = true;
      return;  // hashed by hash_video() on this decode thread
#endif
      throw MediaError("unsupported", std::string("video (") +
                                          std::string(media_format_name(r.format)) +
                                          ") is not supported by this build of the server");
    }
    if (!is_image_format(r.format)) {
      if (r.format == MediaFormat::kUnknown) {
        throw MediaError("unsupported", "unrecognised media format");
      }
      throw MediaError("unsupported", "media format " + std::string(media_format_name(r.format)) +
                                          " is recognised but not decoded");
    }
    *image = decode_image(bytes, limits);
    r.width = image->width;
    r.height = image->height;
  } catch (const MediaError& e) {
    r.error = e.what();
    r.error_reason = e.reason();
  } catch (const std::bad_alloc&) {
    r.error = "out of memory while decoding";
    r.error_reason = "out_of_memory";
  } catch (const std::exception& e) {
    r.error = e.what();
    r.error_reason = "internal";
  }
}

void MediaPipeline::hash(std::span<const uint8_t> bytes, MediaOutcome* out) {
  // 1. Decode on the pool (bounded queue: refused at once when full): videos on the video pool,
  // everything else (images, and what turns out to be bad media) on the decode pool.
  const MediaFormat format = sniff_media_format(bytes);
  TaskPool* pool = decoders_.get();
  const char* pool_name = "decode";
  struct Held {  // this request's place among the video requests (see videos_held_)
    std::atomic<int>* n = nullptr;
    ~Held() {
      if (n) n->fetch_sub(1);
    }
  } held;
  if (videos_ && is_video_format(format)) {
    pool = videos_.get();
    pool_name = "video";
    if (videos_held_.fetch_add(1) >= max_videos_held_) {
      videos_held_.fetch_sub(1);
      metrics_.add_rejection("video");
      out->status =
          Status::error(Status::kQueueFull, "video: queue full (videos hold half of http.threads)");
      return;
    }
    held.n = &videos_held_;
  }
  Image image;
  auto done = std::make_shared<std::promise<void>>();
  std::future<void> decoded = done->get_future();
  const auto t0 = Clock::now();
  const bool queued = pool->try_submit([this, bytes, format, out, &image, done, t0] {
    try {
      decode(bytes, format, out, &image);
      if (out->video && out->result.ok()) hash_video(bytes, out, t0);
    } catch (...) {
      out->result.error = "internal error while decoding";
      out->result.error_reason = "internal";
    }
    done->set_value();
  });
  if (!queued) {  // counted by the pool's QueueMetrics
    out->status = Status::error(Status::kQueueFull, std::string(pool_name) + ": queue full");
    return;
  }
  decoded.wait();
  out->decode_seconds = since(t0);
  MediaHashResult& r = out->result;
  if (!out->status.ok()) return;  // a video refused part way (queue full past its deadline)
  if (!r.ok()) {
    metrics_.add_decode_error(r.error_reason);
    return;
  }
  if (out->video) return;  // hashed frame by frame through the queue already
  // 2. PDQ through the frame queue.
  const uint64_t cost = image_bytes(image);
  std::vector<Image> items;
  items.push_back(std::move(image));
  auto ticket = queues_->submit(std::move(items), cost);
  const Status& st = ticket->wait();
  if (!st.ok()) {
    out->status = st;
    return;
  }
  out->queue_seconds = ticket->queue_wait_seconds();
  r.pdq = ticket->results()[0];
}

Status MediaPipeline::submit_blocking(std::vector<Image> frames, Clock::time_point deadline,
                                      std::shared_ptr<PdqBatcher::Ticket>* t) {
  uint64_t cost = 0;
  for (const Image& f : frames) cost += image_bytes(f);
  for (;;) {
    // A full queue is waited for until the deadline: those refusals are no refused request (the
    // metric counts 429s); only the last one, past the deadline, ends the video (a timeout).
    const bool last_try = Clock::now() >= deadline;
    *t = queues_->submit(std::move(frames), cost, /*count_rejection=*/false);
    if ((*t)->done() && (*t)->status().code == Status::kQueueFull && !last_try &&
        Clock::now() < deadline) {
      frames = (*t)->release_items();
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      continue;
    }
    if ((*t)->done() && !(*t)->status().ok()) return (*t)->status();
    return Status{};
  }
}

void MediaPipeline::hash_video(std::span<const uint8_t> bytes, MediaOutcome* out,
                               Clock::time_point queued) {
#if HM_VIDEO
  ServerConfig vc;
  DecodeLimits limits;
  {
    std::lock_guard<std::mutex> lk(cfg_mu_);
    vc = video_cfg_;
    limits = limits_;
  }
  VideoOptions vo;
  vo.seconds_per_hash = vc.video_seconds_per_hash;
  vo.decoder = vc.video_decoder;
  vo.threads = vc.video_threads;
  vo.time_budget_seconds = vc.video_time_budget.count();
  // The budget counts from the request's arrival: the wait for a video session is part of it (a
  // video queue of 64 behind a few sessions could otherwise hold a request for many budgets).
  vo.waited_seconds = since(queued);
  vo.max_duration_seconds = vc.video_max_duration.count();
  // A budget of 0 is none (as for the decoding): a full queue is waited for, not a 429 at once.
  const auto deadline =
      vc.video_time_budget.count() > 0
          ? queued + std::chrono::duration_cast<Clock::duration>(vc.video_time_budget)
          : Clock::time_point::max();
  // Chunks no larger than the queue can take with the others outstanding (a chunk larger than
  // the whole queue is refused as too large: every video a 413 with max_queue_frames below
  // max_batch_frames).
  const int chunk = std::max(1, std::min(vc.max_batch_frames,
                                         vc.max_queue_frames / static_cast<int>(QueueSink::kMaxPending + 2)));
  QueueSink sink(
      [this, deadline](std::vector<Image> frames, std::shared_ptr<QueueSink::Ticket>* t) {
        return submit_blocking(std::move(frames), deadline, t);
      },
      static_cast<std::size_t>(chunk),
      // The chunks outstanding and the one filling stay within the queue's byte limit.
      vc.max_queue_bytes / (QueueSink::kMaxPending + 2));
  video::VpdqResult v =
      video::hash_video(video::VideoInput::memory(bytes, "<request>"), vo, limits, sink);
  MediaHashResult& r = out->result;
  if (sink.status().code == Status::kQueueFull && Clock::now() >= deadline) {
    // The budget ran out while the frames waited for room in the PDQ queue: the video's timeout
    // (504 with the digests and the matches of what is known), as when decoding takes too long,
    // not a 429 that drops the work done and the file's exact matches.
    r.width = v.info.width;
    r.height = v.info.height;
    r.vpdq = std::move(v.frames);
    if (!v.info.codec.empty()) r.extra["video"] = video::info_to_json(v.info);
    r.error = "the video's time budget (" + format_duration(vc.video_time_budget) +
              ", video.time_budget) ran out while its frames waited for the PDQ queue";
    r.error_reason = "timeout";
    return;
  }
  if (!sink.status().ok()) {
    out->status = sink.status();
    return;
  }
  r.width = v.info.width;
  r.height = v.info.height;
  r.vpdq = std::move(v.frames);
  if (!v.info.codec.empty()) r.extra["video"] = video::info_to_json(v.info);
  if (!v.ok()) {
    r.error = v.error;
    r.error_reason = v.error_reason;
  }
#else
  (void)bytes;
  (void)queued;
  out->result.error = "video is not supported by this build";
  out->result.error_reason = "unsupported";
#endif
}

Status MediaPipeline::hash_frames(std::vector<Image> frames, std::vector<pdq::PdqDihedral>* out) {
  uint64_t cost = 0;
  for (const Image& f : frames) cost += image_bytes(f);
  auto ticket = queues_->submit(std::move(frames), cost);
  const Status st = ticket->wait();
  if (st.ok()) *out = std::move(ticket->results());
  return st;
}

}  // namespace hashmatch::server
