// The CUDA RAII and error-check module on a real device (skipped without one): buffers, pinned
// memory, streams, events, launch checks and error reporting.
#include <gtest/gtest.h>

#include <numeric>

#include "kernels/rt/cuda_rt.h"
#include "kernels/rt/device.h"
#include "tests/testutil/testutil.h"

namespace hashmatch {
namespace {

__global__ void axpb(const int* in, int* out, int n, int a, int b) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) out[i] = a * in[i] + b;
}

class CudaRtTest : public test::GpuTest {};

TEST_F(CudaRtTest, RoundTripThroughPinnedBuffersOnAStream) {
  const int n = 1 << 20;
  cuda::PinnedBuffer<int> host_in(n), host_out(n);
  std::iota(host_in.data(), host_in.data() + n, -1000);
  for (int i = 0; i < n; ++i) host_out[i] = 0x7eadbeef;  // poisoned
  cuda::DeviceBuffer<int> d_in(n), d_out(n);
  cuda::Stream stream;
  cuda::Event start, stop;
  start.record(stream.get());
  d_in.copy_from_host(host_in.data(), n, stream.get());
  d_out.fill_bytes(0xff, stream.get());
  axpb<<<(n + 255) / 256, 256, 0, stream.get()>>>(d_in.data(), d_out.data(), n, 3, 7);
  HM_CUDA_CHECK_LAUNCH();
  d_out.copy_to_host(host_out.data(), n, stream.get());
  stop.record(stream.get());
  stream.synchronize();
  EXPECT_TRUE(stop.query());
  EXPECT_GE(cuda::Event::elapsed_ms(start, stop), 0.0f);
  for (int i = 0; i < n; ++i) ASSERT_EQ(host_out[i], 3 * host_in[i] + 7) << i;
}

TEST_F(CudaRtTest, MoveTransfersOwnership) {
  cuda::DeviceBuffer<float> a(100);
  float* p = a.data();
  cuda::DeviceBuffer<float> b(std::move(a));
  EXPECT_EQ(b.data(), p);
  EXPECT_EQ(a.data(), nullptr);
  EXPECT_EQ(b.size(), 100u);
  cuda::Stream s1;
  cudaStream_t raw = s1.get();
  cuda::Stream s2(std::move(s1));
  EXPECT_EQ(s2.get(), raw);
  EXPECT_EQ(s1.get(), nullptr);
}

TEST_F(CudaRtTest, BadLaunchAndBadCallsThrowCudaErrorWithContext) {
  cuda::DeviceBuffer<int> d(16);
  // 4096 threads per block exceeds every device's limit: a configuration error at launch.
  axpb<<<1, 4096>>>(d.data(), d.data(), 16, 1, 1);
  try {
    HM_CUDA_CHECK_LAUNCH();
    FAIL() << "expected CudaError";
  } catch (const CudaError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("cudaError"), std::string::npos) << msg;
    EXPECT_NE(msg.find("test_cuda_rt.cu"), std::string::npos) << msg;
  }
  // The error was not sticky: the device still works.
  cuda::Stream s;
  axpb<<<1, 16, 0, s.get()>>>(d.data(), d.data(), 16, 1, 1);
  EXPECT_NO_THROW(HM_CUDA_CHECK_LAUNCH());
  EXPECT_NO_THROW(s.synchronize());
  // Out-of-range copies are refused before reaching the runtime.
  std::vector<int> host(32);
  EXPECT_THROW(d.copy_from_host(host.data(), 32, s.get()), CudaError);
  EXPECT_THROW(cuda::DeviceBuffer<char>(std::size_t(1) << 62), CudaError);
  EXPECT_THROW(cuda::DeviceGuard(10000), CudaError);
}

TEST_F(CudaRtTest, DeviceListMatchesRuntime) {
  const auto gpus = list_gpus();
  int n = 0;
  HM_CUDA_TRY(cudaGetDeviceCount(&n));
  EXPECT_EQ(static_cast<int>(gpus.size()), n);
  for (const auto& g : gpus) {
    EXPECT_FALSE(g.name.empty());
    EXPECT_GE(g.cc_major, 8);  // the build targets sm_80 and sm_90a
    EXPECT_GT(g.total_memory_bytes, 0u);
  }
}

}  // namespace
}  // namespace hashmatch
