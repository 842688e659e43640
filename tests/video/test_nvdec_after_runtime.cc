// Regression (H100, 2026-11-23): a process whose CUDA runtime made the device's primary context
// active first (the GPU PDQ, the matcher: default "auto" scheduling) could not open NVDEC later:
// FFmpeg shares the primary context only with blocking-sync flags and answered "Primary context
// already active with incompatible flags", so every video decoded on the CPU. video/nvdec.cc now
// aligns the flags first. Its own executable: the FFmpeg CUDA device is created once per process,
// so the runtime must come first in a fresh one. Label gpu: skips without a device.
#include <gtest/gtest.h>

#include <cuda_runtime_api.h>

#include "tests/testutil/testutil.h"
#include "video/synth_clip.h"
#include "video/vpdq.h"

namespace hashmatch::video {
namespace {

class NvdecAfterRuntime : public hashmatch::test::GpuTest {};

TEST_F(NvdecAfterRuntime, OpensWhenTheRuntimeCreatedThePrimaryContextFirst) {
  // What the GPU PDQ or the matcher does before a video comes: the primary context comes up with
  // the runtime's flags (spin scheduling here, explicitly different from FFmpeg's).
  ASSERT_EQ(cudaSetDevice(0), cudaSuccess);
  ASSERT_EQ(cudaSetDeviceFlags(cudaDeviceScheduleSpin), cudaSuccess);
  ASSERT_EQ(cudaFree(nullptr), cudaSuccess);
  hashmatch::test::TempDir d;
  SynthClipSpec s;
  s.frames = 30;
  write_synth_clip(d / "c.mp4", s);
  VideoOptions o;
  o.decoder = "cuda";
  const VpdqResult r = hash_video(VideoInput::file(d / "c.mp4"), o);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.info.decoder, "nvdec") << r.info.note;
  // The runtime keeps working in the shared context afterwards.
  void* p = nullptr;
  EXPECT_EQ(cudaMalloc(&p, 1024), cudaSuccess);
  EXPECT_EQ(cudaFree(p), cudaSuccess);
}

}  // namespace
}  // namespace hashmatch::video
