// A fixed-size array of trivially copyable T in anonymous memory advised for transparent huge pages
// (madvise MADV_HUGEPAGE): the matchers' random accesses (MIH candidate checks, bucket reads) into
// lists of many megabytes otherwise miss the TLB on nearly every access. Zero-initialised, move-only.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <new>
#include <type_traits>
#include <utility>

namespace hashmatch::match_detail {

template <typename T>
class HugeArray {
  static_assert(std::is_trivially_copyable_v<T>);

 public:
  HugeArray() = default;
  explicit HugeArray(std::size_t n) : n_(n) {
    if (n == 0) return;
    bytes_ = n * sizeof(T);
    void* p = ::mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
#if defined(MADV_HUGEPAGE)
    if (bytes_ >= (std::size_t{2} << 20)) (void)::madvise(p, bytes_, MADV_HUGEPAGE);  // advisory
#endif
    p_ = static_cast<T*>(p);
  }
  ~HugeArray() { release(); }
  HugeArray(HugeArray&& o) noexcept
      : p_(std::exchange(o.p_, nullptr)), n_(std::exchange(o.n_, 0)), bytes_(std::exchange(o.bytes_, 0)) {}
  HugeArray& operator=(HugeArray&& o) noexcept {
    if (this != &o) {
      release();
      p_ = std::exchange(o.p_, nullptr);
      n_ = std::exchange(o.n_, 0);
      bytes_ = std::exchange(o.bytes_, 0);
    }
    return *this;
  }
  HugeArray(const HugeArray&) = delete;
  HugeArray& operator=(const HugeArray&) = delete;

  T* data() { return p_; }
  const T* data() const { return p_; }
  std::size_t size() const { return n_; }
  bool empty() const { return n_ == 0; }
  std::size_t bytes() const { return bytes_; }
  T& operator[](std::size_t i) { return p_[i]; }
  const T& operator[](std::size_t i) const { return p_[i]; }

 private:
  void release() noexcept {
    if (p_) ::munmap(p_, bytes_);
    p_ = nullptr;
  }
  T* p_ = nullptr;
  std::size_t n_ = 0;
  std::size_t bytes_ = 0;
};

}  // namespace hashmatch::match_detail
