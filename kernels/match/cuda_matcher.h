// The CUDA PDQ matcher (built only with the CUDA backend). Host-safe: no CUDA header.
//
// The list is resident in device memory, sharded across the GPUs (contiguous index ranges), each
// shard sorted by popcount and swizzled for the b1 tensor-core kernel (b1_layout.h). A call
// copies the query batch to every shard, runs the range-search kernel there, and gathers the hits;
// a hit buffer that overflows is grown (up to a bound) or the work is split into smaller passes:
// hits are never dropped. Results are identical to the CPU matchers'.
#pragma once

#include <memory>
#include <vector>

#include "host/common/hash256.h"
#include "host/match/matcher.h"

namespace hashmatch {

// Throws CudaError when no GPU is usable (or one of opts.gpu_devices does not exist).
std::unique_ptr<PdqMatcher> make_cuda_pdq_matcher(std::vector<Hash256> hashes,
                                                  const MatcherOptions& opts);

}  // namespace hashmatch
