#include <cuda.h>
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

bool set_primary_context_blocking_sync(int device, std::string* why) {
  // Driver API through the runtime's entry-point query: no link-time dependency on libcuda.
  using GetFn = CUresult (*)(CUdevice*, int);
  using GetStateFn = CUresult (*)(CUdevice, unsigned int*, int*);
  using SetFn = CUresult (*)(CUdevice, unsigned int);
  void* get = nullptr;
  void* get_state = nullptr;
  void* set = nullptr;
  cudaDriverEntryPointQueryResult q1{}, q2{}, q3{};
  if (cudaGetDriverEntryPointByVersion("cuDeviceGet", &get, 12000, cudaEnableDefault, &q1) != cudaSuccess ||
      cudaGetDriverEntryPointByVersion("cuDevicePrimaryCtxGetState", &get_state, 12000, cudaEnableDefault,
                                       &q2) != cudaSuccess ||
      cudaGetDriverEntryPointByVersion("cuDevicePrimaryCtxSetFlags", &set, 12000, cudaEnableDefault, &q3) !=
          cudaSuccess ||
      !get || !get_state || !set) {
    (void)cudaGetLastError();
    if (why) *why = "the CUDA driver has no primary-context entry points";
    return false;
  }
  CUdevice dev = 0;
  if (reinterpret_cast<GetFn>(get)(&dev, device) != CUDA_SUCCESS) {
    if (why) *why = "no CUDA device " + std::to_string(device);
    return false;
  }
  unsigned int flags = 0;
  int active = 0;
  if (reinterpret_cast<GetStateFn>(get_state)(dev, &flags, &active) == CUDA_SUCCESS &&
      flags == CU_CTX_SCHED_BLOCKING_SYNC) {
    return true;
  }
  const CUresult r = reinterpret_cast<SetFn>(set)(dev, CU_CTX_SCHED_BLOCKING_SYNC);
  if (r != CUDA_SUCCESS) {
    if (why) *why = "cuDevicePrimaryCtxSetFlags failed (CUresult " + std::to_string(int(r)) + ")";
    return false;
  }
  return true;
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
