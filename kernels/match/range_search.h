// Launchers of the PDQ range-search kernels (range_search.cu). Host-safe: plain C++ translation
// units (the CUDA matcher, g++) call these; only the .cu file is compiled by nvcc.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "kernels/match/b1_layout.h"

namespace hashmatch::b1 {

// One pass: queries [0, nq) against list groups [group_begin, group_end).
struct RangeLaunch {
  const uint32_t* swz = nullptr;       // device, [n_groups][128] words, swizzled (b1_layout.h)
  const uint16_t* group_pc = nullptr;  // device, [n_groups] popcount of the group's entries
  const uint32_t* perm = nullptr;      // device, [n_groups * 16] list index or kPadIndex
  uint32_t group_begin = 0;
  uint32_t group_end = 0;
  const uint32_t* queries = nullptr;   // device, [nq][8] words (Hash256 little-endian halves)
  uint32_t nq = 0;
  uint32_t query_offset = 0;           // added to the query index written in each hit
  int threshold = 0;                   // 0..256, inclusive
  DeviceHit* hits = nullptr;           // device, [capacity]
  unsigned long long* count = nullptr; // device, 1: hits found, may exceed capacity (then the
                                       // first `capacity` claimed slots are written, the rest not)
  unsigned long long capacity = 0;
};

// Binary tensor cores: mma.sync m16n8k256 .and.popc, sign-test epilogue (sm_80+).
void launch_b1mma_range(const RangeLaunch& p, int sm_count, cudaStream_t stream);
// Plain popcount scan: one thread per list entry, queries staged in shared memory.
void launch_popc_range(const RangeLaunch& p, int sm_count, cudaStream_t stream);

}  // namespace hashmatch::b1
