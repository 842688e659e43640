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
};

struct MatcherOptions {
  Backend backend = Backend::kAuto;
  int expected_threshold = kDefaultPdqThreshold;  // used to choose the CPU index
  int threads = 0;                                 // 0: all cores
};

// Builds a matcher over `hashes` (copied/moved into the index). `auto` picks CUDA only when it
// was compiled in and a device answers; `cuda` without one throws CudaError with a clear message.
std::unique_ptr<PdqMatcher> make_pdq_matcher(std::vector<Hash256> hashes,
                                             const MatcherOptions& opts = {});

}  // namespace hashmatch
