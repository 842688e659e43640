#include "host/common/hash256.h"

#include "host/common/error.h"

namespace hashmatch {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string Hash256::to_hex() const {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(kHexChars, '0');
  for (int c = 0; c < kHexChars; ++c) {
    // Character c (from the left) is nibble (63 - c) of the big-endian number.
    const int nibble = kHexChars - 1 - c;
    out[c] = kDigits[(w[nibble / 16] >> ((nibble % 16) * 4)) & 0xf];
  }
  return out;
}

bool Hash256::try_from_hex(std::string_view hex, Hash256* out, std::string* why) {
  if (hex.size() != kHexChars) {
    if (why) {
      *why = "a PDQ hash is 64 hex characters, got " + std::to_string(hex.size());
    }
    return false;
  }
  Hash256 h;
  for (int c = 0; c < kHexChars; ++c) {
    const int v = hex_value(hex[c]);
    if (v < 0) {
      if (why) {
        *why = "invalid hex character at position " + std::to_string(c + 1) + " in a PDQ hash";
      }
      return false;
    }
    const int nibble = kHexChars - 1 - c;
    h.w[nibble / 16] |= uint64_t(v) << ((nibble % 16) * 4);
  }
  *out = h;
  return true;
}

Hash256 Hash256::from_hex(std::string_view hex) {
  Hash256 h;
  std::string why;
  if (!try_from_hex(hex, &h, &why)) throw InvalidArgument(why);
  return h;
}

std::string_view dihedral_name(Dihedral d) {
  switch (d) {
    case Dihedral::kOriginal: return "original";
    case Dihedral::kRot90: return "rot90";
    case Dihedral::kRot180: return "rot180";
    case Dihedral::kRot270: return "rot270";
    case Dihedral::kFlipX: return "flipx";
    case Dihedral::kFlipY: return "flipy";
    case Dihedral::kFlipPlus1: return "flipplus1";
    case Dihedral::kFlipMinus1: return "flipminus1";
  }
  return "unknown";
}

}  // namespace hashmatch
