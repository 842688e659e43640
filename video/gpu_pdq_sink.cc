#include "video/gpu_pdq_sink.h"

#include <algorithm>

#include "host/common/error.h"
#include "video/host_frames.h"

namespace hashmatch::video {

VideoPdqMode parse_video_pdq(std::string_view s) {
  if (s == "auto") return VideoPdqMode::kAuto;
  if (s == "cpu") return VideoPdqMode::kCpu;
  if (s == "cuda") return VideoPdqMode::kCuda;
  throw InvalidArgument("video PDQ must be auto, cpu or cuda, got '" + std::string(s) + "'");
}

YuvMatrix yuv_matrix_for(int colorspace, int color_range) {
  if (colorspace == 1) return YuvMatrix::kBt709Limited;   // AVCOL_SPC_BT709
  if (color_range == 2) return YuvMatrix::kBt601Full;     // AVCOL_RANGE_JPEG
  return YuvMatrix::kBt601Limited;
}

std::string device_frame_unsupported(const FrameInfo& info, const DeviceFrame& frame) {
  switch (frame.layout) {
    case DevicePixelLayout::kNv12: break;
    case DevicePixelLayout::kP016: return "10/12/16-bit (P010/P016) frames";
    case DevicePixelLayout::kYuv444:
    case DevicePixelLayout::kYuv444P16: return "4:4:4 frames";
  }
  if (info.rotate_degrees != 0) return "rotated frames (--vpdq-rotate)";
  if (info.target_width != frame.width || info.target_height != frame.height) {
    return "scaled frames (--vpdq-size)";
  }
  if (frame.width <= 0 || frame.height <= 0 || !frame.planes[0] || !frame.planes[1] ||
      frame.pitch[0] < frame.width || frame.pitch[1] < 2 * ((frame.width + 1) / 2)) {
    return "a frame with an unexpected geometry";
  }
  return {};
}

FrameView device_frame_view(const DeviceFrame& frame) {
  FrameView v;
  v.format = PixelFormat::kNv12;
  v.width = frame.width;
  v.height = frame.height;
  v.planes[0] = frame.planes[0];
  v.planes[1] = frame.planes[1];
  v.pitches[0] = frame.pitch[0];
  v.pitches[1] = frame.pitch[1];
  v.matrix = yuv_matrix_for(frame.colorspace, frame.color_range);
  return v;
}

bool gpu_pdq_built() {
#if HM_KERNELS_PDQ
  return true;
#else
  return false;
#endif
}

PdqSinkChoice choose_pdq_sink(const VideoOptions& opts, int frame_mod, bool built) {
  const VideoPdqMode mode = parse_video_pdq(opts.pdq);
  if (mode == VideoPdqMode::kCpu) return {};
  PdqSinkChoice c;
  if (!built) {
    c.why = "this build has no GPU PDQ (no CUDA)";
    return c;
  }
  const bool many = opts.keyframes_only || frame_mod <= 1;
  if (mode == VideoPdqMode::kAuto && !many) {
    c.why = "not every frame is hashed (the copy back of sampled frames is cheap)";
    return c;
  }
  c.gpu = true;
  c.host_on_gpu = true;
  if (opts.decoder == "cpu") {
    c.why = "frames are decoded on the CPU";
  } else if (opts.size > 0) {
    c.why = "--vpdq-size keeps the host path (swscale's area scaling)";
  } else if (opts.apply_rotation) {
    c.why = "--vpdq-rotate keeps the host path";
  } else {
    c.device = true;
  }
  return c;
}

#if !HM_KERNELS_PDQ
std::unique_ptr<DeviceFrameHasher> make_gpu_frame_hasher(int) {
  throw CudaError("GPU PDQ: this build has no CUDA backend");
}
#endif

GpuPdqSink::GpuPdqSink(GpuPdqSinkOptions opts)
    : opts_(std::move(opts)),
      batch_(std::clamp(opts_.batch, 1, opts_.copy_device_frames ? 64 : 6)),
      host_(opts_.host_threads) {
  if (!opts_.make_hasher) opts_.make_hasher = make_gpu_frame_hasher;
  if (opts_.mode == VideoPdqMode::kCpu) hasher_failed_ = true;
  thread_ = std::thread([this] { worker(); });
}

GpuPdqSink::~GpuPdqSink() {
  cancel();
  {
    std::lock_guard<std::mutex> lk(mu_);
    stopping_ = true;
  }
  cv_work_.notify_all();
  thread_.join();
}

bool GpuPdqSink::wants_device_frames() const { return opts_.device_frames && !hasher_failed_; }

bool GpuPdqSink::ensure_hasher(int device, bool for_device_frame) {
  if (hasher_) {
    if (hasher_device_ != device) {
      // Frames of one video come from one device; a change would be a decoder bug.
      throw Error("GPU PDQ sink: frames from device " + std::to_string(device) + " after device " +
                  std::to_string(hasher_device_));
    }
    return true;
  }
  if (hasher_failed_) return false;
  try {
    hasher_ = opts_.make_hasher(device);
    hasher_device_ = device;
    return true;
  } catch (const CudaError& e) {
    // --video-pdq cuda fails on device frames it cannot hash; host frames always have the CPU.
    if (opts_.mode == VideoPdqMode::kCuda && for_device_frame) throw;
    hasher_failed_ = true;
    note_ = std::string("GPU PDQ unavailable, frames hashed by the CPU PDQ: ") + e.what();
    return false;
  }
}

bool GpuPdqSink::takes_device_frame(const FrameInfo& info, const DeviceFrame& frame) {
  if (hasher_failed_ || !opts_.device_frames) return false;
  const std::string why = device_frame_unsupported(info, frame);
  if (!why.empty()) {
    if (note_.empty()) note_ = "GPU PDQ does not take " + why + ": hashed on the host (vPDQ-exact)";
    return false;
  }
  return ensure_hasher(frame.device, true);
}

Image GpuPdqSink::take_buffer(std::size_t bytes) { return host_.take_buffer(bytes); }

void GpuPdqSink::push_host(const FrameInfo& info, Image&& rgb) {
  ++host_count_;
  const int device = hasher_ ? hasher_device_ : opts_.host_device;
  if (!opts_.host_on_gpu || rgb.channels != 3 || !ensure_hasher(device, false)) {
    host_.push_host(info, std::move(rgb));
    return;
  }
  {
    std::lock_guard<std::mutex> lk(mu_);
    rethrow_error_locked();
  }
  auto img = std::make_shared<Image>(std::move(rgb));
  FrameView v;
  v.format = PixelFormat::kRgb24;
  v.width = img->width;
  v.height = img->height;
  v.planes[0] = img->pixels.data();
  v.pitches[0] = img->width * 3;
  add(Held{info, v, nullptr, std::move(img)});
}

void GpuPdqSink::rethrow_error_locked() {
  if (error_) std::rethrow_exception(error_);
}

void GpuPdqSink::push_device(const FrameInfo& info, const DeviceFrame& frame) {
  if (!hasher_) throw Error("GPU PDQ sink: push_device without takes_device_frame");
  {
    std::lock_guard<std::mutex> lk(mu_);
    rethrow_error_locked();
  }
  filling_stream_ = frame.cuda_stream;
  filling_.has_device = true;
  if (opts_.copy_device_frames) {
    // The decoder gets its surface back when push_device returns (frame.hold is not kept).
    FrameView copy;
    std::shared_ptr<void> token = hasher_->copy_frame(device_frame_view(frame), frame.cuda_stream, &copy);
    if (!token) throw Error("GPU PDQ sink: the hasher cannot copy device frames (copy_device_frames)");
    add(Held{info, copy, std::move(token), nullptr});
    return;
  }
  add(Held{info, device_frame_view(frame), frame.hold, nullptr});
}

void GpuPdqSink::add(Held h) {
  filling_.frames.push_back(std::move(h));
  if (static_cast<int>(filling_.frames.size()) >= batch_) close_batch(filling_stream_);
}

// Hands the filling batch to the hashing thread; returns once at most one batch is pending, so
// that with the next batch filling at most 2 x batch frames are held.
void GpuPdqSink::close_batch(void* stream) {
  if (filling_.frames.empty()) return;
  // Host-only batches wait for nothing (an event on the legacy stream would serialise sessions).
  if (filling_.has_device) filling_.ready = hasher_->mark_ready(stream);
  std::unique_lock<std::mutex> lk(mu_);
  queue_.push_back(std::move(filling_));
  filling_ = Batch{};
  cv_work_.notify_one();
  cv_done_.wait(lk, [&] { return queue_.size() + in_flight_ <= 1 || error_; });
  rethrow_error_locked();
}

void GpuPdqSink::worker() {
  std::vector<FrameView> views;
  std::vector<bool> on_host;
  for (;;) {
    Batch b;
    {
      std::unique_lock<std::mutex> lk(mu_);
      cv_work_.wait(lk, [&] { return !queue_.empty() || stopping_; });
      if (queue_.empty()) return;
      b = std::move(queue_.front());
      queue_.pop_front();
      ++in_flight_;
    }
    std::vector<VpdqFrame> out;
    std::exception_ptr err;
    int64_t hosts_in_batch = 0;
    for (const Held& h : b.frames) hosts_in_batch += h.host != nullptr;
    try {
      views.clear();
      on_host.clear();
      for (const Held& h : b.frames) {
        views.push_back(h.view);
        on_host.push_back(h.host != nullptr);
      }
      // Device frames only (a batch is never empty): the plain device call.
      const std::vector<pdq::PdqHash> hs = hosts_in_batch == 0
                                               ? hasher_->hash(views, b.ready)
                                               : hasher_->hash_mixed(views, on_host, b.ready);
      if (hs.size() != views.size()) throw Error("GPU PDQ returned a wrong number of results");
      for (std::size_t i = 0; i < hs.size(); ++i) {
        VpdqFrame f;
        f.frame_number = b.frames[i].info.frame_number;
        f.quality = hs[i].quality;
        f.hash = hs[i].hash;
        f.timestamp = b.frames[i].info.timestamp;
        out.push_back(f);
      }
    } catch (...) {
      err = std::current_exception();
    }
    for (Held& h : b.frames) {
      if (h.host && h.host.use_count() == 1) give_host_frame(std::move(*h.host));
    }
    b = Batch{};  // releases the surfaces
    {
      std::lock_guard<std::mutex> lk(mu_);
      --in_flight_;
      if (err) {
        if (!error_) error_ = err;
      } else {
        results_.insert(results_.end(), out.begin(), out.end());
        device_count_ += static_cast<int64_t>(out.size()) - hosts_in_batch;
        gpu_host_count_ += hosts_in_batch;
      }
    }
    cv_done_.notify_all();
  }
}

std::vector<VpdqFrame> GpuPdqSink::finish() {
  std::exception_ptr err;
  try {
    if (!filling_.frames.empty()) close_batch(filling_stream_);
  } catch (...) {
    err = std::current_exception();
  }
  std::vector<VpdqFrame> out;
  {
    std::unique_lock<std::mutex> lk(mu_);
    cv_done_.wait(lk, [&] { return queue_.empty() && in_flight_ == 0; });
    out.swap(results_);
    if (!err) err = error_;
    error_ = nullptr;
  }
  filling_ = Batch{};
  std::vector<VpdqFrame> host = host_.finish();  // ready for another video either way
  if (err) std::rethrow_exception(err);
  out.insert(out.end(), host.begin(), host.end());
  std::sort(out.begin(), out.end(),
            [](const VpdqFrame& a, const VpdqFrame& b) { return a.frame_number < b.frame_number; });
  return out;
}

void GpuPdqSink::cancel() {
  filling_ = Batch{};
  {
    std::unique_lock<std::mutex> lk(mu_);
    queue_.clear();  // releases the surfaces of batches not started
    cv_done_.wait(lk, [&] { return in_flight_ == 0; });
  }
  cv_done_.notify_all();
  host_.cancel();
}

int64_t GpuPdqSink::device_frames() const {
  std::lock_guard<std::mutex> lk(mu_);
  return device_count_;
}

int64_t GpuPdqSink::host_frames() const { return host_count_; }

int64_t GpuPdqSink::gpu_host_frames() const {
  std::lock_guard<std::mutex> lk(mu_);
  return gpu_host_count_;
}

std::string GpuPdqSink::note() const { return note_; }

}  // namespace hashmatch::video
