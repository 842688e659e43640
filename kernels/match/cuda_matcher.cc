#include "kernels/match/cuda_matcher.h"

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <exception>
#include <mutex>
#include <string>
#include <thread>

#include "host/common/error.h"
#include "kernels/match/b1_host_layout.h"
#include "kernels/match/range_search.h"
#include "kernels/rt/cuda_rt.h"
#include "kernels/rt/device.h"

namespace hashmatch {
namespace {

static_assert(sizeof(b1::DeviceHit) == sizeof(PdqHit) && alignof(b1::DeviceHit) == alignof(PdqHit),
              "device hits are copied into PdqHit vectors as they are");
static_assert(offsetof(b1::DeviceHit, query) == offsetof(PdqHit, query) &&
              offsetof(b1::DeviceHit, index) == offsetof(PdqHit, index) &&
              offsetof(b1::DeviceHit, distance) == offsetof(PdqHit, distance));
static_assert(sizeof(Hash256) == 8 * sizeof(uint32_t));

constexpr std::size_t kMaxQueriesPerPass = 16384;             // queries uploaded per pass
constexpr std::size_t kDefaultHitCapacity = std::size_t{1} << 20;   // 12 MiB per slot
constexpr std::size_t kDefaultMaxHitCapacity = std::size_t{64} << 20;  // 768 MiB per slot
// One query against one group yields at most 16 hits: a smaller buffer could not make progress.
constexpr std::size_t kMinHitCapacity = b1::kGroupEntries;

// One batch in flight on one device: its stream, query buffer, hit buffer and counter, and the
// pinned staging for each (no allocation per batch; the hit buffers grow only on overflow).
struct Slot {
  explicit Slot(std::size_t capacity)
      : queries(kMaxQueriesPerPass * 8),
        hits(capacity),
        count(1),
        h_queries(kMaxQueriesPerPass * 8),
        h_hits(capacity),
        h_count(1) {}
  cuda::Stream stream;
  cuda::DeviceBuffer<uint32_t> queries;
  cuda::DeviceBuffer<b1::DeviceHit> hits;
  cuda::DeviceBuffer<unsigned long long> count;
  cuda::PinnedBuffer<uint32_t> h_queries;
  cuda::PinnedBuffer<b1::DeviceHit> h_hits;
  cuda::PinnedBuffer<unsigned long long> h_count;
};

// A contiguous part of the list on one device.
struct Shard {
  int device = 0;
  int sm_count = 1;
  std::string name;
  std::size_t entries = 0;
  uint32_t n_groups = 0;
  cuda::DeviceBuffer<uint32_t> swz;
  cuda::DeviceBuffer<uint16_t> group_pc;
  cuda::DeviceBuffer<uint32_t> perm;
  std::mutex mu;
  std::vector<std::unique_ptr<Slot>> idle;  // slots not in use by a call
};

class CudaPdqMatcher final : public PdqMatcher {
 public:
  CudaPdqMatcher(std::vector<Hash256> hashes, const MatcherOptions& opts);
  ~CudaPdqMatcher() override;

  void range_search(std::span<const Hash256> queries, int threshold,
                    std::vector<PdqHit>& out) const override;
  std::size_t size() const override { return size_; }
  std::string backend() const override { return popc_ ? "cuda-popc" : "cuda-b1mma"; }
  std::string detail() const override;
  std::size_t memory_bytes() const override;

 private:
  void search_shard(Shard& shard, std::span<const Hash256> queries, int t,
                    std::vector<PdqHit>& out) const;
  void run_pass(Shard& shard, Slot& slot, uint32_t q_begin, uint32_t q_end, uint32_t query_offset,
                uint32_t g_begin, uint32_t g_end, int t, std::vector<PdqHit>& out) const;

