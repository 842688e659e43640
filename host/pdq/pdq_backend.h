// Batched PDQ and the choice of backend (CPU or CUDA), written once for every caller.
//
// The CPU backend is the reference (host/pdq/pdq.h) run on a pool of threads; the CUDA backend
// (kernels/pdq/gpu_pdq.h) gives bit-identical results. The CUDA backend is linked into executables
// that want it and registers itself with register_gpu_pdq_factory() (kernels/pdq:
// hashmatch::pdq::register_gpu_backend()); this keeps host/ free of any CUDA dependency.
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "host/image/image.h"
#include "host/pdq/batch_plan.h"
#include "host/pdq/frame.h"
#include "host/pdq/pdq.h"

namespace hashmatch::pdq {

enum class BackendKind { kAuto, kCpu, kCuda };
// "auto" | "cpu" | "cuda"; InvalidArgument otherwise.
BackendKind parse_backend(std::string_view s);

struct BatchOptions {
  int prescale = 0;     // 0: full resolution; 512: the reference CLI's pre-resize
  int jobs = 0;         // CPU backend: worker threads (0: all cores)
  int device = 0;       // CUDA backend: device index
  int slots = 2;        // CUDA backend: batches in flight (each owns a stream and its buffers)
  PlanLimits limits;    // CUDA backend: per-chunk arena, staging and image-count limits
};

class BatchHasher {
 public:
  virtual ~BatchHasher() = default;
  // Result i belongs to images[i]; hashes[1..7] are filled only when `dihedral` (else zero).
  // Every pointer must be non-null. Throws on device failure (the whole batch failed).
  virtual std::vector<PdqDihedral> hash_images(std::span<const Image* const> images,
                                               bool dihedral) = 0;
  // Frames in host memory (any PixelFormat; YUV converted as host/pdq/frame.h says).
  virtual std::vector<PdqDihedral> hash_frames(std::span<const FrameView> frames, bool dihedral) = 0;
  virtual std::string_view backend() const = 0;  // "cpu", "cuda"
  virtual std::string description() const { return std::string(backend()); }
};

// The CPU reference on `jobs` threads (results identical for any jobs).
class CpuBatchHasher : public BatchHasher {
 public:
  explicit CpuBatchHasher(const BatchOptions& opts);
  std::vector<PdqDihedral> hash_images(std::span<const Image* const> images, bool dihedral) override;
  std::vector<PdqDihedral> hash_frames(std::span<const FrameView> frames, bool dihedral) override;
  std::string_view backend() const override { return "cpu"; }
  std::string description() const override;

 private:
  int prescale_;
  int jobs_;
};

using GpuBatchFactory = std::function<std::unique_ptr<BatchHasher>(const BatchOptions&)>;
// Called once by the CUDA backend's registration (kernels/pdq); later calls replace it.
void register_gpu_factory(GpuBatchFactory factory);
bool gpu_backend_linked();

// kCpu: the CPU hasher. kCuda: the CUDA hasher, or CudaError saying why there is none (not linked
// into this executable, no device). kAuto: CUDA when linked and a device answers, else CPU — unless
// HASHMATCH_REQUIRE_GPU=1, where no GPU is an error. `why` (optional) receives the reason for the
// choice ("cuda: NVIDIA H100 ...", "cpu: no GPU (...)").
std::unique_ptr<BatchHasher> make_batch_hasher(BackendKind want, const BatchOptions& opts,
                                               std::string* why = nullptr);

}  // namespace hashmatch::pdq
