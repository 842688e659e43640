// Synthetic clips encoded in-process (libavcodec) and several decode sessions in parallel.
#include <gtest/gtest.h>

extern "C" {
#include <libavutil/cpu.h>
}

#include <chrono>
#include <future>
#include <thread>

#include "host/common/error.h"
#include "tests/testutil/testutil.h"
#include "video/cpu_pdq_sink.h"
#include "video/frame_sink.h"
#include "video/synth_clip.h"
#include "video/video_pool.h"
#include "video/vpdq_match.h"

namespace hashmatch::video {
namespace {

VideoOptions cpu_opts(double sph = 1.0) {
  VideoOptions o;
  o.decoder = "cpu";
  o.seconds_per_hash = sph;
  o.threads = 1;
  return o;
}

TEST(SynthClip, EncodesDecodableMovingContent) {
  test::TempDir d;
  SynthClipSpec s;
  s.width = 320;
  s.height = 180;
  s.frames = 45;
  s.gop = 15;
  write_synth_clip(d / "a.mp4", s);
  const VpdqResult r = hash_video(VideoInput::file(d / "a.mp4"), cpu_opts(0.5));
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.info.codec, "h264");
  EXPECT_EQ(r.info.frames_decoded, 45);
  EXPECT_EQ(r.info.frame_mod, 15);
  ASSERT_EQ(r.frames.size(), 3u);
  for (const auto& f : r.frames) EXPECT_GE(f.quality, 50);
  EXPECT_NE(r.frames[0].hash, r.frames[2].hash);
  VideoOptions k = cpu_opts();
  k.keyframes_only = true;
  const VpdqResult key = hash_video(VideoInput::file(d / "a.mp4"), k);
  ASSERT_TRUE(key.ok()) << key.error;
  ASSERT_EQ(key.frames.size(), 3u);
  EXPECT_EQ(key.frames[1].frame_number, 15);
  EXPECT_EQ(key.frames[1].hash, r.frames[1].hash);

  // The same content through another encoder and container matches; another pattern does not.
  s.encoder = "libx265";
  write_synth_clip(d / "b.mkv", s);
  SynthClipSpec other = s;
  other.encoder = "libx264";
  other.pattern = 3;
  write_synth_clip(d / "c.mp4", other);
  const VpdqResult b = hash_video(VideoInput::file(d / "b.mkv"), cpu_opts(0.2));
  const VpdqResult a = hash_video(VideoInput::file(d / "a.mp4"), cpu_opts(0.2));
  const VpdqResult c = hash_video(VideoInput::file(d / "c.mp4"), cpu_opts(0.2));
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(b.info.codec, "hevc");
  EXPECT_TRUE(match_videos(b.frames, a.frames).match);
  EXPECT_FALSE(match_videos(c.frames, a.frames).match);
}

TEST(SynthClip, UnknownEncoderIsAnError) {
  test::TempDir d;
  SynthClipSpec s;
  s.encoder = "no-such-encoder";
  EXPECT_THROW(write_synth_clip(d / "x.mp4", s), Error);
}

TEST(VideoPool, ParallelSessionsGiveTheSerialResultsInOrder) {
  test::TempDir d;
  std::vector<std::vector<uint8_t>> bytes;
  for (int p = 0; p < 4; ++p) {
    SynthClipSpec s;
    s.width = 192;
    s.height = 108;
    s.frames = 30;
    s.pattern = p;
    const auto path = d / ("p" + std::to_string(p) + ".mp4");
    write_synth_clip(path, s);
    bytes.push_back(test::read_file(path));
  }
  bytes.insert(bytes.begin() + 2, std::vector<uint8_t>(1000, 0x42));  // broken, in the middle
  std::vector<VideoInput> inputs;
  for (const auto& b : bytes) inputs.push_back(VideoInput::memory(b));
  const auto par = hash_videos(inputs, cpu_opts(0.25), {}, 3);
  ASSERT_EQ(par.size(), 5u);
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const VpdqResult one = hash_video(inputs[i], cpu_opts(0.25));
    EXPECT_EQ(par[i].ok(), one.ok()) << i;
    EXPECT_EQ(par[i].error_reason, one.error_reason) << i;
    ASSERT_EQ(par[i].frames.size(), one.frames.size()) << i;
    for (std::size_t k = 0; k < one.frames.size(); ++k)
      EXPECT_EQ(par[i].frames[k].hash, one.frames[k].hash);
  }
  EXPECT_FALSE(par[2].ok());
  EXPECT_EQ(par[0].frames.size(), 5u);  // frameMod (int)(0.25 * 30) = 7: frames 0, 7, 14, 21, 28
}

