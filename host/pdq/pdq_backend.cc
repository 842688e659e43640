#include "host/pdq/pdq_backend.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>

#include "host/common/error.h"
#include "host/common/parallel.h"
#include "kernels/rt/device.h"

namespace hashmatch::pdq {
namespace {

std::mutex g_mu;
GpuBatchFactory g_factory;

// Runs fn(i) for i in [0, n) on up to `jobs` threads, each with its own PdqHasher.
template <typename Fn>
void parallel_hash(std::size_t n, int jobs, int prescale, Fn fn) {
  const int threads = static_cast<int>(std::min<std::size_t>(std::max(1, jobs), n));
  std::atomic<std::size_t> next{0};
  auto body = [&] {
    PdqHasher hasher(prescale);
    for (std::size_t i; (i = next.fetch_add(1)) < n;) fn(hasher, i);
  };
  if (threads <= 1) {
    body();
    return;
  }
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) pool.emplace_back(body);
  for (auto& t : pool) t.join();
}

PdqDihedral hash_one(PdqHasher& h, const Image& img, bool dihedral) {
  if (dihedral) return h.hash_dihedral(img);
  const PdqHash r = h.hash(img);
  PdqDihedral d;
  d.hashes[0] = r.hash;
  d.quality = r.quality;
  return d;
}

}  // namespace

BackendKind parse_backend(std::string_view s) {
  if (s == "auto") return BackendKind::kAuto;
  if (s == "cpu") return BackendKind::kCpu;
  if (s == "cuda") return BackendKind::kCuda;
  throw InvalidArgument("--backend must be cpu, cuda or auto, got '" + std::string(s) + "'");
}

CpuBatchHasher::CpuBatchHasher(const BatchOptions& opts)
    : prescale_(opts.prescale), jobs_(opts.jobs > 0 ? opts.jobs : default_jobs()) {}

std::string CpuBatchHasher::description() const {
  return "cpu (" + std::to_string(jobs_) + " threads)";
}

std::vector<PdqDihedral> CpuBatchHasher::hash_images(std::span<const Image* const> images,
                                                     bool dihedral) {
  for (const Image* p : images) {
    if (!p) throw InvalidArgument("hash_images: null image");
  }
  std::vector<PdqDihedral> out(images.size());
  parallel_hash(images.size(), jobs_, prescale_, [&](PdqHasher& h, std::size_t i) {
    out[i] = hash_one(h, *images[i], dihedral);
  });
  return out;
}

std::vector<PdqDihedral> CpuBatchHasher::hash_frames(std::span<const FrameView> frames,
                                                     bool dihedral) {
  for (const FrameView& f : frames) validate_frame(f);
  std::vector<PdqDihedral> out(frames.size());
  parallel_hash(frames.size(), jobs_, prescale_, [&](PdqHasher& h, std::size_t i) {
    out[i] = hash_one(h, frame_to_image(frames[i]), dihedral);
  });
  return out;
}

void register_gpu_factory(GpuBatchFactory factory) {
  std::lock_guard<std::mutex> lk(g_mu);
  g_factory = std::move(factory);
}

bool gpu_backend_linked() {
  std::lock_guard<std::mutex> lk(g_mu);
  return static_cast<bool>(g_factory);
}

std::unique_ptr<BatchHasher> make_batch_hasher(BackendKind want, const BatchOptions& opts,
                                               std::string* why) {
  auto cpu = [&](const std::string& reason) {
    auto h = std::make_unique<CpuBatchHasher>(opts);
    if (why) *why = h->description() + (reason.empty() ? "" : ": " + reason);
    return h;
  };
  if (want == BackendKind::kCpu) return cpu("");
  GpuBatchFactory factory;
  {
    std::lock_guard<std::mutex> lk(g_mu);
    factory = g_factory;
  }
  std::string none;
  if (!factory) {
    none = cuda_compiled() ? "the CUDA PDQ backend is not linked into this program"
                           : "this build has no CUDA backend";
  } else {
    std::string reason;
    if (list_gpus(&reason).empty()) none = "no GPU (" + reason + ")";
  }
  if (none.empty()) {
    auto h = factory(opts);
    if (why) *why = h->description();
    return h;
  }
  if (want == BackendKind::kCuda) throw CudaError("--backend cuda: " + none);
  if (gpu_required()) throw CudaError("HASHMATCH_REQUIRE_GPU=1 but " + none);
  return cpu(none);
}

}  // namespace hashmatch::pdq
