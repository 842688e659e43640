// Run-time discovery of GPUs. Host-safe (no CUDA header): every layer may call it, whether or not
// the CUDA backend was compiled in. No device means an empty list, never a crash.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace hashmatch {

struct GpuInfo {
  int index = 0;
  std::string name;
  std::size_t total_memory_bytes = 0;
  int cc_major = 0;
  int cc_minor = 0;
  int multiprocessors = 0;
};

// True when the CUDA backend was compiled into this binary.
bool cuda_compiled();
// CUDA runtime version compiled against, e.g. "13.0" ("" without CUDA).
std::string cuda_runtime_version();
// Visible GPUs. When there are none, `why_none` (if given) says why ("no CUDA driver", ...).
std::vector<GpuInfo> list_gpus(std::string* why_none = nullptr);
// True when at least one GPU is usable.
bool gpu_available();
// Sets device `device`'s primary context to blocking-sync scheduling (CU_CTX_SCHED_BLOCKING_SYNC),
// also when the CUDA runtime has already made it active with other flags. FFmpeg's CUDA device
// (NVDEC) shares the primary context only with exactly these flags: without this, a process whose
// GPU PDQ or matcher ran before its first video got "Primary context already active with
// incompatible flags" and decoded every video on the CPU (seen on an H100). False with `why` when
// the driver refuses.
bool set_primary_context_blocking_sync(int device, std::string* why);
// True when HASHMATCH_REQUIRE_GPU=1 is set (GPU tests fail instead of skipping; `auto` backends
// that find no GPU are an error).
bool gpu_required();

}  // namespace hashmatch
