#include "host/server/media_pipeline.h"

#include <chrono>
#include <future>
#include <new>
#include <thread>

#include "host/common/digest.h"
#include "host/common/error.h"
#include "host/image/decode.h"
#include "host/server/queue_metrics.h"

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

MediaPipeline::MediaPipeline(const ServerConfig& cfg, monitoring::Metrics& metrics)
    : metrics_(metrics), limits_(limits_of(cfg)) {
  decoders_ = std::make_unique<TaskPool>("decode", decode_threads(cfg),
                                         static_cast<std::size_t>(cfg.decode_queue));
  metrics_.set_queue_capacity("decode", cfg.decode_queue);
  metrics_.set_queue_depth("decode", 0);
  std::vector<PdqQueueSpec> specs =
      make_pdq_queues(cfg.backend, cfg.batches_in_flight, cfg.pdq_prescale, &why_);
  for (PdqQueueSpec& s : specs) {
    auto q = std::make_unique<Queue>();
    q->name = s.name;
    q->backend = s.backend;
    q->slots = std::move(s.slots);
    Queue* qp = q.get();
    auto execute = [this, qp](int slot, std::span<const Image* const> items,
                              std::span<pdq::PdqDihedral> out) {
      std::vector<pdq::PdqDihedral> r = qp->slots[slot]->hash(items);
      if (r.size() != out.size()) throw Error("PDQ backend returned a wrong number of hashes");
      for (std::size_t i = 0; i < r.size(); ++i) out[i] = r[i];
      metrics_.add_frames_hashed(qp->backend, items.size());
    };
    q->batcher = std::make_unique<PdqBatcher>(q->name, batcher_options(cfg),
                                              static_cast<int>(q->slots.size()), execute,
                                              std::make_shared<QueueMetrics>(metrics_, q->name));
    metrics_.set_queue_capacity(q->name, cfg.max_queue_frames);
    metrics_.set_queue_depth(q->name, 0);
    if (backend_.empty()) backend_ = q->backend;
    queues_.push_back(std::move(q));
  }
}

MediaPipeline::~MediaPipeline() { shutdown(); }

void MediaPipeline::reconfigure(const ServerConfig& cfg) {
  {
    std::lock_guard<std::mutex> lk(cfg_mu_);
    limits_ = limits_of(cfg);
  }
  decoders_->set_max_queue(static_cast<std::size_t>(cfg.decode_queue));
  metrics_.set_queue_capacity("decode", cfg.decode_queue);
  for (auto& q : queues_) {
    q->batcher->set_options(batcher_options(cfg));
    metrics_.set_queue_capacity(q->name, cfg.max_queue_frames);
  }
}

void MediaPipeline::shutdown() {
  if (decoders_) decoders_->shutdown();
  for (auto& q : queues_) q->batcher->shutdown();
}

MediaPipeline::Queue& MediaPipeline::pick_queue() {
  // The least loaded queue (one per GPU); ties go round-robin.
  const unsigned start = next_queue_.fetch_add(1, std::memory_order_relaxed);
  Queue* best = nullptr;
  std::size_t best_depth = 0;
  for (std::size_t k = 0; k < queues_.size(); ++k) {
    Queue* q = queues_[(start + k) % queues_.size()].get();
    const std::size_t d = q->batcher->depth();
    if (!best || d < best_depth) {
      best = q;
      best_depth = d;
    }
  }
  return *best;
}

void MediaPipeline::decode(std::span<const uint8_t> bytes, MediaOutcome* out, Image* image) {
  MediaHashResult& r = out->result;
  DecodeLimits limits;
  {
    std::lock_guard<std::mutex> lk(cfg_mu_);
    limits = limits_;
  }
  r.size = bytes.size();
  r.digests = digest_bytes(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
  r.have_digests = true;
  try {
    r.format = sniff_format(bytes);
    if (r.format == MediaFormat::kEmpty || bytes.empty()) {
      throw MediaError("empty", "the media is empty (0 bytes)");
    }
    if (is_video_format(r.format)) {
      throw MediaError("unsupported", std::string("video (") +
                                          std::string(media_format_name(r.format)) +
                                          ") is not supported by this build of the server");
    }
    if (!is_image_format(r.format)) {
      if (r.format == MediaFormat::kUnknown) {
        throw MediaError("unsupported", "unrecognised media format");
      }
      throw MediaError("unsupported", "media format " +
                                          std::string(media_format_name(r.format)) +
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
  // 1. Decode on the pool (bounded queue: refused at once when full).
  Image image;
  auto done = std::make_shared<std::promise<void>>();
  std::future<void> decoded = done->get_future();
  const auto t0 = Clock::now();
  const bool queued = decoders_->try_submit([this, bytes, out, &image, done] {
    try {
      decode(bytes, out, &image);
    } catch (...) {
      out->result.error = "internal error while decoding";
      out->result.error_reason = "internal";
    }
    done->set_value();
  });
  if (!queued) {
    metrics_.add_rejection("decode");
    out->status = Status::error(Status::kQueueFull, "decode: queue full");
    return;
  }
  metrics_.set_queue_depth("decode", static_cast<double>(decoders_->depth()));
  decoded.wait();
  out->decode_seconds = since(t0);
  MediaHashResult& r = out->result;
  if (!r.ok()) {
    metrics_.add_decode_error(r.error_reason);
    return;
  }
  // 2. PDQ through the frame queue.
  Queue& q = pick_queue();
  const uint64_t cost = image_bytes(image);
  std::vector<Image> items;
  items.push_back(std::move(image));
  auto ticket = q.batcher->submit(std::move(items), cost);
  const Status& st = ticket->wait();
  if (!st.ok()) {
    out->status = st;
    return;
  }
  out->queue_seconds = ticket->queue_wait_seconds();
  r.pdq = ticket->results()[0];
}

Status MediaPipeline::hash_frames(std::vector<Image> frames, std::vector<pdq::PdqDihedral>* out) {
  uint64_t cost = 0;
  for (const Image& f : frames) cost += image_bytes(f);
  Queue& q = pick_queue();
  auto ticket = q.batcher->submit(std::move(frames), cost);
  const Status st = ticket->wait();
  if (st.ok()) *out = std::move(ticket->results());
  return st;
}

}  // namespace hashmatch::server
