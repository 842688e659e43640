// The GPU PDQ sink on NVDEC (label gpu; skips without a device, fails with
// HASHMATCH_REQUIRE_GPU=1). Clips are generated in-process (the GPU machine has no ffmpeg command
// line). For each sampled NVDEC frame the GPU PDQ's hash must equal, bit for bit, the CPU PDQ of the
// same NV12 pixels copied to the host (host/pdq/frame.h's conversion; the kernels' CPU emulation
// agrees); against CPU decoding + the host path (vPDQ-exact) frame numbers and timestamps are
// identical and hashes within a few bits (the integer YUV conversion is not swscale's).
#include <gtest/gtest.h>

#include <cuda_runtime_api.h>

#include <cstdio>
#include <mutex>

#include "host/pdq/frame.h"
#include "tests/pdq_gpu/emulation.h"
#include "tests/testutil/testutil.h"
#include "tests/video/nv12_frames.h"
#include "video/gpu_pdq_sink.h"
#include "video/synth_clip.h"
#include "video/video_pool.h"
#include "video/vpdq.h"

namespace hashmatch::video {
namespace {

// As tests/video/test_gpu_pdq_sink.cc (measured there on the CPU on the same pixels).
constexpr int kMaxDriftBits = 16;
constexpr int kMaxMeanDriftBits = 6;

class VideoGpuPdq : public hashmatch::test::GpuTest {};

// Passes everything to a GpuPdqSink and keeps a host copy of each device frame's NV12 planes.
class TeeSink : public FrameSink {
 public:
  explicit TeeSink(GpuPdqSinkOptions o = {}) : inner_(std::move(o)) {}
  bool wants_device_frames() const override { return inner_.wants_device_frames(); }
  bool takes_device_frame(const FrameInfo& i, const DeviceFrame& f) override {
    return inner_.takes_device_frame(i, f);
  }
  int max_held_device_frames() const override { return inner_.max_held_device_frames(); }
  Image take_buffer(std::size_t bytes) override { return inner_.take_buffer(bytes); }
  void push_host(const FrameInfo& i, Image&& rgb) override {
    ++host_frames;
    inner_.push_host(i, std::move(rgb));
  }
  void push_device(const FrameInfo& i, const DeviceFrame& f) override {
    EXPECT_EQ(f.layout, DevicePixelLayout::kNv12);
    EXPECT_NE(f.hold, nullptr);
    video::test::Nv12Frame c;
    c.info = i;
    c.width = f.width;
    c.height = f.height;
    c.colorspace = f.colorspace;
    c.color_range = f.color_range;
    const int cw = (f.width + 1) / 2, ch = (f.height + 1) / 2;
    c.y.resize(std::size_t(f.width) * f.height);
    c.uv.resize(std::size_t(2 * cw) * ch);
    EXPECT_EQ(cudaStreamSynchronize(static_cast<cudaStream_t>(f.cuda_stream)), cudaSuccess);
    EXPECT_EQ(cudaMemcpy2D(c.y.data(), f.width, f.planes[0], f.pitch[0], f.width, f.height,
                           cudaMemcpyDeviceToHost),
              cudaSuccess);
    EXPECT_EQ(cudaMemcpy2D(c.uv.data(), 2 * cw, f.planes[1], f.pitch[1], 2 * cw, ch,
                           cudaMemcpyDeviceToHost),
              cudaSuccess);
    copies.push_back(std::move(c));
    inner_.push_device(i, f);
  }
  std::vector<VpdqFrame> finish() override { return inner_.finish(); }
  void cancel() override { inner_.cancel(); }

  GpuPdqSink& inner() { return inner_; }
  int host_frames = 0;
  std::vector<video::test::Nv12Frame> copies;

