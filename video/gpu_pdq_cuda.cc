// The CUDA side of GpuPdqSink (built only with hm_kernels_pdq): GpuBatchHasher on NVDEC frames,
// ordered after the decoder's stream with an event, hashers pooled per device.
#include <cuda_runtime_api.h>

#include <algorithm>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "host/common/error.h"
#include "kernels/pdq/gpu_pdq.h"
#include "kernels/rt/cuda_rt.h"
#include "video/gpu_pdq_sink.h"
#include "video/sized_recycler.h"

namespace hashmatch::video {
namespace {

// Idle hashers per device, with their streams, reused by later videos (their device and pinned
// buffers stay allocated). A sink makes one per video; with fewer kept than sinks at work (16
// against 24 sessions hashing key frames on an H100) the ones beyond were freed and made again
// with every video: pinned staging allocated and freed (cudaFreeHost and cudaFree synchronise the
// device: every session's hashing stalled) and a stream created and destroyed: 6-12 ms of each
// 20-s video's keyframes-only hashing with 16-24 sessions, 0.1-0.4 ms with 32 kept
// (docs/performance.md). 32: NVDEC's 16 sessions and as many on the CPU.
constexpr std::size_t kPoolPerDevice = 32;

struct PooledHasher {
  std::unique_ptr<pdq::GpuBatchHasher> hasher;
  cuda::Stream stream;
};

struct HasherPool {
  std::mutex mu;
  std::map<int, std::vector<PooledHasher>> idle;
};

HasherPool& pool() {
  static HasherPool* p = new HasherPool;  // never destroyed: no CUDA frees after the runtime's exit
  return *p;
}

PooledHasher take_hasher(int device) {
  {
    std::lock_guard<std::mutex> lk(pool().mu);
    auto& v = pool().idle[device];
    if (!v.empty()) {
      PooledHasher h = std::move(v.back());
      v.pop_back();
      return h;
    }
  }
  pdq::BatchOptions o;
  o.device = device;
  o.slots = 1;  // one chunk per call: the sink overlaps decoding and hashing itself
  PooledHasher h;
  h.hasher = std::make_unique<pdq::GpuBatchHasher>(o);  // CudaError when the device is unusable
  cuda::DeviceGuard g(device);
  h.stream = cuda::Stream();
  return h;
}

// Device buffers for copied NV12 frames (copy_device_frames), recycled by size, one pool per
// device shared by every sink (device_frame_buffers): a pool per sink allocated and freed up to
// 2 x 64 + 1 frames with every video, and each cudaMalloc / cudaFree is a device-wide
// synchronisation point that stalls every other session's decoding and hashing. Sharing is safe:
// a buffer comes back only after the kernels that read it finished (the hasher waits for them), or
// unread (a cancelled batch) with at most its copy still queued on the decoders' stream, where
// every later copy into it is queued too (one FFmpeg CUDA device, its null stream). The tokens
// handed out hold the pool (the pools live as long as the process anyway). What is kept free,
// and what goes first, is video/sized_recycler.h's policy: per sink copying frames now, what one
// sink turns over (two batches of 64 and the one being filled) and at most 1 GiB; the oldest free
// buffers beyond that are freed, whatever their size.
class FrameBuffers : public std::enable_shared_from_this<FrameBuffers> {
 public:
  using Buffer = cuda::DeviceBuffer<uint8_t>;
  explicit FrameBuffers(int device) : device_(device) {}

  // A buffer of `bytes` (a free one of that size when there is one), returned to the pool when
  // the last copy of the pointer goes.
  std::shared_ptr<Buffer> take(std::size_t bytes) {
    std::unique_ptr<Buffer> b = free_.take(bytes);
    if (!b) {
      cuda::DeviceGuard g(device_);
      b = std::make_unique<Buffer>(bytes);
    }
    return std::shared_ptr<Buffer>(b.release(), [pool = shared_from_this()](Buffer* p) noexcept {
      try {
        pool->release(pool->free_.give(std::unique_ptr<Buffer>(p)));
      } catch (...) {  // a failed free: the memory stays allocated, nothing else is wrong
      }
    });
  }

  // A sink started / stopped copying frames (the caps are per such sink).
  void add_user() { free_.add_user(); }
  void remove_user() noexcept {
    try {
      release(free_.remove_user());
    } catch (...) {  // a failed free: the memory stays allocated, nothing else is wrong
    }
  }

 private:
  static constexpr std::size_t kMaxFree = 2 * 64 + 2;
  static constexpr std::size_t kMaxFreeBytes = std::size_t(1) << 30;

  // Frees what the caps dropped (outside the recycler's lock: cudaFree synchronises the device).
  void release(std::vector<std::unique_ptr<Buffer>> dropped) {
    if (dropped.empty()) return;
    cuda::DeviceGuard g(device_);
    dropped.clear();
  }

