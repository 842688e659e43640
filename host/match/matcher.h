// PDQ range search: every indexed hash within a Hamming threshold (inclusive) of each query.
//
// One interface, CPU and GPU implementations side by side (after faiss IndexBinary): the CPU
// brute-force and multi-index-hashing matchers are the oracle; the CUDA matcher (kernels/match/)
// must return identical result sets. Queries and indexed hashes are plain Hash256 arrays; mapping
// an indexed position back to a list entry (id, labels) is the caller's business (host/lists/).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "host/common/hash256.h"

namespace hashmatch {

enum class Backend { kAuto, kCpu, kCuda };
Backend parse_backend(std::string_view s);  // "auto" | "cpu" | "cuda"; throws InvalidArgument
std::string_view backend_name(Backend b);

// One hit: query index (into the queries span), indexed position (into the hashes the matcher
// was built from), and the Hamming distance (<= threshold).
struct PdqHit {
  uint32_t query = 0;
  uint32_t index = 0;
  int32_t distance = 0;
  friend bool operator==(const PdqHit&, const PdqHit&) = default;
  friend auto operator<=>(const PdqHit&, const PdqHit&) = default;
};

class PdqMatcher {
 public:
  virtual ~PdqMatcher() = default;
  // Appends every (query, index) pair with distance <= threshold to `out`, in any order (callers
  // that need an order sort). threshold in [0, 256]. Thread-safe for concurrent calls.
  virtual void range_search(std::span<const Hash256> queries, int threshold,
                            std::vector<PdqHit>& out) const = 0;
  virtual std::size_t size() const = 0;
  // e.g. "cpu-brute", "cpu-mih", "cuda-b1mma", "cuda-popc"
  virtual std::string backend() const = 0;
  // Extensions with defaults (implementations may leave them alone):
  // a longer description for logs and benchmarks ("cpu-mih (avx2, 2 threads)", the GPUs ...).
  virtual std::string detail() const { return backend(); }
  // Bytes the index holds (host or device memory), 0 when unknown.
  virtual std::size_t memory_bytes() const { return 0; }
};

// CPU index: brute force (every entry compared, SIMD popcount on all cores) or multi-index hashing
// (16 tables of 16-bit substrings; exact). `auto` builds the MIH tables when the list is large
// enough and MIH pays at `expected_threshold`; each call then picks the cheaper of the two for its
// own threshold. Results are identical whichever runs.
enum class CpuIndex { kAuto, kBrute, kMih };
// Instruction set of the CPU brute-force scan; `auto` takes the best the CPU supports (checked at
// run time, never -march=native). Forcing one the CPU lacks throws InvalidArgument.
enum class CpuSimd { kAuto, kScalar, kAvx2, kAvx512 };
// GPU kernel: binary tensor cores (mma m16n8k256 .and.popc) or a plain popcount scan.
enum class GpuKernel { kAuto, kB1Mma, kPopc };

struct MatcherOptions {
  Backend backend = Backend::kAuto;
  int expected_threshold = kDefaultPdqThreshold;  // used to choose the CPU index
  int threads = 0;                                 // 0: all cores
  // Extensions (defaults keep the behaviour above).
  CpuIndex cpu_index = CpuIndex::kAuto;
  CpuSimd cpu_simd = CpuSimd::kAuto;
  GpuKernel gpu_kernel = GpuKernel::kAuto;
  // Hits one GPU pass may hold per device before the matcher grows the buffer or splits the work
  // (never drops hits). 0: a default sized from the device memory. Tests set it tiny.
  std::size_t gpu_hit_capacity = 0;
  // Upper bound the hit buffer may grow to per device (entries); beyond it the work is split.
  // 0: default (64 Mi hits).
  std::size_t gpu_max_hit_capacity = 0;
  // GPUs the list is sharded across; empty: every visible GPU.
  std::vector<int> gpu_devices{};
};

std::string_view cpu_index_name(CpuIndex i);    // "auto" | "brute" | "mih"
CpuIndex parse_cpu_index(std::string_view s);   // throws InvalidArgument
std::string_view gpu_kernel_name(GpuKernel k);  // "auto" | "b1mma" | "popc"
GpuKernel parse_gpu_kernel(std::string_view s);  // throws InvalidArgument

// Builds a matcher over `hashes` (copied/moved into the index). `auto` picks CUDA only when it
// was compiled in and a device answers; `cuda` without one throws CudaError with a clear message.
std::unique_ptr<PdqMatcher> make_pdq_matcher(std::vector<Hash256> hashes,
                                             const MatcherOptions& opts = {});

}  // namespace hashmatch
