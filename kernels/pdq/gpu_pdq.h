// Batched PDQ on the GPU: bit-identical to host/pdq/pdq.h (hashes, qualities, all 8 dihedral
// variants, both pipelines). Host-safe header: no CUDA types; streams are passed as void*.
//
// Inputs of mixed sizes and formats in one call: Images and FrameViews in host memory (uploaded
// through pinned staging buffers) or FrameViews already in device memory (NVDEC / nvJPEG output).
// A call is split into chunks (host/pdq/batch_plan.h) that run as 4 kernel launches each; chunks
// alternate between `slots` (each with its own stream, pinned and device buffers), so packing and
// uploading chunk k+1 overlaps the kernels of chunk k and the download of chunk k-1.
//
// Not thread-safe: one hasher per thread (or a lock around it). All memory is allocated at first use
// and reused; it grows only for a chunk larger than the limits (a single huge image).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "host/pdq/pdq_backend.h"

namespace hashmatch::pdq {

class GpuBatchHasher : public BatchHasher {
 public:
  // Throws CudaError when the device cannot be used.
  explicit GpuBatchHasher(const BatchOptions& opts);
  ~GpuBatchHasher() override;
  GpuBatchHasher(const GpuBatchHasher&) = delete;
  GpuBatchHasher& operator=(const GpuBatchHasher&) = delete;

  std::vector<PdqDihedral> hash_images(std::span<const Image* const> images, bool dihedral) override;
  std::vector<PdqDihedral> hash_frames(std::span<const FrameView> frames, bool dihedral) override;

  // Frames whose planes are device pointers on this hasher's device. When `stream` (a cudaStream_t)
  // is given, the work starts after what is already queued on it (e.g. the decoder that wrote the
  // frames). Returns when the results are on the host; the frames must stay valid until then.
  std::vector<PdqDihedral> hash_device_frames(std::span<const FrameView> frames, bool dihedral,
                                              void* stream = nullptr);

  std::string_view backend() const override { return "cuda"; }
  std::string description() const override;

  struct Stats {
    uint64_t calls = 0, chunks = 0, images = 0, buffer_grows = 0;
  };
  Stats stats() const;

  // Internal (kernels/pdq): one input of any kind. `grey_step3`: a device RGBI plane whose first
  // byte of every 3 is the grey value (nvJPEG's RGBI output of a grey JPEG).
  struct Item {
    FrameView view;
    bool on_host = false;
    bool grey_step3 = false;
  };
  std::vector<PdqDihedral> hash_items(std::span<const Item> items, bool dihedral, void* stream);
  int device() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Makes make_batch_hasher(kCuda / kAuto) able to create GpuBatchHasher. Call once at startup of an
// executable that links hm_kernels_pdq (no CUDA call is made here).
void register_gpu_backend();

}  // namespace hashmatch::pdq
