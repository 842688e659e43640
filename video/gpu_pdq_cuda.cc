// The CUDA side of GpuPdqSink (built only with hm_kernels_pdq): GpuBatchHasher on NVDEC frames,
// ordered after the decoder's stream with an event, hashers pooled per device.
#include <cuda_runtime_api.h>

#include <map>
#include <mutex>

#include "host/common/error.h"
#include "kernels/pdq/gpu_pdq.h"
#include "kernels/rt/cuda_rt.h"
#include "video/gpu_pdq_sink.h"

namespace hashmatch::video {
namespace {

// Idle hashers per device, reused by later videos (their device buffers stay allocated).
constexpr std::size_t kPoolPerDevice = 16;

struct HasherPool {
  std::mutex mu;
  std::map<int, std::vector<std::unique_ptr<pdq::GpuBatchHasher>>> idle;
};

HasherPool& pool() {
  static HasherPool* p = new HasherPool;  // never destroyed: no CUDA frees after the runtime's exit
  return *p;
}

std::unique_ptr<pdq::GpuBatchHasher> take_hasher(int device) {
  {
    std::lock_guard<std::mutex> lk(pool().mu);
    auto& v = pool().idle[device];
    if (!v.empty()) {
      auto h = std::move(v.back());
      v.pop_back();
      return h;
    }
  }
  pdq::BatchOptions o;
  o.device = device;
  o.slots = 1;  // one chunk per call: the sink overlaps decoding and hashing itself
  return std::make_unique<pdq::GpuBatchHasher>(o);  // CudaError when the device is unusable
}

cuda::Stream make_stream(int device) {
  cuda::DeviceGuard g(device);
  return cuda::Stream();
}

class CudaFrameHasher : public DeviceFrameHasher {
 public:
  explicit CudaFrameHasher(int device)
      : device_(device), hasher_(take_hasher(device)), stream_(make_stream(device)) {}

  ~CudaFrameHasher() override {
    std::lock_guard<std::mutex> lk(pool().mu);
    auto& v = pool().idle[device_];
    if (v.size() < kPoolPerDevice) v.push_back(std::move(hasher_));
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
  std::unique_ptr<pdq::GpuBatchHasher> hasher_;
  cuda::Stream stream_;
};

}  // namespace

std::unique_ptr<DeviceFrameHasher> make_gpu_frame_hasher(int device) {
  return std::make_unique<CudaFrameHasher>(device);
}

}  // namespace hashmatch::video
