// Hash values held by hash lists: one algorithm (PDQ, MD5, SHA-1, SHA-256) and its bytes.
//
// The canonical form of every value is its lowercase hex string; the bytes are that hex decoded
// (most significant first), so a PDQ value's bytes are the 64-hex form of Hash256 read as a
// big-endian 256-bit number (see host/common/hash256.h), independent of the in-memory word layout.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "host/common/hash256.h"

namespace hashmatch {

enum class HashAlgo : uint8_t { kPdq = 0, kMd5 = 1, kSha1 = 2, kSha256 = 3 };
constexpr int kNumHashAlgos = 4;

std::string_view algo_name(HashAlgo a);  // "pdq", "md5", "sha1", "sha256"
// Up to 80 bytes of `s` for an error message: other than printable ASCII as '?', "..." when cut.
std::string printable(std::string_view s);
// Parses "pdq" | "md5" | "sha1" | "sha256" (either case); nullopt otherwise.
std::optional<HashAlgo> parse_algo(std::string_view s);
constexpr int algo_bytes(HashAlgo a) {
  return a == HashAlgo::kMd5 ? 16 : a == HashAlgo::kSha1 ? 20 : 32;
}
constexpr int algo_hex_chars(HashAlgo a) { return 2 * algo_bytes(a); }

// The algorithm a bare hex string stands for when the source does not say: 32 hex digits MD5,
// 40 SHA-1, 64 PDQ unless `sixty_four` says SHA-256. nullopt for any other length.
std::optional<HashAlgo> algo_from_hex_length(std::size_t n, HashAlgo sixty_four = HashAlgo::kPdq);

struct HashValue {
  HashAlgo algo = HashAlgo::kPdq;
  std::array<uint8_t, 32> bytes{};  // the first algo_bytes(algo) are used, the rest are zero

  std::size_t size() const { return static_cast<std::size_t>(algo_bytes(algo)); }
  std::string to_hex() const;  // lowercase
  Hash256 to_hash256() const;  // PDQ values only (throws InvalidArgument otherwise)
  static HashValue from_hash256(const Hash256& h);

  // Parses exactly algo_hex_chars(algo) hex characters (either case; surrounding blanks are
  // the caller's business). Throws InvalidArgument naming the problem: "bad md5 'xyz': 3 hex
  // characters, expected 32", "invalid character 'g' at position 5".
  static HashValue parse(HashAlgo algo, std::string_view hex);
  static bool try_parse(HashAlgo algo, std::string_view hex, HashValue* out,
                        std::string* why = nullptr);

  friend bool operator==(const HashValue&, const HashValue&) = default;
};

// True when every character is a hex digit (and s is not empty).
bool is_hex(std::string_view s);

}  // namespace hashmatch
