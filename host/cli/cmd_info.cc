#include <cstdio>

#include "host/cli/args.h"
#include "host/cli/commands.h"
#include "host/pdq/pdq.h"
#include "host/version.h"
#include "kernels/rt/device.h"
#if HM_KERNELS_PDQ
#include "kernels/pdq/gpu_jpeg.h"
#endif

namespace hashmatch::cli {

int cmd_info(const Argv& argv) {
  Args args(argv, {}, {"help"});
  if (args.flag("help")) {
    std::printf("usage: hashmatch info\n  prints the version, the backends compiled in and each visible GPU\n");
    return 0;
  }
  std::printf("hashmatch %s\n", kVersion);
  std::printf("backends: cpu%s\n", cuda_compiled() ? (", cuda (CUDA " + cuda_runtime_version() + ")").c_str() : "");
  std::printf("cuda architectures: %s\n", cuda_compiled() ? kCudaArchitectures : "none");
  std::printf("pdq cpu: %s\n", pdq::cpu_simd());
#if HM_KERNELS_PDQ
  std::printf("pdq gpu: compiled in\n");
  std::printf("nvjpeg: %s\n", pdq::nvjpeg_status().c_str());
#else
  std::printf("pdq gpu: not compiled in\nnvjpeg: not compiled in\n");
#endif
  std::string why;
  const auto gpus = list_gpus(&why);
  if (gpus.empty()) {
    std::printf("no GPU: CPU backend (%s)\n", why.c_str());
    return 0;
  }
  for (const GpuInfo& g : gpus) {
    std::printf("gpu %d: %s, %.1f GiB, compute capability %d.%d, %d SMs\n", g.index, g.name.c_str(),
                double(g.total_memory_bytes) / (1ull << 30), g.cc_major, g.cc_minor,
                g.multiprocessors);
  }
  return 0;
}

}  // namespace hashmatch::cli