  int device_;
  SizedRecycler<Buffer> free_{kMaxFree, kMaxFreeBytes};
};

// The frame-buffer pool of `device` (never destroyed: no CUDA frees after the runtime's exit).
std::shared_ptr<FrameBuffers> device_frame_buffers(int device) {
  static std::mutex mu;
  static auto* pools = new std::map<int, std::shared_ptr<FrameBuffers>>;
  std::lock_guard<std::mutex> lk(mu);
  std::shared_ptr<FrameBuffers>& p = (*pools)[device];
  if (!p) p = std::make_shared<FrameBuffers>(device);
  return p;
}

class CudaFrameHasher : public DeviceFrameHasher {
 public:
  explicit CudaFrameHasher(int device)
      : device_(device),
        pooled_(take_hasher(device)),
        hasher_(pooled_.hasher.get()),
        stream_(pooled_.stream),
        buffers_(device_frame_buffers(device)) {}

  std::shared_ptr<void> copy_frame(const FrameView& src, void* stream, FrameView* dst) override {
    if (src.format != PixelFormat::kNv12) return nullptr;
    cuda::DeviceGuard g(device_);
    if (!copying_) {
      buffers_->add_user();
      copying_ = true;
    }
    const std::size_t pitch = (static_cast<std::size_t>(src.width) + 255) / 256 * 256;
    const std::size_t rows = static_cast<std::size_t>(src.height);
    const std::size_t crows = (rows + 1) / 2;
    const std::size_t cwidth = 2 * ((static_cast<std::size_t>(src.width) + 1) / 2);
    auto buf = buffers_->take(pitch * (rows + crows));
    auto* y = buf->data();
    auto* uv = y + pitch * rows;
    auto s = static_cast<cudaStream_t>(stream);
    HM_CUDA_TRY(cudaMemcpy2DAsync(y, pitch, src.planes[0], static_cast<std::size_t>(src.pitches[0]),
                                  static_cast<std::size_t>(src.width), rows, cudaMemcpyDeviceToDevice, s));
    HM_CUDA_TRY(cudaMemcpy2DAsync(uv, pitch, src.planes[1], static_cast<std::size_t>(src.pitches[1]),
                                  cwidth, crows, cudaMemcpyDeviceToDevice, s));
    *dst = src;
    dst->planes[0] = y;
    dst->planes[1] = uv;
    dst->pitches[0] = static_cast<int>(pitch);
    dst->pitches[1] = static_cast<int>(pitch);
    return buf;
  }

  ~CudaFrameHasher() override {
    if (copying_) buffers_->remove_user();
    // Its work is done: hash() and hash_mixed() return once their results are on the host.
    std::lock_guard<std::mutex> lk(pool().mu);
    auto& v = pool().idle[device_];
    if (v.size() < kPoolPerDevice) v.push_back(std::move(pooled_));
  }

  std::shared_ptr<void> mark_ready(void* stream) override {
    cuda::DeviceGuard g(device_);
    auto ev = std::make_shared<cuda::Event>(false);
    ev->record(static_cast<cudaStream_t>(stream));
    return ev;
  }

  std::vector<pdq::PdqHash> hash(std::span<const FrameView> frames,
                                 const std::shared_ptr<void>& ready) override {
    cuda::DeviceGuard g(device_);
    if (ready) {
      HM_CUDA_TRY(cudaStreamWaitEvent(stream_.get(), static_cast<cuda::Event*>(ready.get())->get(), 0));
    }
    const std::vector<pdq::PdqDihedral> r = hasher_->hash_device_frames(frames, false, stream_.get());
    std::vector<pdq::PdqHash> out(r.size());
    for (std::size_t i = 0; i < r.size(); ++i) {
      out[i].hash = r[i].hashes[0];
      out[i].quality = r[i].quality;
    }
    return out;
  }

  std::vector<pdq::PdqHash> hash_mixed(std::span<const FrameView> frames,
                                       const std::vector<bool>& on_host,
                                       const std::shared_ptr<void>& ready) override {
    cuda::DeviceGuard g(device_);
    if (ready) {
      HM_CUDA_TRY(cudaStreamWaitEvent(stream_.get(), static_cast<cuda::Event*>(ready.get())->get(), 0));
    }
    std::vector<pdq::GpuBatchHasher::Item> items(frames.size());
    for (std::size_t i = 0; i < frames.size(); ++i) {
      items[i].view = frames[i];
      items[i].on_host = i < on_host.size() && on_host[i];
    }
    const std::vector<pdq::PdqDihedral> r = hasher_->hash_items(items, false, stream_.get());
    std::vector<pdq::PdqHash> out(r.size());
    for (std::size_t i = 0; i < r.size(); ++i) {
      out[i].hash = r[i].hashes[0];
      out[i].quality = r[i].quality;
    }
    return out;
  }

 private:
  int device_;
  PooledHasher pooled_;
  pdq::GpuBatchHasher* hasher_;  // pooled_'s
  const cuda::Stream& stream_;   // pooled_'s
  std::shared_ptr<FrameBuffers> buffers_;
  bool copying_ = false;  // counted as a user of buffers_
};

}  // namespace

std::unique_ptr<DeviceFrameHasher> make_gpu_frame_hasher(int device) {
  return std::make_unique<CudaFrameHasher>(device);
}

}  // namespace hashmatch::video
