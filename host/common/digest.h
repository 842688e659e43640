// MD5, SHA-1 and SHA-256 of byte streams (OpenSSL EVP), computed in one pass over the data so a
// large file is never held in memory whole.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace hashmatch {

struct ExactDigests {
  std::string md5;     // 32 lowercase hex
  std::string sha1;    // 40 lowercase hex
  std::string sha256;  // 64 lowercase hex
};

// Feeds the same bytes to the three digests. Move-only.
class MultiDigest {
 public:
  MultiDigest();
  ~MultiDigest();
  MultiDigest(MultiDigest&&) noexcept;
  MultiDigest& operator=(MultiDigest&&) noexcept;
  MultiDigest(const MultiDigest&) = delete;
  MultiDigest& operator=(const MultiDigest&) = delete;

  void update(const void* data, std::size_t n);
  // Finishes all three; the object can't be updated afterwards.
  ExactDigests finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// One-shot helper for data already in memory.
ExactDigests digest_bytes(std::string_view data);

}  // namespace hashmatch
