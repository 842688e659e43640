// Hash256: a 256-bit PDQ hash.
//
// Bit layout follows the PDQ reference (pdq/cpp/common/pdqhashtypes.h): bit k (0..255) of the hash
// is bit (k % 64) of word w[k / 64]. The reference stores 16 words of 16 bits; its hex form prints
// them most significant first (w16[15] .. w16[0], "%04hx" each), which is exactly the 64-bit words
// printed most significant first. Read as a big-endian 256-bit number, bit k has value 2^k.
#pragma once

#include <array>
#include <bit>
#include <compare>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace hashmatch {

struct Hash256 {
  static constexpr int kBits = 256;
  static constexpr int kHexChars = 64;

  std::array<uint64_t, 4> w{};  // w[0] holds bits 0..63

  constexpr bool bit(int k) const { return (w[k >> 6] >> (k & 63)) & 1u; }
  constexpr void set_bit(int k) { w[k >> 6] |= uint64_t{1} << (k & 63); }
  constexpr void clear() { w = {}; }
  constexpr int popcount() const {
    return std::popcount(w[0]) + std::popcount(w[1]) + std::popcount(w[2]) + std::popcount(w[3]);
  }
  constexpr bool is_zero() const { return (w[0] | w[1] | w[2] | w[3]) == 0; }

  // 64 lowercase hex characters, the reference's form.
  std::string to_hex() const;
  // Parses exactly 64 hex characters (either case). Anything else - wrong length, a non-hex
  // character, surrounding blanks - throws InvalidArgument naming the problem.
  static Hash256 from_hex(std::string_view hex);
  // Same, without throwing: false and a message in *why (when not null).
  static bool try_from_hex(std::string_view hex, Hash256* out, std::string* why = nullptr);

  friend constexpr bool operator==(const Hash256&, const Hash256&) = default;
  friend constexpr auto operator<=>(const Hash256&, const Hash256&) = default;
};
static_assert(sizeof(Hash256) == 32, "Hash256 must be exactly 32 bytes");

// Hamming distance (number of differing bits), 0..256.
constexpr int hamming_distance(const Hash256& a, const Hash256& b) {
  return std::popcount(a.w[0] ^ b.w[0]) + std::popcount(a.w[1] ^ b.w[1]) +
         std::popcount(a.w[2] ^ b.w[2]) + std::popcount(a.w[3] ^ b.w[3]);
}

// PDQ's match rule, written once: a match is distance <= threshold (inclusive).
constexpr int kDefaultPdqThreshold = 31;
constexpr bool pdq_match(int distance, int threshold) { return distance <= threshold; }

// The 8 dihedral variants, in the order hashmatch prints them everywhere.
enum class Dihedral : int {
  kOriginal = 0, kRot90, kRot180, kRot270, kFlipX, kFlipY, kFlipPlus1, kFlipMinus1
};
constexpr int kNumDihedral = 8;
std::string_view dihedral_name(Dihedral d);  // "original", "rot90", ...

}  // namespace hashmatch

template <>
struct std::hash<hashmatch::Hash256> {
  size_t operator()(const hashmatch::Hash256& h) const noexcept {
    return static_cast<size_t>(h.w[0] ^ (h.w[1] * 0x9e3779b97f4a7c15ull) ^ (h.w[2] >> 7) ^ h.w[3]);
  }
};
