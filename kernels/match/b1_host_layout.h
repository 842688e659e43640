// Host-side construction of the swizzled, popcount-bucketed list layout of the b1 kernels (see
// b1_layout.h). Plain C++ (no CUDA): the CUDA matcher uploads it, the CPU emulation test runs the
// kernel's lane logic on it.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "host/common/hash256.h"
#include "kernels/match/b1_layout.h"

namespace hashmatch::b1 {

struct HostLayout {
  uint32_t n_groups = 0;
  std::vector<uint32_t> swz;       // [n_groups][128] words, swizzled (swz_offset)
  std::vector<uint16_t> group_pc;  // [n_groups] popcount shared by the group's entries
  std::vector<uint32_t> perm;      // [n_groups * 16] index_offset + list position, or kPadIndex
};

// The eight 32-bit words of a hash (u[j] = bits 32j .. 32j + 31).
inline std::array<uint32_t, 8> hash_words(const Hash256& h) {
  std::array<uint32_t, 8> u;
  for (int k = 0; k < 4; ++k) {
    u[2 * k] = uint32_t(h.w[k]);
    u[2 * k + 1] = uint32_t(h.w[k] >> 32);
  }
  return u;
}

// Sorts hashes[0, n) by popcount (stable), pads each popcount bucket to whole groups of 16 (zero
// hashes, perm kPadIndex) and swizzles. perm holds index_offset + position in `hashes`.
inline HostLayout build_host_layout(const Hash256* hashes, std::size_t n, uint32_t index_offset) {
  HostLayout L;
  std::array<std::size_t, 257> count{};
  for (std::size_t i = 0; i < n; ++i) ++count[hashes[i].popcount()];
  std::array<std::size_t, 257> first_group{};
  std::size_t groups = 0;
  for (int pc = 0; pc <= 256; ++pc) {
    first_group[pc] = groups;
    groups += (count[pc] + kGroupEntries - 1) / kGroupEntries;
  }
  L.n_groups = uint32_t(groups);
  L.swz.assign(groups * kGroupWords, 0u);
  L.group_pc.assign(groups, 0);
  L.perm.assign(groups * kGroupEntries, kPadIndex);
  for (int pc = 0; pc <= 256; ++pc) {
    const std::size_t ng = (count[pc] + kGroupEntries - 1) / kGroupEntries;
    for (std::size_t g = 0; g < ng; ++g) L.group_pc[first_group[pc] + g] = uint16_t(pc);
  }
  std::array<std::size_t, 257> fill{};
  for (std::size_t i = 0; i < n; ++i) {
    const int pc = hashes[i].popcount();
    const std::size_t slot = first_group[pc] * kGroupEntries + fill[pc]++;
    L.perm[slot] = index_offset + uint32_t(i);
    const auto u = hash_words(hashes[i]);
    uint32_t* grp = L.swz.data() + (slot / kGroupEntries) * kGroupWords;
    for (uint32_t w = 0; w < 8; ++w) grp[swz_offset(uint32_t(slot % kGroupEntries), w)] = u[w];
  }
  return L;
}

}  // namespace hashmatch::b1
