#include "host/server/frame_hasher.h"

#include <thread>

#include "host/common/error.h"
#include "host/pdq/pdq_backend.h"
#include "kernels/rt/device.h"
#if HM_KERNELS_PDQ
#include "kernels/pdq/gpu_pdq.h"
#endif

namespace hashmatch::server {
namespace {

// The CPU reference, one hasher (scratch buffers) per slot; the slot's thread does the work, so
// the CPU queue runs `slots` batches at once.
class CpuFrameHasher : public FrameHasher {
 public:
  explicit CpuFrameHasher(int prescale) : hasher_(prescale) {}
  std::vector<pdq::PdqDihedral> hash(std::span<const Image* const> images) override {
    std::vector<pdq::PdqDihedral> out;
    out.reserve(images.size());
    for (const Image* img : images) out.push_back(hasher_.hash_dihedral(*img));
    return out;
  }
  std::string_view backend() const override { return "cpu"; }

 private:
  pdq::PdqHasher hasher_;
};

// A batch hasher of host/pdq (the CUDA one: its own stream, pinned and device buffers).
class BatchFrameHasher : public FrameHasher {
 public:
  explicit BatchFrameHasher(std::unique_ptr<pdq::BatchHasher> h) : h_(std::move(h)) {}
  std::vector<pdq::PdqDihedral> hash(std::span<const Image* const> images) override {
    return h_->hash_images(images, /*dihedral=*/true);
  }
  std::string_view backend() const override { return h_->backend(); }

 private:
  std::unique_ptr<pdq::BatchHasher> h_;
};

int cores() {
  const unsigned n = std::thread::hardware_concurrency();
  return n ? static_cast<int>(n) : 1;
}

}  // namespace

std::vector<PdqQueueSpec> make_pdq_queues(const std::string& want, int slots_per_queue,
                                          int prescale, std::string* why) {
  const pdq::BackendKind kind = pdq::parse_backend(want);
  std::vector<PdqQueueSpec> queues;
  std::string reason;
  if (kind != pdq::BackendKind::kCpu) {
#if HM_KERNELS_PDQ
    pdq::register_gpu_backend();
#endif
    std::string none;
    std::vector<GpuInfo> gpus;
    if (!pdq::gpu_backend_linked()) {
      none = cuda_compiled() ? "the CUDA PDQ backend is not linked in" : "no CUDA in this build";
    } else {
      // The kernels are built for sm_80 and sm_90a (CMAKE_CUDA_ARCHITECTURES): older GPUs are
      // left out rather than failing every batch.
      for (const GpuInfo& g : list_gpus(&none)) {
        if (g.cc_major >= 8) {
          gpus.push_back(g);
        } else {
          none = g.name + " (compute capability " + std::to_string(g.cc_major) + "." +
                 std::to_string(g.cc_minor) + ") is older than the kernels' sm_80";
        }
      }
    }
    if (!gpus.empty()) {
      const int n = slots_per_queue > 0 ? slots_per_queue : 2;
      for (const GpuInfo& g : gpus) {
        PdqQueueSpec q;
        q.name = "pdq-cuda" + std::to_string(g.index);
        q.backend = "cuda";
        for (int s = 0; s < n; ++s) {
          pdq::BatchOptions bo;
          bo.prescale = prescale;
          bo.device = g.index;
          bo.slots = 2;  // chunks of one batch overlap upload, kernels and download
          q.slots.push_back(std::make_unique<BatchFrameHasher>(
              pdq::make_batch_hasher(pdq::BackendKind::kCuda, bo)));
        }
        queues.push_back(std::move(q));
      }
      if (why) {
        *why = "cuda: " + std::to_string(gpus.size()) + " GPU queue(s), " + std::to_string(n) +
               " batches in flight each (" + gpus.front().name + ")";
      }
      return queues;
    }
    if (kind == pdq::BackendKind::kCuda) throw CudaError("backend cuda: " + none);
    if (gpu_required()) throw CudaError("HASHMATCH_REQUIRE_GPU=1 but " + none);
    reason = " (" + none + ")";
  }
  PdqQueueSpec q;
  q.name = "pdq-cpu";
  q.backend = "cpu";
  const int n = slots_per_queue > 0 ? slots_per_queue : cores();
  for (int i = 0; i < n; ++i) q.slots.push_back(std::make_unique<CpuFrameHasher>(prescale));
  if (why) *why = "cpu: " + std::to_string(n) + " batches in flight" + reason;
  queues.push_back(std::move(q));
  return queues;
}

}  // namespace hashmatch::server
