// Built instead of device_cuda.cc when the CUDA backend is not compiled in.
#include <cstdlib>

#include "kernels/rt/device.h"

namespace hashmatch {

bool cuda_compiled() { return false; }
std::string cuda_runtime_version() { return ""; }
std::vector<GpuInfo> list_gpus(std::string* why_none) {
  if (why_none) *why_none = "CUDA backend not compiled in";
  return {};
}
bool gpu_available() { return false; }
bool set_primary_context_blocking_sync(int, std::string* why) {
  if (why) *why = "CUDA backend not compiled in";
  return false;
}
bool gpu_required() {
  const char* v = std::getenv("HASHMATCH_REQUIRE_GPU");
  return v && std::string(v) == "1";
}

}  // namespace hashmatch
