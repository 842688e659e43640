#include "kernels/rt/cuda_rt.h"

#include <string>

namespace hashmatch::cuda {

void throw_cuda_error(cudaError_t err, const char* call, const char* file, int line) {
  // Clear a non-sticky error so later calls on this thread start clean.
  (void)cudaGetLastError();
  throw CudaError(std::string("CUDA error ") + cudaGetErrorName(err) + " (" +
                  cudaGetErrorString(err) + ") in " + call + " at " + file + ":" +
                  std::to_string(line));
}

void log_cuda_error(cudaError_t err, const char* call, const char* file, int line) noexcept {
  std::fprintf(stderr, "hashmatch: CUDA error %s in %s at %s:%d (ignored in destructor)\n",
               cudaGetErrorName(err), call, file, line);
}

Stream::Stream() { HM_CUDA_TRY(cudaStreamCreateWithFlags(&s_, cudaStreamNonBlocking)); }
Stream::~Stream() {
  if (s_) HM_CUDA_TRY_NO_THROW(cudaStreamDestroy(s_));
}
Stream& Stream::operator=(Stream&& o) noexcept {
  if (this != &o) {
    if (s_) HM_CUDA_TRY_NO_THROW(cudaStreamDestroy(s_));
    s_ = std::exchange(o.s_, nullptr);
  }
  return *this;
}
void Stream::synchronize() const { HM_CUDA_TRY(cudaStreamSynchronize(s_)); }

Event::Event(bool timing) {
  HM_CUDA_TRY(cudaEventCreateWithFlags(&e_, timing ? cudaEventDefault : cudaEventDisableTiming));
}
Event::~Event() {
  if (e_) HM_CUDA_TRY_NO_THROW(cudaEventDestroy(e_));
}
Event& Event::operator=(Event&& o) noexcept {
  if (this != &o) {
    if (e_) HM_CUDA_TRY_NO_THROW(cudaEventDestroy(e_));
    e_ = std::exchange(o.e_, nullptr);
  }
  return *this;
}
void Event::record(cudaStream_t stream) const { HM_CUDA_TRY(cudaEventRecord(e_, stream)); }
void Event::synchronize() const { HM_CUDA_TRY(cudaEventSynchronize(e_)); }
bool Event::query() const {
  const cudaError_t err = cudaEventQuery(e_);
  if (err == cudaSuccess) return true;
  if (err == cudaErrorNotReady) return false;
  throw_cuda_error(err, "cudaEventQuery", __FILE__, __LINE__);
}
float Event::elapsed_ms(const Event& start, const Event& stop) {
  float ms = 0.f;
  HM_CUDA_TRY(cudaEventElapsedTime(&ms, start.e_, stop.e_));
  return ms;
}

namespace detail {
void* device_alloc(std::size_t bytes) {
  void* p = nullptr;
  HM_CUDA_TRY(cudaMalloc(&p, bytes));
  return p;
}
void device_free(void* p) noexcept {
  if (p) HM_CUDA_TRY_NO_THROW(cudaFree(p));
}
void* pinned_alloc(std::size_t bytes) {
  void* p = nullptr;
  HM_CUDA_TRY(cudaMallocHost(&p, bytes));
  return p;
}
void pinned_free(void* p) noexcept {
  if (p) HM_CUDA_TRY_NO_THROW(cudaFreeHost(p));
}
}  // namespace detail

DeviceGuard::DeviceGuard(int device) {
  HM_CUDA_TRY(cudaGetDevice(&previous_));
  HM_CUDA_TRY(cudaSetDevice(device));
}
DeviceGuard::~DeviceGuard() { HM_CUDA_TRY_NO_THROW(cudaSetDevice(previous_)); }

}  // namespace hashmatch::cuda
