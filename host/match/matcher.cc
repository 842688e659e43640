#include "host/match/matcher.h"

#include "host/common/error.h"
#include "host/match/cpu_matcher.h"
#include "kernels/rt/device.h"

#if defined(HASHMATCH_HAVE_CUDA_MATCHER)
#include "kernels/match/cuda_matcher.h"
#endif

namespace hashmatch {

Backend parse_backend(std::string_view s) {
  if (s == "auto") return Backend::kAuto;
  if (s == "cpu") return Backend::kCpu;
  if (s == "cuda" || s == "gpu") return Backend::kCuda;
  throw InvalidArgument("unknown backend '" + std::string(s) + "' (expected auto, cpu or cuda)");
}

std::string_view backend_name(Backend b) {
  switch (b) {
    case Backend::kAuto: return "auto";
    case Backend::kCpu: return "cpu";
    case Backend::kCuda: return "cuda";
  }
  return "?";
}

std::string_view cpu_index_name(CpuIndex i) {
  switch (i) {
    case CpuIndex::kAuto: return "auto";
    case CpuIndex::kBrute: return "brute";
    case CpuIndex::kMih: return "mih";
  }
  return "?";
}

CpuIndex parse_cpu_index(std::string_view s) {
  if (s == "auto") return CpuIndex::kAuto;
  if (s == "brute") return CpuIndex::kBrute;
  if (s == "mih") return CpuIndex::kMih;
  throw InvalidArgument("unknown CPU index '" + std::string(s) + "' (expected auto, brute or mih)");
}

std::string_view gpu_kernel_name(GpuKernel k) {
  switch (k) {
    case GpuKernel::kAuto: return "auto";
    case GpuKernel::kB1Mma: return "b1mma";
    case GpuKernel::kPopc: return "popc";
  }
  return "?";
}

GpuKernel parse_gpu_kernel(std::string_view s) {
  if (s == "auto") return GpuKernel::kAuto;
  if (s == "b1mma") return GpuKernel::kB1Mma;
  if (s == "popc") return GpuKernel::kPopc;
  throw InvalidArgument("unknown GPU kernel '" + std::string(s) + "' (expected auto, b1mma or popc)");
}

namespace {

std::unique_ptr<PdqMatcher> make_cuda(std::vector<Hash256>& hashes, const MatcherOptions& opts) {
#if defined(HASHMATCH_HAVE_CUDA_MATCHER)
  return make_cuda_pdq_matcher(std::move(hashes), opts);
#else
  (void)hashes;
  (void)opts;
  throw CudaError("backend cuda requested, but this build has no CUDA backend (nvcc was not found "
                  "at build time)");
#endif
}

// A GPU the matcher kernels run on (they are built for sm_80 and sm_90a: Ampere or newer).
bool matching_gpu_available() {
  if (!cuda_compiled() || !gpu_available()) return false;
  for (const GpuInfo& g : list_gpus()) {
    if (g.cc_major >= 8) return true;
  }
  return false;
}

}  // namespace

std::unique_ptr<PdqMatcher> make_pdq_matcher(std::vector<Hash256> hashes,
                                             const MatcherOptions& opts) {
  if (hashes.size() > std::size_t(UINT32_MAX)) {
    throw InvalidArgument("hash list too large: " + std::to_string(hashes.size()) +
                          " entries (at most 2^32 - 1)");
  }
  switch (opts.backend) {
    case Backend::kCpu: return std::make_unique<CpuPdqMatcher>(std::move(hashes), opts);
    case Backend::kCuda: {
      std::string why;
      if (cuda_compiled() && list_gpus(&why).empty()) {
        throw CudaError("backend cuda requested, but no GPU is usable: " + why);
      }
      return make_cuda(hashes, opts);
    }
    case Backend::kAuto:
      if (matching_gpu_available()) return make_cuda(hashes, opts);
      if (gpu_required()) {
        std::string why = "no CUDA backend in this build";
        if (cuda_compiled() && !list_gpus(&why).empty()) why = "no GPU of compute capability 8.0+";
        throw CudaError("HASHMATCH_REQUIRE_GPU=1 but the matcher found no GPU: " + why);
      }
      return std::make_unique<CpuPdqMatcher>(std::move(hashes), opts);
  }
  throw InvalidArgument("bad backend");
}

}  // namespace hashmatch
