// NVDEC (FFmpeg's CUDA hwaccel) against the CPU decoder, the oracle: the same frame numbers and the
// same hashes; device frames handed to a sink without a copy back hold the decoded pixels; parallel
// sessions share the GPU's decoders. Clips are made in-process (no ffmpeg command line on the GPU
// machine). Skips without a GPU; fails with HASHMATCH_REQUIRE_GPU=1.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

#include "tests/testutil/testutil.h"
#include "tests/video/clips.h"
#include "video/decoder_pool.h"
#include "video/frame_sink.h"
#include "video/synth_clip.h"
#include "video/video_pool.h"
#include "video/vpdq.h"

#ifdef HASHMATCH_HAVE_CUDA
#include <cuda_runtime_api.h>

#include "tests/video/nv12_frames.h"
#endif

namespace hashmatch::video {
namespace {

class VideoGpu : public hashmatch::test::GpuTest {};

// The host PDQ path (NVDEC frames copied back, vPDQ-exact): the GPU PDQ sink has its own tests
// (test_video_gpu_pdq).
VideoOptions opts_for(const char* decoder, double sph = 0) {
  VideoOptions o;
  o.decoder = decoder;
  o.seconds_per_hash = sph;
  o.pdq = "cpu";
  return o;
}

struct GpuCase {
  const char* file;
  const char* encoder;
  int bit_depth;
};

class VideoGpuCodecs : public hashmatch::test::GpuTest, public ::testing::WithParamInterface<GpuCase> {};

TEST_P(VideoGpuCodecs, NvdecHashesMatchCpuHashes) {
  const GpuCase& c = GetParam();
  hashmatch::test::TempDir d;
  SynthClipSpec s;
  s.encoder = c.encoder;
  s.bit_depth = c.bit_depth;
  s.width = 640;
  s.height = 360;
  s.frames = 60;
  write_synth_clip(d / c.file, s);
  const VpdqResult cpu = hash_video(VideoInput::file(d / c.file), opts_for("cpu"));
  const VpdqResult gpu = hash_video(VideoInput::file(d / c.file), opts_for("cuda"));
  ASSERT_TRUE(cpu.ok()) << cpu.error;
  ASSERT_TRUE(gpu.ok()) << gpu.error;
  ASSERT_EQ(gpu.info.decoder, "nvdec") << gpu.info.note;
  ASSERT_EQ(gpu.frames.size(), cpu.frames.size());
  int identical = 0, worst = 0;
  for (std::size_t i = 0; i < cpu.frames.size(); ++i) {
    ASSERT_EQ(gpu.frames[i].frame_number, cpu.frames[i].frame_number);
    EXPECT_EQ(gpu.frames[i].timestamp, cpu.frames[i].timestamp);
    const int dist = hamming_distance(gpu.frames[i].hash, cpu.frames[i].hash);
    worst = std::max(worst, dist);
    if (dist == 0 && gpu.frames[i].quality == cpu.frames[i].quality) ++identical;
    EXPECT_LE(dist, 8) << c.file << " frame " << i;
  }
  std::printf("[ nvdec-vs-cpu ] %s: %d/%zu frames bit-identical, worst %d bits\n", c.file, identical,
              cpu.frames.size(), worst);
  RecordProperty("identical", identical);
  // NVDEC decodes these codecs bit-exactly and the host conversion is the CPU path's: expect all.
  EXPECT_GE(identical * 10, int(cpu.frames.size()) * 9);
}

INSTANTIATE_TEST_SUITE_P(Synth, VideoGpuCodecs,
                         ::testing::Values(GpuCase{"h264.mp4", "libx264", 8},
                                           GpuCase{"hevc.mkv", "libx265", 8},
                                           GpuCase{"hevc10.mkv", "libx265", 10},
                                           GpuCase{"vp9.webm", "libvpx-vp9", 8}),
                         [](const auto& info) {
                           std::string n = info.param.file;
                           for (char& ch : n) if (ch == '.') ch = '_';
                           return n;
                         });

TEST_F(VideoGpu, KeyframesOnlyOnNvdec) {
  hashmatch::test::TempDir d;
  SynthClipSpec s;
  s.frames = 90;
  s.gop = 30;
  write_synth_clip(d / "k.mp4", s);
  VideoOptions k = opts_for("cuda");
  k.keyframes_only = true;
  const VpdqResult gpu = hash_video(VideoInput::file(d / "k.mp4"), k);
  k.decoder = "cpu";
  const VpdqResult cpu = hash_video(VideoInput::file(d / "k.mp4"), k);
  ASSERT_TRUE(gpu.ok() && cpu.ok()) << gpu.error << cpu.error;
  ASSERT_EQ(gpu.info.decoder, "nvdec") << gpu.info.note;
  ASSERT_EQ(gpu.frames.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(gpu.frames[i].frame_number, cpu.frames[i].frame_number);
    EXPECT_LE(hamming_distance(gpu.frames[i].hash, cpu.frames[i].hash), 8);
  }
}

// Open-GOP key frames on NVDEC (x264 I pictures with recovery points, x265 CRA; 250-frame GOPs,
// past what the decoders' picture order counts bridge): every key frame, numbered and hashed as
// the CPU decoder does (docs/video.md, keyframes-only; test_video_keyframes checks the CPU side
// against the exact mode on the same clips).
TEST_F(VideoGpu, KeyframesOnlyOnNvdecOpenGop) {
  for (const char* enc : {"libx264", "libx265"}) {
    hashmatch::test::TempDir d;
    const SynthClipSpec s = open_gop_spec(enc, 320, 240);
    const auto p = d / (std::string(enc) + ".mkv");
    write_synth_clip(p, s);
    VideoOptions k = opts_for("cuda");
    k.keyframes_only = true;
    const VpdqResult gpu = hash_video(VideoInput::file(p), k);
    k.decoder = "cpu";
    const VpdqResult cpu = hash_video(VideoInput::file(p), k);
    ASSERT_TRUE(gpu.ok() && cpu.ok()) << enc << ": " << gpu.error << cpu.error;
    ASSERT_EQ(gpu.info.decoder, "nvdec") << gpu.info.note;
    ASSERT_GE(cpu.frames.size(), 3u) << enc;  // 0, 250, 500 (and scene cuts)
    ASSERT_EQ(gpu.frames.size(), cpu.frames.size()) << enc;
    for (std::size_t i = 0; i < cpu.frames.size(); ++i) {
      EXPECT_EQ(gpu.frames[i].frame_number, cpu.frames[i].frame_number) << enc;
      EXPECT_LE(hamming_distance(gpu.frames[i].hash, cpu.frames[i].hash), 8) << enc;
    }
  }
}

// Intra refresh on NVDEC: keyframes-only switches to the exact mode (docs/video.md) there too, and
// hashes what the exact mode on NVDEC hashes, close to the CPU decoder's frames; the exact pass
// gets an NVDEC session even when only one is allowed.
TEST_F(VideoGpu, KeyframesOnlyOnNvdecIntraRefresh) {
  hashmatch::test::TempDir d;
  write_synth_clip(d / "ir.mkv", intra_refresh_spec());
  VideoOptions o = opts_for("cuda");
  const VpdqResult exact = hash_video(VideoInput::file(d / "ir.mkv"), o);
  o.keyframes_only = true;
  o.time_budget_seconds = 60;
  VpdqResult key;
  {
    // One NVDEC session per GPU: the keyframes pass must give its own back before the exact pass
    // asks for one (else that pass waits out the time budget).
    hashmatch::test::ScopedEnv one("HASHMATCH_NVDEC_SESSIONS", "1");
    key = hash_video(VideoInput::file(d / "ir.mkv"), o);
  }
  o.decoder = "cpu";
  o.keyframes_only = false;
  const VpdqResult cpu = hash_video(VideoInput::file(d / "ir.mkv"), o);
  ASSERT_TRUE(exact.ok() && key.ok() && cpu.ok()) << exact.error << key.error << cpu.error;
  ASSERT_EQ(key.info.decoder, "nvdec") << key.info.note;
  EXPECT_NE(key.info.note.find("hashed in exact mode"), std::string::npos) << key.info.note;
  ASSERT_EQ(key.frames.size(), exact.frames.size());
  ASSERT_EQ(key.frames.size(), cpu.frames.size());
  for (std::size_t i = 0; i < key.frames.size(); ++i) {
    EXPECT_EQ(key.frames[i].frame_number, exact.frames[i].frame_number);
    EXPECT_EQ(key.frames[i].hash, exact.frames[i].hash);
    EXPECT_EQ(key.frames[i].frame_number, cpu.frames[i].frame_number);
    EXPECT_LE(hamming_distance(key.frames[i].hash, cpu.frames[i].hash), 8);
  }
}

// An NVDEC decoder kept open after a video (video/decoder_pool.h) decodes the next video of the
// same stream parameters exactly as a freshly opened one; keyframes-only `auto` opens NVDEC for a
// stream once it recurs and reuses that decoder afterwards.
TEST_F(VideoGpu, NvdecDecoderReusedAcrossVideos) {
  decoder_pool::clear();
  hashmatch::test::TempDir d;
  SynthClipSpec s;
  s.frames = 60;
  s.gop = 15;
  hashmatch::test::write_clip_pair(d / "a.mp4", d / "b.mp4", s, 47);
  const VideoOptions o = opts_for("cuda", 0.1);
  std::vector<VpdqResult> fresh;
  {
    hashmatch::test::ScopedEnv off("HASHMATCH_DECODER_POOL", "0");
    fresh.push_back(hash_video(VideoInput::file(d / "a.mp4"), o));
    fresh.push_back(hash_video(VideoInput::file(d / "b.mp4"), o));
  }
  const VpdqResult a = hash_video(VideoInput::file(d / "a.mp4"), o);
  const VpdqResult b = hash_video(VideoInput::file(d / "b.mp4"), o);
  const VpdqResult a2 = hash_video(VideoInput::file(d / "a.mp4"), o);
  const VpdqResult cpu_b = hash_video(VideoInput::file(d / "b.mp4"), opts_for("cpu", 0.1));
  const std::initializer_list<const VpdqResult*> all = {&fresh[0], &fresh[1], &a, &b, &a2, &cpu_b};
  for (const VpdqResult* r : all) {
    ASSERT_TRUE(r->ok()) << r->error;
  }
  ASSERT_EQ(a.info.decoder, "nvdec") << a.info.note;
  ASSERT_EQ(b.info.decoder, "nvdec") << b.info.note;
  EXPECT_FALSE(a.info.decoder_reused);
  EXPECT_TRUE(b.info.decoder_reused);
  EXPECT_TRUE(a2.info.decoder_reused);
  const std::pair<const VpdqResult*, const VpdqResult*> pairs[] = {
      {&a, &fresh[0]}, {&b, &fresh[1]}, {&a2, &fresh[0]}, {&b, &cpu_b}};
  for (const auto& [got, want] : pairs) {
    EXPECT_EQ(got->info.frames_decoded, want->info.frames_decoded);
    ASSERT_EQ(got->frames.size(), want->frames.size());
    for (std::size_t i = 0; i < got->frames.size(); ++i) {
      EXPECT_EQ(got->frames[i].frame_number, want->frames[i].frame_number);
      EXPECT_EQ(got->frames[i].hash, want->frames[i].hash) << "frame " << i;
    }
  }

  // keyframes-only, decoder auto: the first video on the CPU, the stream recurs: NVDEC opened,
  // then kept and reused; the key frames hash as the CPU decoder's do.
  decoder_pool::clear();
  VideoOptions k = opts_for("auto");
  k.keyframes_only = true;
  std::vector<VpdqResult> ks;
  for (int i = 0; i < 3; ++i) ks.push_back(hash_video(VideoInput::file(d / "a.mp4"), k));
  k.decoder = "cpu";
  const VpdqResult kcpu = hash_video(VideoInput::file(d / "a.mp4"), k);
  ASSERT_TRUE(kcpu.ok()) << kcpu.error;
  EXPECT_EQ(ks[0].info.decoder, "cpu");
  EXPECT_EQ(ks[1].info.decoder, "nvdec") << ks[1].info.note;
  EXPECT_EQ(ks[2].info.decoder, "nvdec") << ks[2].info.note;
  EXPECT_TRUE(ks[2].info.decoder_reused);
  for (const VpdqResult& r : ks) {
    ASSERT_TRUE(r.ok()) << r.error;
    ASSERT_EQ(r.frames.size(), kcpu.frames.size());
    for (std::size_t i = 0; i < r.frames.size(); ++i) {
      EXPECT_EQ(r.frames[i].frame_number, kcpu.frames[i].frame_number);
      EXPECT_EQ(r.frames[i].hash, kcpu.frames[i].hash) << "key frame " << i;
    }
  }
  decoder_pool::clear();
}

// H.264 on NVDEC ends a video without a drain (video/decoder_pool.h): B-frame clips (a
// reordering delay of 2) have their last pictures pushed out by copies of the last IDR, the
// decoder is kept unflushed (no new NVDEC decoder for the next video), and every clip hashes as
// the CPU decoder's does, one after another on the kept decoder, keyframes-only and every frame.
TEST_F(VideoGpu, H264OnNvdecEndsWithoutADrain) {
  hashmatch::test::TempDir d;
  SynthClipSpec s;
  s.width = 640;
  s.height = 360;
  s.frames = 90;
  s.gop = 15;
  s.preset = "veryfast";  // B-frames
  hashmatch::test::write_clip_pair(d / "a.mp4", d / "b.mp4", s, 71);
  for (const bool keyframes : {true, false}) {
    const std::string what = keyframes ? "keyframes-only" : "every frame";
    decoder_pool::clear();
    VideoOptions k = opts_for("cuda");
    k.keyframes_only = keyframes;
    VideoOptions kc = k;
    kc.decoder = "cpu";
    const VpdqResult ca = hash_video(VideoInput::file(d / "a.mp4"), kc);
    const VpdqResult cb = hash_video(VideoInput::file(d / "b.mp4"), kc);
    ASSERT_TRUE(ca.ok()) << ca.error;
    ASSERT_TRUE(cb.ok()) << cb.error;
    ASSERT_GE(ca.frames.size(), 5u);  // key frames every 15 frames (and at scene cuts)
    decoder_pool::clear();
    const int64_t kept0 = decoder_pool::kept_without_drain();
    const std::pair<const char*, const VpdqResult*> runs[] = {
        {"a.mp4", &ca}, {"b.mp4", &cb}, {"a.mp4", &ca}, {"b.mp4", &cb}};
    int i = 0;
    for (const auto& [file, want] : runs) {
      const VpdqResult r = hash_video(VideoInput::file(d / file), k);
      ASSERT_TRUE(r.ok()) << what << ": " << r.error;
      ASSERT_EQ(r.info.decoder, "nvdec") << what << ": " << r.info.note;
      EXPECT_EQ(r.info.decoder_reused, i > 0) << what << " run " << i;
      ASSERT_EQ(r.frames.size(), want->frames.size()) << what << " run " << i;
      for (std::size_t f = 0; f < r.frames.size(); ++f) {
        EXPECT_EQ(r.frames[f].frame_number, want->frames[f].frame_number) << what << " run " << i;
        EXPECT_EQ(r.frames[f].timestamp, want->frames[f].timestamp) << what << " run " << i;
        EXPECT_EQ(r.frames[f].hash, want->frames[f].hash) << what << " run " << i << " frame " << f;
      }
      ++i;
    }
    EXPECT_EQ(decoder_pool::kept_without_drain() - kept0, 4) << what;
  }
  decoder_pool::clear();
}

// A stream NVDEC refuses at its first frame (H.264 wider than NVDEC's 4,096: the pixel format
// passes nvdec::stream_supported, the size does not) is decoded again on a CPU decoder of its
// own, with the CPU's result and a note; a later video of the stream goes to the CPU at once.
TEST_F(VideoGpu, StreamRefusedByNvdecIsDecodedAgainOnTheCpu) {
  hashmatch::test::TempDir d;
  SynthClipSpec s;
  s.width = 4160;
  s.height = 64;
  s.frames = 30;
  write_synth_clip(d / "wide.mp4", s);
  const VpdqResult cpu = hash_video(VideoInput::file(d / "wide.mp4"), opts_for("cpu", 0.1));
  ASSERT_TRUE(cpu.ok()) << cpu.error;
  for (const char* dec : {"cuda", "auto"}) {
    const VpdqResult a = hash_video(VideoInput::file(d / "wide.mp4"), opts_for(dec, 0.1));
    ASSERT_TRUE(a.ok()) << dec << ": " << a.error;
    if (a.info.decoder == "nvdec") {  // this GPU decodes such a width: nothing refused
      std::printf("[ refused ] %s: NVDEC decoded the 4160-wide stream\n", dec);
    } else {
      EXPECT_EQ(a.info.decoder, "cpu");
      EXPECT_NE(a.info.note.find("NVDEC refused"), std::string::npos) << a.info.note;
      std::printf("[ refused ] %s: %s\n", dec, a.info.note.c_str());
    }
    hashmatch::test::expect_same_result(a, cpu, std::string("refused stream, ") + dec);
  }
}

// A damaged stream on NVDEC: the hardware conceals the damage its own way (the CPU's one-thread
// pass does not apply to NVDEC sessions), and FFmpeg sees less of it (slice data goes to the
// hardware undecoded). Asked here: the same outcome in every run. How it compares with the CPU's
// one-thread decode is printed, not asserted.
TEST_F(VideoGpu, DamagedStreamOnNvdecGivesTheSameOutcomeEveryRun) {
  hashmatch::test::TempDir d;
  SynthClipSpec s;
  s.frames = 120;
  write_synth_clip(d / "clean.mp4", s);
  std::vector<uint8_t> b = hashmatch::test::read_file(d / "clean.mp4");
  uint32_t x = 5;
  for (int k = 0; k < 12; ++k) {  // XOR at 12 places over the second half
    const std::size_t at = b.size() / 2 + std::size_t(k) * (b.size() / 30);
    for (std::size_t i = at; i < at + 200 && i < b.size(); ++i) {
      x = x * 1664525u + 1013904223u;
      b[i] ^= uint8_t((x >> 24) | 1);
    }
  }
  const VpdqResult first = hash_video(VideoInput::memory(b), opts_for("cuda"));
  ASSERT_EQ(first.info.decoder, "nvdec") << first.info.note;
  for (int run = 1; run < 4; ++run) {
    const VpdqResult r = hash_video(VideoInput::memory(b), opts_for("cuda"));
    hashmatch::test::expect_same_outcome(r, first, "NVDEC run " + std::to_string(run));
  }
  VideoOptions one = opts_for("cpu");
  one.threads = 1;
  const VpdqResult cpu = hash_video(VideoInput::memory(b), one);
  std::size_t same = 0;
  for (std::size_t i = 0; i < first.frames.size() && i < cpu.frames.size(); ++i) {
    same += first.frames[i].hash == cpu.frames[i].hash;
  }
  std::printf(
      "[ damaged ] NVDEC: %s, %zu frames (%s); CPU one thread: %s, %zu frames; %zu "
      "identical\n",
      first.ok() ? "ok" : first.error_reason.c_str(), first.frames.size(), first.error.c_str(),
      cpu.ok() ? "ok" : cpu.error_reason.c_str(), cpu.frames.size(), same);
}

// FFmpeg crops NVDEC frames at the right and bottom only: a stream cropped at the top and left
// (H.264 frame cropping) must still hash as on the CPU (video/frame_convert.h, as_software_frame).
TEST_F(VideoGpu, TopAndLeftCroppedStreamHashesAsOnTheCpu) {
  hashmatch::test::TempDir d;
  write_synth_clip(d / "crop.mp4", top_left_crop_spec());
  const VpdqResult cpu = hash_video(VideoInput::file(d / "crop.mp4"), opts_for("cpu", 0.1));
  ASSERT_TRUE(cpu.ok()) << cpu.error;
  EXPECT_EQ(cpu.info.width, 640 - 64);
  EXPECT_EQ(cpu.info.height, 360 - 4);
  const VpdqResult gpu = hash_video(VideoInput::file(d / "crop.mp4"), opts_for("cuda", 0.1));
  ASSERT_TRUE(gpu.ok()) << gpu.error;
  ASSERT_EQ(gpu.info.decoder, "nvdec") << gpu.info.note;
  EXPECT_EQ(gpu.info.width, cpu.info.width);
  EXPECT_EQ(gpu.info.height, cpu.info.height);
  hashmatch::test::expect_same_result(gpu, cpu, "top/left cropped H.264 on NVDEC");
}

TEST_F(VideoGpu, ParallelSessionsShareTheDecoders) {
  hashmatch::test::TempDir d;
  SynthClipSpec s;
  s.frames = 60;
  write_synth_clip(d / "p.mp4", s);
  const auto bytes = hashmatch::test::read_file(d / "p.mp4");
  const VpdqResult ref = hash_video(VideoInput::memory(bytes), opts_for("cpu", 0.1));
  ASSERT_TRUE(ref.ok());
  std::vector<VideoInput> inputs(12, VideoInput::memory(bytes));
  const auto all = hash_videos(inputs, opts_for("auto", 0.1), {}, 12);
  int nvdec = 0;
  for (const auto& r : all) {
    ASSERT_TRUE(r.ok()) << r.error;
    nvdec += r.info.decoder == "nvdec";
    ASSERT_EQ(r.frames.size(), ref.frames.size());
    for (std::size_t i = 0; i < r.frames.size(); ++i) {
      EXPECT_LE(hamming_distance(r.frames[i].hash, ref.frames[i].hash), 8);
    }
  }
  std::printf("[ nvdec-parallel ] %d of 12 sessions on NVDEC, the others on the CPU\n", nvdec);
  EXPECT_GE(nvdec, 1);
}

#ifdef HASHMATCH_HAVE_CUDA
// A sink that takes NVDEC frames in device memory (what the GPU PDQ batcher will do): it copies
// only the luma plane back, to check it against the CPU decoder.
class DeviceLumaSink : public FrameSink {
 public:
  bool wants_device_frames() const override { return true; }
  void push_host(const FrameInfo&, Image&&) override { ++host_frames; }
  void push_device(const FrameInfo& info, const DeviceFrame& df) override {
    EXPECT_EQ(df.layout, DevicePixelLayout::kNv12);
    EXPECT_NE(df.planes[0], nullptr);
    EXPECT_NE(df.planes[1], nullptr);
    EXPECT_GE(df.pitch[0], df.width);
    EXPECT_EQ(info.target_width, df.width);
    cudaPointerAttributes attr{};
    EXPECT_EQ(cudaPointerGetAttributes(&attr, df.planes[0]), cudaSuccess);
    EXPECT_EQ(attr.type, cudaMemoryTypeDevice);
    std::vector<uint8_t> y(std::size_t(df.width) * df.height);
    EXPECT_EQ(cudaStreamSynchronize(static_cast<cudaStream_t>(df.cuda_stream)), cudaSuccess);
    EXPECT_EQ(cudaMemcpy2D(y.data(), std::size_t(df.width), df.planes[0], std::size_t(df.pitch[0]),
                           std::size_t(df.width), std::size_t(df.height), cudaMemcpyDeviceToHost),
              cudaSuccess);
    numbers.push_back(info.frame_number);
    luma.push_back(std::move(y));
  }
  std::vector<VpdqFrame> finish() override {
    std::vector<VpdqFrame> out;
    for (auto n : numbers) out.push_back({n, 100, {}, 0});
    return out;
  }
  int host_frames = 0;
  std::vector<int64_t> numbers;
  std::vector<std::vector<uint8_t>> luma;
};

TEST_F(VideoGpu, DeviceFramesHoldTheDecodedPixels) {
  hashmatch::test::TempDir d;
  SynthClipSpec s;
  s.frames = 40;
  write_synth_clip(d / "dev.mp4", s);
  DeviceLumaSink sink;
  const VpdqResult r = hash_video(VideoInput::file(d / "dev.mp4"), opts_for("cuda", 0.1), {}, sink);
  ASSERT_TRUE(r.ok()) << r.error;
  ASSERT_EQ(r.info.decoder, "nvdec") << r.info.note;
  EXPECT_EQ(sink.host_frames, 0);  // nothing came back through the host
  // The oracle: FFmpeg's software decoder (tests/video/nv12_frames.h).
  const std::vector<video::test::Nv12Frame> cpu = video::test::decode_nv12((d / "dev.mp4").string());
  ASSERT_EQ(cpu.size(), 40u);
  ASSERT_EQ(sink.numbers, (std::vector<int64_t>{0, 3, 6, 9, 12, 15, 18, 21, 24, 27, 30, 33, 36, 39}));
  for (std::size_t i = 0; i < sink.numbers.size(); ++i) {
    EXPECT_EQ(sink.luma[i], cpu[std::size_t(sink.numbers[i])].y) << "frame " << sink.numbers[i];
  }
}
#endif

}  // namespace
}  // namespace hashmatch::video
