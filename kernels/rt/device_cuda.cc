#include <cuda_runtime_api.h>

#include <cstdlib>
#include <mutex>

#include "kernels/rt/device.h"

namespace hashmatch {

bool cuda_compiled() { return true; }

std::string cuda_runtime_version() {
  return std::to_string(CUDART_VERSION / 1000) + "." + std::to_string((CUDART_VERSION % 1000) / 10);
}

std::vector<GpuInfo> list_gpus(std::string* why_none) {
  std::vector<GpuInfo> out;
  int n = 0;
  const cudaError_t err = cudaGetDeviceCount(&n);
  if (err != cudaSuccess) {
    (void)cudaGetLastError();
    if (why_none) *why_none = std::string(cudaGetErrorName(err)) + ": " + cudaGetErrorString(err);
    return out;
  }
  for (int i = 0; i < n; ++i) {
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, i) != cudaSuccess) {
      (void)cudaGetLastError();
      continue;
    }
    GpuInfo g;
    g.index = i;
    g.name = prop.name;
    g.total_memory_bytes = prop.totalGlobalMem;
    g.cc_major = prop.major;
    g.cc_minor = prop.minor;
    g.multiprocessors = prop.multiProcessorCount;
    out.push_back(std::move(g));
  }
  if (out.empty() && why_none) *why_none = "no CUDA device visible";
  return out;
}

bool gpu_available() {
  static std::once_flag once;
  static bool available = false;
  std::call_once(once, [] { available = !list_gpus().empty(); });
  return available;
}

bool gpu_required() {
  const char* v = std::getenv("HASHMATCH_REQUIRE_GPU");
  return v && std::string(v) == "1";
}

}  // namespace hashmatch