  std::size_t size_ = 0;
  bool popc_ = false;
  std::size_t capacity_ = kDefaultHitCapacity;
  std::size_t max_capacity_ = kDefaultMaxHitCapacity;
  std::vector<std::unique_ptr<Shard>> shards_;
};

CudaPdqMatcher::CudaPdqMatcher(std::vector<Hash256> hashes, const MatcherOptions& opts)
    : size_(hashes.size()), popc_(opts.gpu_kernel == GpuKernel::kPopc) {
  std::string why;
  const std::vector<GpuInfo> gpus = list_gpus(&why);
  if (gpus.empty()) throw CudaError("the CUDA matcher needs a GPU: " + why);
  std::vector<GpuInfo> use;
  if (opts.gpu_devices.empty()) {
    use = gpus;
  } else {
    for (int d : opts.gpu_devices) {
      auto it = std::find_if(gpus.begin(), gpus.end(), [&](const GpuInfo& g) { return g.index == d; });
      if (it == gpus.end()) throw CudaError("GPU " + std::to_string(d) + " is not visible");
      use.push_back(*it);
    }
  }
  for (const GpuInfo& g : use) {
    if (g.cc_major < 8) {
      throw CudaError("GPU " + std::to_string(g.index) + " (" + g.name +
                      ") is older than sm_80: the b1 tensor-core kernels need Ampere or newer");
    }
  }
  if (opts.gpu_hit_capacity) capacity_ = opts.gpu_hit_capacity;
  capacity_ = std::max(capacity_, kMinHitCapacity);
  if (opts.gpu_max_hit_capacity) max_capacity_ = opts.gpu_max_hit_capacity;
  max_capacity_ = std::max(max_capacity_, capacity_);

  // Contiguous index ranges, one per GPU (an empty list still gets one empty shard per GPU).
  const std::size_t n = hashes.size();
  for (std::size_t s = 0; s < use.size(); ++s) {
    const std::size_t b = n * s / use.size(), e = n * (s + 1) / use.size();
    auto shard = std::make_unique<Shard>();
    shard->device = use[s].index;
    shard->sm_count = use[s].multiprocessors;
    shard->name = use[s].name;
    shard->entries = e - b;
    b1::HostLayout L = b1::build_host_layout(hashes.data() + b, e - b, uint32_t(b));
    cuda::DeviceGuard guard(shard->device);
    shard->n_groups = L.n_groups;
    shard->swz = cuda::DeviceBuffer<uint32_t>(L.swz.size());
    shard->group_pc = cuda::DeviceBuffer<uint16_t>(L.group_pc.size());
    shard->perm = cuda::DeviceBuffer<uint32_t>(L.perm.size());
    cuda::Stream upload;
    if (!L.swz.empty()) {
      shard->swz.copy_from_host(L.swz.data(), L.swz.size(), upload.get());
      shard->group_pc.copy_from_host(L.group_pc.data(), L.group_pc.size(), upload.get());
      shard->perm.copy_from_host(L.perm.data(), L.perm.size(), upload.get());
    }
    upload.synchronize();  // L (pageable host memory) is freed below
    shard->idle.push_back(std::make_unique<Slot>(capacity_));
    shards_.push_back(std::move(shard));
  }
}

CudaPdqMatcher::~CudaPdqMatcher() {
  // Free each shard's buffers and streams with its device current.
  for (auto& s : shards_) {
    try {
      cuda::DeviceGuard guard(s->device);
      s.reset();
    } catch (const std::exception&) {
      s.reset();  // the device is gone; the frees only log
    }
  }
}

std::string CudaPdqMatcher::detail() const {
  std::string s = backend() + " (";
  for (std::size_t i = 0; i < shards_.size(); ++i) {
    if (i) s += ", ";
    s += "GPU " + std::to_string(shards_[i]->device) + " " + shards_[i]->name + ": " +
         std::to_string(shards_[i]->entries) + " entries";
  }
  return s + ")";
}

std::size_t CudaPdqMatcher::memory_bytes() const {
  std::size_t b = 0;
  for (const auto& s : shards_) b += s->swz.bytes() + s->group_pc.bytes() + s->perm.bytes();
  return b;
}

void CudaPdqMatcher::range_search(std::span<const Hash256> queries, int threshold,
                                  std::vector<PdqHit>& out) const {
  if (threshold < 0 || threshold > Hash256::kBits) {
    throw InvalidArgument("PDQ threshold must be in [0, 256], got " + std::to_string(threshold));
  }
  if (queries.size() > std::size_t(UINT32_MAX)) throw InvalidArgument("too many queries in one batch");
  if (queries.empty() || size_ == 0) return;
  if (shards_.size() == 1) {
    search_shard(*shards_[0], queries, threshold, out);
    return;
  }
  // Several GPUs: one host thread per shard, the shards' hits appended in shard order.
  std::vector<std::vector<PdqHit>> parts(shards_.size());
  std::vector<std::exception_ptr> errors(shards_.size());
  std::vector<std::thread> threads;
  for (std::size_t s = 0; s < shards_.size(); ++s) {
    threads.emplace_back([&, s] {
      try {
        search_shard(*shards_[s], queries, threshold, parts[s]);
      } catch (...) {
        errors[s] = std::current_exception();
      }
    });
  }
  for (auto& th : threads) th.join();
  for (auto& e : errors) {
    if (e) std::rethrow_exception(e);
  }
  for (auto& p : parts) out.insert(out.end(), p.begin(), p.end());
}

void CudaPdqMatcher::search_shard(Shard& shard, std::span<const Hash256> queries, int t,
                                  std::vector<PdqHit>& out) const {
  if (shard.n_groups == 0) return;
  cuda::DeviceGuard guard(shard.device);
  // Lease a slot (a concurrent call gets its own; slots are kept for reuse).
  std::unique_ptr<Slot> slot;
  {
    std::lock_guard<std::mutex> lk(shard.mu);
    if (!shard.idle.empty()) {
      slot = std::move(shard.idle.back());
      shard.idle.pop_back();
    }
  }
  if (!slot) slot = std::make_unique<Slot>(capacity_);
  struct Return {
    Shard& shard;
    std::unique_ptr<Slot>& slot;
    ~Return() {
      std::lock_guard<std::mutex> lk(shard.mu);
      shard.idle.push_back(std::move(slot));
    }
  } give_back{shard, slot};

  for (std::size_t qb = 0; qb < queries.size(); qb += kMaxQueriesPerPass) {
    const std::size_t nq = std::min(kMaxQueriesPerPass, queries.size() - qb);
    std::memcpy(slot->h_queries.data(), queries.data() + qb, nq * sizeof(Hash256));
    slot->queries.copy_from_host(slot->h_queries.data(), nq * 8, slot->stream.get());
    run_pass(shard, *slot, 0, uint32_t(nq), uint32_t(qb), 0, shard.n_groups, t, out);
  }
}

// Queries [q_begin, q_end) of the uploaded batch against groups [g_begin, g_end). On overflow the
// exact count tells how large the buffer must be: grow and rerun while that stays within
// max_capacity_, otherwise split the queries (then the groups) in halves and recurse.
void CudaPdqMatcher::run_pass(Shard& shard, Slot& slot, uint32_t q_begin, uint32_t q_end,
                              uint32_t query_offset, uint32_t g_begin, uint32_t g_end, int t,
                              std::vector<PdqHit>& out) const {
  for (;;) {
    b1::RangeLaunch p;
    p.swz = shard.swz.data();
    p.group_pc = shard.group_pc.data();
    p.perm = shard.perm.data();
    p.group_begin = g_begin;
    p.group_end = g_end;
    p.queries = slot.queries.data() + std::size_t(q_begin) * 8;
    p.nq = q_end - q_begin;
    p.query_offset = query_offset + q_begin;
    p.threshold = t;
    p.hits = slot.hits.data();
    p.count = slot.count.data();
    p.capacity = slot.hits.size();
    cudaStream_t s = slot.stream.get();
    slot.count.fill_bytes(0, s);
    if (popc_) {
      b1::launch_popc_range(p, shard.sm_count, s);
    } else {
      b1::launch_b1mma_range(p, shard.sm_count, s);
    }
    slot.count.copy_to_host(slot.h_count.data(), 1, s);
    slot.stream.synchronize();
    const unsigned long long found = slot.h_count[0];
    if (found <= p.capacity) {
      if (found) {
        slot.hits.copy_to_host(slot.h_hits.data(), std::size_t(found), s);
        slot.stream.synchronize();
        const auto* h = reinterpret_cast<const PdqHit*>(slot.h_hits.data());
        out.insert(out.end(), h, h + found);
      }
      return;
    }
    if (found <= max_capacity_) {
      // Grow to the exact need (plus headroom) and rerun this pass.
      const std::size_t cap = std::min<std::size_t>(max_capacity_, std::size_t(found) + found / 4);
      slot.hits = cuda::DeviceBuffer<b1::DeviceHit>();
      slot.h_hits = cuda::PinnedBuffer<b1::DeviceHit>();
      slot.hits = cuda::DeviceBuffer<b1::DeviceHit>(cap);
      slot.h_hits = cuda::PinnedBuffer<b1::DeviceHit>(cap);
      continue;
    }
    if (q_end - q_begin > 1) {
      const uint32_t mid = q_begin + (q_end - q_begin) / 2;
      run_pass(shard, slot, q_begin, mid, query_offset, g_begin, g_end, t, out);
      run_pass(shard, slot, mid, q_end, query_offset, g_begin, g_end, t, out);
      return;
    }
    if (g_end - g_begin > 1) {
      const uint32_t mid = g_begin + (g_end - g_begin) / 2;
      run_pass(shard, slot, q_begin, q_end, query_offset, g_begin, mid, t, out);
      run_pass(shard, slot, q_begin, q_end, query_offset, mid, g_end, t, out);
      return;
    }
    throw CudaError("range search: " + std::to_string(found) +
                    " hits for one query and one group exceed the hit buffer (internal error)");
  }
}

}  // namespace

std::unique_ptr<PdqMatcher> make_cuda_pdq_matcher(std::vector<Hash256> hashes,
                                                  const MatcherOptions& opts) {
  return std::make_unique<CudaPdqMatcher>(std::move(hashes), opts);
}

}  // namespace hashmatch
