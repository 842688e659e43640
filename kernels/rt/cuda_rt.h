// CUDA error checking and RAII wrappers for every device object hashmatch uses.
//
// Host-safe: includes only the CUDA runtime API header, so plain C++ (g++) translation units of the
// CUDA backend can use it too. Only code built when HASHMATCH_HAVE_CUDA is set includes this file.
//
// Rules (after RAFT/cuVS): every runtime call goes through HM_CUDA_TRY (throws CudaError with the call
// text, file, line and the CUDA error name); destructors use HM_CUDA_TRY_NO_THROW (log only); every
// kernel launch is followed by HM_CUDA_CHECK_LAUNCH(). Every wrapper is move-only: one object, one
// owner. No raw cudaMalloc/cudaFree outside this module.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdio>
#include <string>
#include <utility>

#include "host/common/error.h"

namespace hashmatch::cuda {

[[noreturn]] void throw_cuda_error(cudaError_t err, const char* call, const char* file, int line);
void log_cuda_error(cudaError_t err, const char* call, const char* file, int line) noexcept;

}  // namespace hashmatch::cuda

#define HM_CUDA_TRY(call)                                                         \
  do {                                                                            \
    cudaError_t hm_err_ = (call);                                                 \
    if (hm_err_ != cudaSuccess) {                                                 \
      ::hashmatch::cuda::throw_cuda_error(hm_err_, #call, __FILE__, __LINE__);    \
    }                                                                             \
  } while (0)

#define HM_CUDA_TRY_NO_THROW(call)                                                \
  do {                                                                            \
    cudaError_t hm_err_ = (call);                                                 \
    if (hm_err_ != cudaSuccess) {                                                 \
      ::hashmatch::cuda::log_cuda_error(hm_err_, #call, __FILE__, __LINE__);      \
    }                                                                             \
  } while (0)

// After every <<<...>>> launch: catches configuration errors (bad grid/block, too much shared
// memory) at the launch site. Asynchronous faults surface at the next synchronising call.
#define HM_CUDA_CHECK_LAUNCH() HM_CUDA_TRY(cudaGetLastError())

namespace hashmatch::cuda {

// A stream owned by this object (non-blocking with respect to the legacy default stream).
class Stream {
 public:
  Stream();
  ~Stream();
  Stream(Stream&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  Stream& operator=(Stream&& o) noexcept;
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  cudaStream_t get() const noexcept { return s_; }
  void synchronize() const;

 private:
  cudaStream_t s_ = nullptr;
};

// An event; timing enabled unless `timing` is false.
class Event {
 public:
  explicit Event(bool timing = true);
  ~Event();
  Event(Event&& o) noexcept : e_(std::exchange(o.e_, nullptr)) {}
  Event& operator=(Event&& o) noexcept;
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;

  cudaEvent_t get() const noexcept { return e_; }
  void record(cudaStream_t stream) const;
  void synchronize() const;
  bool query() const;  // true when complete
  // Milliseconds between two recorded, completed events.
  static float elapsed_ms(const Event& start, const Event& stop);

 private:
  cudaEvent_t e_ = nullptr;
};

namespace detail {
void* device_alloc(std::size_t bytes);
void device_free(void* p) noexcept;
void* pinned_alloc(std::size_t bytes);
void pinned_free(void* p) noexcept;
}  // namespace detail

// Device memory for `n` elements of T (uninitialised), on the device current at construction.
template <typename T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(std::size_t n)
      : p_(static_cast<T*>(n ? detail::device_alloc(n * sizeof(T)) : nullptr)), n_(n) {}
  ~DeviceBuffer() { detail::device_free(p_); }
  DeviceBuffer(DeviceBuffer&& o) noexcept
      : p_(std::exchange(o.p_, nullptr)), n_(std::exchange(o.n_, 0)) {}
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    if (this != &o) {
      detail::device_free(p_);
      p_ = std::exchange(o.p_, nullptr);
      n_ = std::exchange(o.n_, 0);
    }
    return *this;
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  T* data() const noexcept { return p_; }  // device pointer
  std::size_t size() const noexcept { return n_; }
  std::size_t bytes() const noexcept { return n_ * sizeof(T); }

  // Asynchronous copies on `stream`; `host` must stay valid until the stream reaches the copy
  // (pinned memory for true overlap).
  void copy_from_host(const T* host, std::size_t n, cudaStream_t stream, std::size_t offset = 0) {
    check_range(offset, n);
    HM_CUDA_TRY(cudaMemcpyAsync(p_ + offset, host, n * sizeof(T), cudaMemcpyHostToDevice, stream));
  }
  void copy_to_host(T* host, std::size_t n, cudaStream_t stream, std::size_t offset = 0) const {
    check_range(offset, n);
    HM_CUDA_TRY(cudaMemcpyAsync(host, p_ + offset, n * sizeof(T), cudaMemcpyDeviceToHost, stream));
  }
  void fill_bytes(int value, cudaStream_t stream) {
    if (n_) HM_CUDA_TRY(cudaMemsetAsync(p_, value, bytes(), stream));
  }

 private:
  void check_range(std::size_t offset, std::size_t n) const {
    if (offset > n_ || n > n_ - offset) {
      throw CudaError("DeviceBuffer copy out of range: offset " + std::to_string(offset) + " + " +
                      std::to_string(n) + " > " + std::to_string(n_));
    }
  }
  T* p_ = nullptr;
  std::size_t n_ = 0;
};

// Page-locked host memory for `n` elements of T (for asynchronous, overlapped transfers).
template <typename T>
class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  explicit PinnedBuffer(std::size_t n)
      : p_(static_cast<T*>(n ? detail::pinned_alloc(n * sizeof(T)) : nullptr)), n_(n) {}
  ~PinnedBuffer() { detail::pinned_free(p_); }
  PinnedBuffer(PinnedBuffer&& o) noexcept
      : p_(std::exchange(o.p_, nullptr)), n_(std::exchange(o.n_, 0)) {}
  PinnedBuffer& operator=(PinnedBuffer&& o) noexcept {
    if (this != &o) {
      detail::pinned_free(p_);
      p_ = std::exchange(o.p_, nullptr);
      n_ = std::exchange(o.n_, 0);
    }
    return *this;
  }
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;

  T* data() const noexcept { return p_; }  // host pointer
  std::size_t size() const noexcept { return n_; }
  T& operator[](std::size_t i) const noexcept { return p_[i]; }

 private:
  T* p_ = nullptr;
  std::size_t n_ = 0;
};

// Sets the current device for the lifetime of the guard and restores the previous one.
class DeviceGuard {
 public:
  explicit DeviceGuard(int device);
  ~DeviceGuard();
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int previous_ = 0;
};

}  // namespace hashmatch::cuda