// A 30-frame clip of `width` x 240 (the synthetic pattern, x264) written to `path`.
std::filesystem::path write_short_clip(const std::filesystem::path& path, int width) {
  SynthClipSpec s;
  s.width = width;
  s.height = 240;
  s.frames = 30;
  write_synth_clip(path, s);
  return path;
}

// A sink that holds the decode loop at the video's first frame until released (the video stays
// in flight meanwhile); hashes on the CPU.
class GateSink : public FrameSink {
 public:
  void push_host(const FrameInfo& info, Image&& rgb) override {
    if (!entered_) {
      entered_ = true;
      in_.set_value();
      out_.get_future().wait();
    }
    inner_.push_host(info, std::move(rgb));
  }
  std::vector<VpdqFrame> finish() override { return inner_.finish(); }
  // Waits (up to a minute) for the video to reach its first frame.
  bool wait_entered() {
    return in_.get_future().wait_for(std::chrono::seconds(60)) == std::future_status::ready;
  }
  void release() { out_.set_value(); }

 private:
  CpuPdqSink inner_{1};
  bool entered_ = false;
  std::promise<void> in_, out_;
};

// FFmpeg's core count forced for a scope (av_cpu_force_count; the share and FFmpeg's own choice
// both follow it), restored after.
struct ForcedCores {
  explicit ForcedCores(int n) { av_cpu_force_count(n); }
  ~ForcedCores() { av_cpu_force_count(0); }
};

