#include "host/lists/hash_value.h"

#include <cctype>

#include "host/common/error.h"

namespace hashmatch {
namespace {

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string printable(std::string_view s) {
  std::string out;
  const std::size_t n = std::min<std::size_t>(s.size(), 80);
  for (std::size_t i = 0; i < n; ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    out += (c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : '?';
  }
  if (s.size() > n) out += "...";
  return out;
}

std::string_view algo_name(HashAlgo a) {
  switch (a) {
    case HashAlgo::kPdq:
      return "pdq";
    case HashAlgo::kMd5:
      return "md5";
    case HashAlgo::kSha1:
      return "sha1";
    case HashAlgo::kSha256:
      return "sha256";
  }
  return "unknown";
}

std::optional<HashAlgo> parse_algo(std::string_view s) {
  std::string l;
  for (char c : s) l += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (l == "pdq") return HashAlgo::kPdq;
  if (l == "md5") return HashAlgo::kMd5;
  if (l == "sha1" || l == "sha-1") return HashAlgo::kSha1;
  if (l == "sha256" || l == "sha-256") return HashAlgo::kSha256;
  return std::nullopt;
}

std::optional<HashAlgo> algo_from_hex_length(std::size_t n, HashAlgo sixty_four) {
  if (n == 32) return HashAlgo::kMd5;
  if (n == 40) return HashAlgo::kSha1;
  if (n == 64) return sixty_four;
  return std::nullopt;
}

bool is_hex(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (hex_digit(c) < 0) return false;
  }
  return true;
}

std::string HashValue::to_hex() const {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(size() * 2);
  for (std::size_t i = 0; i < size(); ++i) {
    out += kDigits[bytes[i] >> 4];
    out += kDigits[bytes[i] & 15];
  }
  return out;
}

Hash256 HashValue::to_hash256() const {
  if (algo != HashAlgo::kPdq) {
    throw InvalidArgument("a " + std::string(algo_name(algo)) + " value is not a PDQ hash");
  }
  // bytes[0] is the most significant byte: bits 255..248, held in the top of w[3].
  Hash256 h;
  for (int i = 0; i < 32; ++i) {
    const int byte_from_lsb = 31 - i;
    h.w[byte_from_lsb / 8] |= uint64_t(bytes[i]) << ((byte_from_lsb % 8) * 8);
  }
  return h;
}

HashValue HashValue::from_hash256(const Hash256& h) {
  HashValue v;
  v.algo = HashAlgo::kPdq;
  for (int i = 0; i < 32; ++i) {
    const int byte_from_lsb = 31 - i;
    v.bytes[i] = static_cast<uint8_t>(h.w[byte_from_lsb / 8] >> ((byte_from_lsb % 8) * 8));
  }
  return v;
}

bool HashValue::try_parse(HashAlgo algo, std::string_view hex, HashValue* out, std::string* why) {
  const std::size_t want = static_cast<std::size_t>(algo_hex_chars(algo));
  if (hex.size() != want) {
    if (why) {
      *why = "bad " + std::string(algo_name(algo)) + " '" + printable(hex) +
             "': " + std::to_string(hex.size()) + " characters, expected " + std::to_string(want) +
             " hex digits";
    }
    return false;
  }
  HashValue v;
  v.algo = algo;
  for (std::size_t i = 0; i < want; ++i) {
    const int d = hex_digit(hex[i]);
    if (d < 0) {
      if (why) {
        *why = "bad " + std::string(algo_name(algo)) + " '" + printable(hex) +
               "': invalid hex character '" + printable(hex.substr(i, 1)) + "' at position " +
               std::to_string(i + 1);
      }
      return false;
    }
    v.bytes[i / 2] |= static_cast<uint8_t>(d << ((i % 2) ? 0 : 4));
  }
  *out = v;
  return true;
}

HashValue HashValue::parse(HashAlgo algo, std::string_view hex) {
  HashValue v;
  std::string why;
  if (!try_parse(algo, hex, &v, &why)) throw InvalidArgument(why);
  return v;
}

}  // namespace hashmatch
