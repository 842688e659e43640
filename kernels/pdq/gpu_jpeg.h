// JPEG -> PDQ with nvJPEG decoding on the GPU, the pixels never leaving the device.
//
// nvJPEG is loaded at run time (dlopen of libnvjpeg.so.<CUDA major>; HASHMATCH_NVJPEG_LIB names
// another file), so a binary built with it runs everywhere and says what it found in `hashmatch
// info`. What nvJPEG should not decode (progressive, CMYK, RGB-coded, 12-bit, truncated, files the
// hardware decoder does not support, anything not JPEG) goes to the CPU decoder (libjpeg-turbo),
// and a file nvJPEG fails on is retried there too.
//
// nvJPEG's pixels differ slightly from libjpeg-turbo's (IDCT, chroma upsampling, colour
// conversion), so these hashes are NOT bit-exact with the reference lists: the libjpeg-turbo path
// stays the default everywhere. bench_pdq_gpu --mode jpeg-diff measures the difference.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "host/image/decode.h"
#include "host/pdq/pdq_backend.h"
#include "kernels/pdq/gpu_pdq.h"

namespace hashmatch::pdq {

// True when this build has nvJPEG support compiled in.
bool nvjpeg_compiled();
// One line for `hashmatch info`: "not compiled in", "library not loadable (...)", or
// "libnvjpeg.so.13 (nvJPEG 13.0.4)". Loads the library (no device needed).
std::string nvjpeg_status();

struct JpegHashResult {
  std::string error, error_reason;  // empty when hashed
  PdqDihedral pdq;
  int width = 0, height = 0;
  bool gpu_decoded = false;   // nvJPEG decoded it (else the CPU decoder)
  std::string cpu_reason;     // why the CPU decoder was used
  bool ok() const { return error.empty(); }
};

class GpuJpegHasher {
 public:
  // Throws CudaError when nvJPEG or the GPU cannot be used.
  explicit GpuJpegHasher(const BatchOptions& opts, int max_batch = 256,
                         std::size_t decode_budget_bytes = std::size_t(1) << 30);
  ~GpuJpegHasher();
  GpuJpegHasher(const GpuJpegHasher&) = delete;
  GpuJpegHasher& operator=(const GpuJpegHasher&) = delete;

  // Hashes each file (JPEG or any other image format; non-JPEGs take the CPU decoder). Never throws
  // for bad media: the error is in the item's result.
  std::vector<JpegHashResult> hash(std::span<const std::span<const uint8_t>> files, bool dihedral,
                                   const DecodeLimits& limits);

  // nvJPEG alone, pixels copied to the host (RGB; grey JPEGs as 1 channel). Throws MediaError when
  // the file is not eligible or nvJPEG fails. For measuring decoder differences.
  Image decode_nvjpeg(std::span<const uint8_t> jpeg);

  std::string backend_name() const;  // nvJPEG backend in use: "hardware", "gpu-hybrid", "default"
  GpuBatchHasher& pdq_hasher();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace hashmatch::pdq
