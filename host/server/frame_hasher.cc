#include "host/server/frame_hasher.h"

#include <thread>

#include "host/common/error.h"
#include "kernels/rt/device.h"

namespace hashmatch::server {
namespace {

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

int cores() {
  const unsigned n = std::thread::hardware_concurrency();
  return n ? static_cast<int>(n) : 1;
}

}  // namespace

std::vector<PdqQueueSpec> make_pdq_queues(const std::string& want, int slots_per_queue,
                                          int prescale, std::string* why) {
  if (want == "cuda") {
    throw CudaError("the CUDA PDQ backend is not linked into this build of the server "
                    "(kernels/pdq); use backend auto or cpu");
  }
  if (want != "auto" && want != "cpu") {
    throw InvalidArgument("unknown PDQ backend '" + want + "' (auto, cpu, cuda)");
  }
  if (want == "auto" && gpu_required()) {
    throw CudaError("HASHMATCH_REQUIRE_GPU=1 but the CUDA PDQ backend is not linked in");
  }
  std::vector<PdqQueueSpec> queues(1);
  PdqQueueSpec& q = queues[0];
  q.name = "pdq-cpu";
  q.backend = "cpu";
  const int n = slots_per_queue > 0 ? slots_per_queue : cores();
  for (int i = 0; i < n; ++i) q.slots.push_back(std::make_unique<CpuFrameHasher>(prescale));
  if (why) {
    *why = "cpu: " + std::to_string(n) + " slots" +
           (want == "auto" ? " (GPU PDQ backend not linked)" : "");
  }
  return queues;
}

}  // namespace hashmatch::server