 private:
  GpuPdqSink inner_;
};

VideoOptions opts(const char* decoder, const char* pdq, double sph = 0) {
  VideoOptions o;
  o.decoder = decoder;
  o.pdq = pdq;
  o.seconds_per_hash = sph;
  return o;
}

// (b): CPU decode + host PDQ: same numbers and timestamps, a few bits of drift.
void expect_near_host_path(const std::vector<VpdqFrame>& gpu, const std::vector<VpdqFrame>& cpu,
                           const std::string& what) {
  ASSERT_EQ(gpu.size(), cpu.size()) << what;
  int identical = 0, worst = 0, total = 0;
  for (std::size_t i = 0; i < cpu.size(); ++i) {
    ASSERT_EQ(gpu[i].frame_number, cpu[i].frame_number) << what;
    EXPECT_EQ(gpu[i].timestamp, cpu[i].timestamp) << what;
    const int dist = hamming_distance(gpu[i].hash, cpu[i].hash);
    identical += dist == 0;
    worst = std::max(worst, dist);
    total += dist;
    EXPECT_LE(dist, kMaxDriftBits) << what << " frame " << cpu[i].frame_number;
  }
  std::printf("[ gpu-sink-vs-vpdq ] %s: %d/%zu identical, worst %d bits, mean %.2f\n", what.c_str(),
              identical, cpu.size(), worst, cpu.empty() ? 0.0 : double(total) / double(cpu.size()));
  EXPECT_LE(total, int(cpu.size()) * kMaxMeanDriftBits) << what;
}

struct Case {
  const char* file;
  const char* encoder;
  int width, height;
};

class VideoGpuPdqCodecs : public hashmatch::test::GpuTest, public ::testing::WithParamInterface<Case> {};

TEST_P(VideoGpuPdqCodecs, GpuSinkEqualsCpuPdqOfTheSameFrames) {
  const Case& c = GetParam();
  hashmatch::test::TempDir d;
  SynthClipSpec s;
  s.encoder = c.encoder;
  s.width = c.width;
  s.height = c.height;
  s.frames = 45;
  s.gop = 15;
  write_synth_clip(d / c.file, s);

  GpuPdqSinkOptions go;
  go.mode = VideoPdqMode::kCuda;
  go.batch = 4;
  TeeSink sink(go);
  const VpdqResult r = hash_video(VideoInput::file(d / c.file), opts("cuda", "cuda"), {}, sink);
  ASSERT_TRUE(r.ok()) << r.error;
  ASSERT_EQ(r.info.decoder, "nvdec") << r.info.note;
  EXPECT_EQ(sink.host_frames, 0);  // nothing copied back by the decode loop
  EXPECT_EQ(sink.inner().device_frames(), 45);
  ASSERT_EQ(r.frames.size(), 45u);
  ASSERT_EQ(sink.copies.size(), 45u);

  // (a) exact: the CPU PDQ of the same NV12 pixels (and the kernels' CPU emulation).
  pdq::PdqHasher ref;
  std::vector<pdq::test::EmuItem> items;
  for (std::size_t i = 0; i < sink.copies.size(); ++i) {
    const auto& f = sink.copies[i];
    ASSERT_EQ(f.info.frame_number, r.frames[i].frame_number);
    const FrameView v = device_frame_view(f.view());
    const pdq::PdqHash h = ref.hash(frame_to_image(v));
    EXPECT_EQ(r.frames[i].hash, h.hash) << c.file << " frame " << i;
    EXPECT_EQ(r.frames[i].quality, h.quality) << c.file << " frame " << i;
    EXPECT_EQ(r.frames[i].timestamp, f.info.timestamp);
    if (i % 5 == 0) items.push_back({v, false});
  }
  const auto emu = pdq::test::emulate_gpu_pipeline(items, 0, pdq::PlanLimits{}, false);
  for (std::size_t k = 0; k < items.size(); ++k) {
    EXPECT_EQ(emu[k].hashes[0], r.frames[k * 5].hash) << "emulation, frame " << k * 5;
  }

  // NVDEC's pixels are the CPU decoder's (so the copies above are the oracle's input too).
  const auto cpu_frames = video::test::decode_nv12((d / c.file).string());
  ASSERT_EQ(cpu_frames.size(), sink.copies.size());
  for (std::size_t i = 0; i < cpu_frames.size(); ++i) {
    EXPECT_EQ(sink.copies[i].y, cpu_frames[i].y) << "luma of frame " << i;
    EXPECT_EQ(sink.copies[i].uv, cpu_frames[i].uv) << "chroma of frame " << i;
  }

  // (b) CPU decode + host PDQ (vPDQ-exact).
  const VpdqResult cpu = hash_video(VideoInput::file(d / c.file), opts("cpu", "cpu"));
  ASSERT_TRUE(cpu.ok()) << cpu.error;
  expect_near_host_path(r.frames, cpu.frames, c.file);
}

INSTANTIATE_TEST_SUITE_P(Synth, VideoGpuPdqCodecs,
                         ::testing::Values(Case{"h264.mp4", "libx264", 640, 360},
                                           Case{"hevc.mkv", "libx265", 640, 360},
                                           Case{"vp9.webm", "libvpx-vp9", 640, 360},
                                           Case{"odd.mp4", "libx264", 350, 198}),
                         [](const auto& info) {
                           std::string n = info.param.file;
                           for (char& ch : n) if (ch == '.') ch = '_';
                           return n;
                         });

// auto: the GPU sink takes NVDEC frames when many are hashed (every frame, keyframes-only), not
// for one hash per second.
TEST_F(VideoGpuPdq, AutoUsesTheGpuSinkForEveryFrameAndKeyframesOnly) {
  hashmatch::test::TempDir d;
  SynthClipSpec s;
  s.frames = 60;
  s.gop = 15;
  write_synth_clip(d / "a.mp4", s);
  const VpdqResult every = hash_video(VideoInput::file(d / "a.mp4"), opts("cuda", "auto"));
  ASSERT_TRUE(every.ok()) << every.error;
  ASSERT_EQ(every.info.decoder, "nvdec") << every.info.note;
  EXPECT_EQ(every.info.pdq, "cuda") << every.info.note;
  EXPECT_EQ(info_to_json(every.info).value("pdq", ""), "cuda");
  const VpdqResult cpu_every = hash_video(VideoInput::file(d / "a.mp4"), opts("cpu", "cpu"));
  ASSERT_TRUE(cpu_every.ok());
  expect_near_host_path(every.frames, cpu_every.frames, "auto, every frame");

  // Keyframes-only (fast triage): the key frames as they are, the CPU's frame numbers.
  VideoOptions kf = opts("cuda", "auto");
  kf.keyframes_only = true;
  const VpdqResult keys = hash_video(VideoInput::file(d / "a.mp4"), kf);
  ASSERT_TRUE(keys.ok()) << keys.error;
  ASSERT_EQ(keys.info.decoder, "nvdec") << keys.info.note;
  EXPECT_EQ(keys.info.pdq, "cuda") << keys.info.note;
  VideoOptions cpu_kf = opts("cpu", "cpu");
  cpu_kf.keyframes_only = true;
  const VpdqResult cpu_keys = hash_video(VideoInput::file(d / "a.mp4"), cpu_kf);
  ASSERT_TRUE(cpu_keys.ok()) << cpu_keys.error;
  ASSERT_EQ(cpu_keys.frames.size(), 4u);
  expect_near_host_path(keys.frames, cpu_keys.frames, "auto, keyframes-only");

  // One hash per second: the host path, vPDQ-exact.
  const VpdqResult sampled = hash_video(VideoInput::file(d / "a.mp4"), opts("cuda", "auto", 1));
  const VpdqResult cpu_sampled = hash_video(VideoInput::file(d / "a.mp4"), opts("cpu", "cpu", 1));
  ASSERT_TRUE(sampled.ok() && cpu_sampled.ok());
  EXPECT_EQ(sampled.info.decoder, "nvdec");
  EXPECT_EQ(sampled.info.pdq, "");
  ASSERT_EQ(sampled.frames.size(), cpu_sampled.frames.size());
  for (std::size_t i = 0; i < sampled.frames.size(); ++i) {
    EXPECT_EQ(sampled.frames[i].hash, cpu_sampled.frames[i].hash);
  }
  // cuda forces the GPU sink for sampled frames too; cpu never uses it.
  const VpdqResult forced = hash_video(VideoInput::file(d / "a.mp4"), opts("cuda", "cuda", 1));
  ASSERT_TRUE(forced.ok()) << forced.error;
  EXPECT_EQ(forced.info.pdq, "cuda");
  expect_near_host_path(forced.frames, cpu_sampled.frames, "cuda, 1 s sampling");
  const VpdqResult host = hash_video(VideoInput::file(d / "a.mp4"), opts("cuda", "cpu"));
  ASSERT_TRUE(host.ok());
  EXPECT_EQ(host.info.pdq, "");
  ASSERT_EQ(host.frames.size(), cpu_every.frames.size());
  for (std::size_t i = 0; i < host.frames.size(); ++i) {
    EXPECT_EQ(host.frames[i].hash, cpu_every.frames[i].hash);
  }
}

TEST_F(VideoGpuPdq, FramesTheGpuSinkCannotTakeGoTheHostWay) {
  hashmatch::test::TempDir d;
  SynthClipSpec s;
  s.encoder = "libx265";
  s.bit_depth = 10;
  s.frames = 30;
  write_synth_clip(d / "ten.mkv", s);
  // 10-bit (P010 on NVDEC): host path even with cuda.
  TeeSink sink([] {
    GpuPdqSinkOptions o;
    o.mode = VideoPdqMode::kCuda;
    return o;
  }());
  const VpdqResult ten = hash_video(VideoInput::file(d / "ten.mkv"), opts("cuda", "cuda"), {}, sink);
  ASSERT_TRUE(ten.ok()) << ten.error;
  ASSERT_EQ(ten.info.decoder, "nvdec") << ten.info.note;
  EXPECT_EQ(sink.inner().device_frames(), 0);
  EXPECT_EQ(sink.host_frames, 30);
  EXPECT_NE(sink.inner().note().find("P010"), std::string::npos) << sink.inner().note();
  const VpdqResult ten_cpu = hash_video(VideoInput::file(d / "ten.mkv"), opts("cpu", "cpu"));
  ASSERT_TRUE(ten_cpu.ok());
  ASSERT_EQ(ten.frames.size(), ten_cpu.frames.size());
  for (std::size_t i = 0; i < ten.frames.size(); ++i) {
    EXPECT_LE(hamming_distance(ten.frames[i].hash, ten_cpu.frames[i].hash), 8);
  }
  const VpdqResult ten_default = hash_video(VideoInput::file(d / "ten.mkv"), opts("cuda", "cuda"));
  ASSERT_TRUE(ten_default.ok());
  EXPECT_EQ(ten_default.info.pdq, "");
  EXPECT_NE(ten_default.info.note.find("P010"), std::string::npos) << ten_default.info.note;

  // --vpdq-size: host path (swscale's area scaling), decided per video.
  s.encoder = "libx264";
  s.bit_depth = 8;
  write_synth_clip(d / "eight.mp4", s);
  VideoOptions sized = opts("cuda", "cuda");
  sized.size = 64;
  const VpdqResult small = hash_video(VideoInput::file(d / "eight.mp4"), sized);
  sized.decoder = "cpu";
  const VpdqResult small_cpu = hash_video(VideoInput::file(d / "eight.mp4"), sized);
  ASSERT_TRUE(small.ok() && small_cpu.ok());
  EXPECT_EQ(small.info.pdq, "");
  EXPECT_NE(small.info.note.find("vpdq-size"), std::string::npos) << small.info.note;
  ASSERT_EQ(small.frames.size(), small_cpu.frames.size());
  for (std::size_t i = 0; i < small.frames.size(); ++i) {
    EXPECT_EQ(small.frames[i].hash, small_cpu.frames[i].hash);
  }
}

// A frame cropped at the top or left (FFmpeg leaves that crop of a hardware frame to the user)
// goes the host way, where it is cropped as the software decoder crops it.
TEST_F(VideoGpuPdq, TopAndLeftCroppedFramesGoTheHostWay) {
  hashmatch::test::TempDir d;
  write_synth_clip(d / "crop.mp4", top_left_crop_spec());
  TeeSink sink([] {
    GpuPdqSinkOptions o;
    o.mode = VideoPdqMode::kCuda;
    return o;
  }());
  const VpdqResult r = hash_video(VideoInput::file(d / "crop.mp4"), opts("cuda", "cuda"), {}, sink);
  ASSERT_TRUE(r.ok()) << r.error;
  ASSERT_EQ(r.info.decoder, "nvdec") << r.info.note;
  EXPECT_EQ(sink.inner().device_frames(), 0);
  EXPECT_EQ(sink.host_frames, 30);
  const VpdqResult cpu = hash_video(VideoInput::file(d / "crop.mp4"), opts("cpu", "cpu"));
  ASSERT_TRUE(cpu.ok()) << cpu.error;
  EXPECT_EQ(r.info.width, cpu.info.width);
  expect_near_host_path(r.frames, cpu.frames, "top/left cropped, cuda");
}

TEST_F(VideoGpuPdq, BatchSizeDoesNotChangeResults) {
  hashmatch::test::TempDir d;
  SynthClipSpec s;
  s.frames = 37;
  write_synth_clip(d / "b.mp4", s);
  std::vector<std::vector<VpdqFrame>> runs;
  for (int batch : {1, 3, 6}) {
    GpuPdqSinkOptions o;
    o.mode = VideoPdqMode::kCuda;
    o.batch = batch;
    GpuPdqSink sink(o);
    EXPECT_EQ(sink.max_held_device_frames(), 2 * batch);
    const VpdqResult r = hash_video(VideoInput::file(d / "b.mp4"), opts("cuda", "cuda"), {}, sink);
    ASSERT_TRUE(r.ok()) << r.error;
    EXPECT_EQ(sink.device_frames(), 37);
    runs.push_back(r.frames);
  }
  for (std::size_t k = 1; k < runs.size(); ++k) {
    ASSERT_EQ(runs[k].size(), runs[0].size());
    for (std::size_t i = 0; i < runs[0].size(); ++i) {
      EXPECT_EQ(runs[k][i].frame_number, runs[0][i].frame_number);
      EXPECT_EQ(runs[k][i].hash, runs[0][i].hash);
      EXPECT_EQ(runs[k][i].quality, runs[0][i].quality);
    }
  }
}

// Copied device frames (copy_device_frames: surfaces handed back at once, batches past NVDEC's
// surface count) hash exactly as held ones, in 1080p too (pitched copies of odd-sized planes).
TEST_F(VideoGpuPdq, CopiedDeviceFramesHashAsHeldOnes) {
  hashmatch::test::TempDir d;
  SynthClipSpec s;
  s.frames = 45;
  write_synth_clip(d / "c.mp4", s);
  s.width = 1920;
  s.height = 1080;
  s.frames = 20;
  write_synth_clip(d / "hd.mp4", s);
  s.width = 350;  // odd chroma width, pitch != width
  s.height = 198;
  s.frames = 20;
  write_synth_clip(d / "odd.mp4", s);
  for (const char* clip : {"c.mp4", "hd.mp4", "odd.mp4"}) {
    std::vector<std::vector<VpdqFrame>> runs;
    for (const auto& [batch, copy] : {std::pair{6, false}, std::pair{6, true}, std::pair{16, true},
                                      std::pair{64, true}}) {
      GpuPdqSinkOptions o;
      o.mode = VideoPdqMode::kCuda;
      o.batch = batch;
      o.copy_device_frames = copy;
      GpuPdqSink sink(o);
      EXPECT_EQ(sink.max_held_device_frames(), copy ? 1 : 2 * batch);
      EXPECT_EQ(sink.batch(), batch);
      const VpdqResult r = hash_video(VideoInput::file(d / clip), opts("cuda", "cuda"), {}, sink);
      ASSERT_TRUE(r.ok()) << clip << ": " << r.error;
      EXPECT_EQ(r.info.decoder, "nvdec") << clip;
      EXPECT_EQ(sink.device_frames(), r.info.frames_decoded) << clip;
      runs.push_back(r.frames);
    }
    for (std::size_t k = 1; k < runs.size(); ++k) {
      ASSERT_EQ(runs[k].size(), runs[0].size()) << clip;
      for (std::size_t i = 0; i < runs[0].size(); ++i) {
        EXPECT_EQ(runs[k][i].frame_number, runs[0][i].frame_number) << clip;
        EXPECT_EQ(runs[k][i].hash, runs[0][i].hash) << clip << " run " << k << " frame " << i;
        EXPECT_EQ(runs[k][i].quality, runs[0][i].quality) << clip;
      }
    }
  }
}

TEST_F(VideoGpuPdq, ParallelSessionsEveryFrame) {
  hashmatch::test::TempDir d;
  SynthClipSpec s;
  s.frames = 60;
  write_synth_clip(d / "p.mp4", s);
  const auto bytes = hashmatch::test::read_file(d / "p.mp4");
  const VpdqResult gpu_ref = hash_video(VideoInput::memory(bytes), opts("cuda", "cuda"));
  const VpdqResult cpu_ref = hash_video(VideoInput::memory(bytes), opts("cpu", "cpu"));
  ASSERT_TRUE(gpu_ref.ok() && cpu_ref.ok()) << gpu_ref.error << cpu_ref.error;
  ASSERT_EQ(gpu_ref.info.pdq, "cuda");
  std::vector<VideoInput> inputs(12, VideoInput::memory(bytes));
  const auto all = hash_videos(inputs, opts("auto", "auto"), {}, 12);
  int on_gpu = 0;
  for (const auto& r : all) {
    ASSERT_TRUE(r.ok()) << r.error;
    const VpdqResult& want = r.info.pdq == "cuda" ? gpu_ref : cpu_ref;
    on_gpu += r.info.pdq == "cuda";
    ASSERT_EQ(r.frames.size(), want.frames.size());
    for (std::size_t i = 0; i < r.frames.size(); ++i) {
      EXPECT_EQ(r.frames[i].hash, want.frames[i].hash) << "frame " << i;  // deterministic
    }
  }
  std::printf("[ gpu-sink-parallel ] %d of 12 sessions hashed on the GPU sink\n", on_gpu);
  EXPECT_GE(on_gpu, 1);
}

}  // namespace
}  // namespace hashmatch::video
