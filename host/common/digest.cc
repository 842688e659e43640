#include "host/common/digest.h"

#include <openssl/evp.h>

#include "host/common/error.h"

namespace hashmatch {
namespace {

struct CtxDeleter {
  void operator()(EVP_MD_CTX* c) const noexcept { EVP_MD_CTX_free(c); }
};
using CtxPtr = std::unique_ptr<EVP_MD_CTX, CtxDeleter>;

CtxPtr make_ctx(const EVP_MD* md) {
  CtxPtr c(EVP_MD_CTX_new());
  if (!c || EVP_DigestInit_ex(c.get(), md, nullptr) != 1) throw Error("OpenSSL digest init failed");
  return c;
}

std::string finish_hex(EVP_MD_CTX* c) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(c, md, &len) != 1) throw Error("OpenSSL digest final failed");
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(len * 2, '0');
  for (unsigned i = 0; i < len; ++i) {
    out[2 * i] = kDigits[md[i] >> 4];
    out[2 * i + 1] = kDigits[md[i] & 15];
  }
  return out;
}

}  // namespace

struct MultiDigest::Impl {
  CtxPtr md5 = make_ctx(EVP_md5());
  CtxPtr sha1 = make_ctx(EVP_sha1());
  CtxPtr sha256 = make_ctx(EVP_sha256());
};

MultiDigest::MultiDigest() : impl_(std::make_unique<Impl>()) {}
MultiDigest::~MultiDigest() = default;
MultiDigest::MultiDigest(MultiDigest&&) noexcept = default;
MultiDigest& MultiDigest::operator=(MultiDigest&&) noexcept = default;

void MultiDigest::update(const void* data, std::size_t n) {
  if (!impl_) throw Error("MultiDigest used after finish()");
  if (n == 0) return;
  if (EVP_DigestUpdate(impl_->md5.get(), data, n) != 1 ||
      EVP_DigestUpdate(impl_->sha1.get(), data, n) != 1 ||
      EVP_DigestUpdate(impl_->sha256.get(), data, n) != 1) {
    throw Error("OpenSSL digest update failed");
  }
}

ExactDigests MultiDigest::finish() {
  if (!impl_) throw Error("MultiDigest finished twice");
  ExactDigests d{finish_hex(impl_->md5.get()), finish_hex(impl_->sha1.get()),
                 finish_hex(impl_->sha256.get())};
  impl_.reset();
  return d;
}

ExactDigests digest_bytes(std::string_view data) {
  MultiDigest m;
  m.update(data.data(), data.size());
  return m.finish();
}

}  // namespace hashmatch