// Automatic threads (VideoOptions::threads 0): a video hashed alone decodes with FFmpeg's choice
// of threads (a thread per core, at most 16) and one hashing thread at one hash per second; one
// that starts while another is in flight gets its share of the same cores, a power of two, for
// its decoder, and at most that many hashing threads (one at one hash per second, up to 8 for
// every frame), with the same hashes. Explicit threads stay as asked. On this machine's cores and
// on 64 forced ones (where an uncapped share would exceed what FFmpeg gives a video alone).
TEST(VideoThreads, AutomaticThreadsAreSharedBetweenVideosInFlight) {
  test::TempDir d;
  for (const int force : {0, 64}) {
    // A clip of its own per core count: a decoder kept from the other (decoder_pool.h, keyed on
    // the stream and the threads asked for, 0 for automatic) has the other count's threads.
    const auto path = d / ("a" + std::to_string(force) + ".mp4");
    const VideoInput in = VideoInput::file(write_short_clip(path, force ? 352 : 320));
    const ForcedCores forced(force);
    const int cores = av_cpu_count();
    SCOPED_TRACE("cores " + std::to_string(cores));
    VideoOptions o = cpu_opts(0.25);
    o.threads = 0;
    VideoOptions every = o;
    every.seconds_per_hash = 0;

    const VpdqResult alone = hash_video(in, o);
    ASSERT_TRUE(alone.ok()) << alone.error;
    ASSERT_GT(alone.info.decoder_threads, 0);
    EXPECT_LE(alone.info.decoder_threads, 16);
    if (cores > 1) {
      EXPECT_GT(alone.info.decoder_threads, 1);
    }
    EXPECT_EQ(alone.info.hash_threads, 1);

    GateSink gate;
    VpdqResult held;
    std::thread first([&] { held = hash_video(in, o, {}, gate); });
    const bool entered = gate.wait_entered();
    VpdqResult beside, beside_every, explicit3;
    if (entered) {
      beside = hash_video(in, o);
      beside_every = hash_video(in, every);
      VideoOptions three = o;
      three.threads = 3;
      explicit3 = hash_video(in, three);
    }
    gate.release();  // also when never entered: a late first frame does not wait for ever
    first.join();
    ASSERT_TRUE(entered) << "the first video never reached its first frame";
    ASSERT_TRUE(held.ok() && beside.ok() && beside_every.ok() && explicit3.ok())
        << held.error << beside.error << beside_every.error << explicit3.error;
    // Beside one other: half of min(cores, 16), rounded down to a power of two.
    int share = 1;
    while (share * 2 <= std::max(1, std::min(cores, 16) / 2)) share *= 2;
    EXPECT_EQ(held.info.decoder_threads, alone.info.decoder_threads);
    EXPECT_EQ(beside.info.decoder_threads, share);
    EXPECT_LE(beside.info.decoder_threads, alone.info.decoder_threads);
    EXPECT_EQ(beside.info.hash_threads, 1);
    EXPECT_EQ(beside_every.info.decoder_threads, share);
    EXPECT_EQ(beside_every.info.hash_threads, std::min(share, 8));
    EXPECT_EQ(explicit3.info.decoder_threads, 3);
    for (const VpdqResult* r : {&held, &beside, &explicit3}) {
      ASSERT_EQ(r->frames.size(), alone.frames.size());
      for (std::size_t k = 0; k < alone.frames.size(); ++k) {
        EXPECT_EQ(r->frames[k].hash, alone.frames[k].hash) << k;
      }
    }
    // Both done: a video alone has every core again.
    const VpdqResult after = hash_video(in, o);
    ASSERT_TRUE(after.ok()) << after.error;
    EXPECT_EQ(after.info.decoder_threads, alone.info.decoder_threads);
  }
}

// A sink that takes its time: `push_ms` per frame handed over, `finish_ms` in finish().
class SlowSink : public FrameSink {
 public:
  SlowSink(int push_ms, int finish_ms) : push_ms_(push_ms), finish_ms_(finish_ms) {}
  void push_host(const FrameInfo& info, Image&& rgb) override {
    std::this_thread::sleep_for(std::chrono::milliseconds(push_ms_));
    inner_.push_host(info, std::move(rgb));
  }
  std::vector<VpdqFrame> finish() override {
    std::this_thread::sleep_for(std::chrono::milliseconds(finish_ms_));
    return inner_.finish();
  }

 private:
  CpuPdqSink inner_{1};
  int push_ms_, finish_ms_;
};

// VideoInfo::times puts the time where it went: the sink's waits under `sink` and `finish`, the
// decoding and conversion under theirs, and the stages within the total.
TEST(VideoTimes, EachStageGetsItsOwnTime) {
  test::TempDir d;
  SlowSink slow(20, 50);
  const VpdqResult r =
      hash_video(VideoInput::file(write_short_clip(d / "a.mp4", 320)), cpu_opts(0.25), {}, slow);
  ASSERT_TRUE(r.ok()) << r.error;
  ASSERT_EQ(r.frames.size(), 5u);  // frames 0, 7, 14, 21, 28
  const VideoTimes& t = r.info.times;
  EXPECT_GE(t.sink, 5 * 0.020);
  EXPECT_GE(t.finish, 0.050);
  EXPECT_LT(t.finish, t.sink);  // the pushes' sleeps are not counted under finish
  EXPECT_GT(t.open, 0);
  EXPECT_GT(t.decoder, 0);
  EXPECT_GT(t.demux, 0);
  EXPECT_GT(t.decode, 0);
  EXPECT_GT(t.convert, 0);
  EXPECT_EQ(t.copy, 0);  // no NVDEC frame
  EXPECT_LE(t.stages(), t.total);
  EXPECT_GE(t.total, t.sink + t.finish);
}

}  // namespace
}  // namespace hashmatch::video
