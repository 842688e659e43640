// Broken and hostile input: every case ends in a clear error (reason token + message), with the
// frames hashed before the problem where that is useful; never a crash or a hang.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <limits>
#include <random>

#include "host/common/error.h"
#include "host/media/hash_media.h"
#include "kernels/rt/device.h"
#include "tests/testutil/testutil.h"
#include "tests/video/clips.h"
#include "video/ffmpeg_util.h"
#include "video/vpdq.h"

extern "C" {
#include <libavutil/cpu.h>
}

namespace hashmatch::video {
namespace {

using test::clip_dir;
using test::make_clip;

VideoOptions cpu_opts() {
  VideoOptions o;
  o.decoder = "cpu";
  o.threads = 2;
  return o;
}

// H.264 in MP4 with the index first (faststart): a cut file still opens.
const std::filesystem::path& faststart() {
  static const auto p = make_clip(
      clip_dir(), "fs.mp4",
      "-f lavfi -i testsrc2=size=320x240:rate=25 -t 4 -g 25 -c:v libx264 -preset ultrafast "
      "-pix_fmt yuv420p -movflags +faststart");
  return p;
}

std::vector<uint8_t> bytes_of(const std::filesystem::path& p) { return test::read_file(p); }

TEST(VideoBroken, TruncatedAfterTheIndexKeepsTheFramesBefore) {
  ASSERT_FALSE(faststart().empty());
  const auto full = bytes_of(faststart());
  const VpdqResult whole = hash_video(VideoInput::memory(full), cpu_opts());
  ASSERT_TRUE(whole.ok()) << whole.error;
  ASSERT_EQ(whole.frames.size(), 4u);
  const std::vector<uint8_t> cut(full.begin(), full.begin() + full.size() * 55 / 100);
  const VpdqResult r = hash_video(VideoInput::memory(cut), cpu_opts());
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.error_reason, "truncated") << r.error;
  EXPECT_NE(r.error.find("truncated"), std::string::npos) << r.error;
  // The frames before the cut were hashed, and are the same as in the whole file.
  ASSERT_GE(r.frames.size(), 2u);
  EXPECT_LT(r.frames.size(), whole.frames.size());
  for (std::size_t i = 0; i < r.frames.size(); ++i) EXPECT_EQ(r.frames[i].hash, whole.frames[i].hash);
}

// An MP4's frame count is the sum of its time-to-sample (stts) counts; raised by a hand on a
// complete file, it must not make the file 'truncated' (the sample-size table, which the
// demuxer's index follows, says how many frames there are). A cut file still is truncated.
TEST(VideoBroken, InflatedSttsCountIsNotTruncation) {
  ASSERT_FALSE(faststart().empty());
  auto b = bytes_of(faststart());
  const VpdqResult whole = hash_video(VideoInput::memory(b), cpu_opts());
  ASSERT_TRUE(whole.ok()) << whole.error;
  const uint8_t tag[] = {'s', 't', 't', 's'};
  const auto at = std::search(b.begin(), b.end(), std::begin(tag), std::end(tag));
  ASSERT_NE(at, b.end());
  const std::size_t entry = static_cast<std::size_t>(at - b.begin()) + 4 + 4 + 4;  // + flags, count
  ASSERT_EQ(b[entry - 1], 1);  // one entry: 100 frames of one duration (x264, constant rate)
  const uint32_t frames = uint32_t(b[entry]) << 24 | uint32_t(b[entry + 1]) << 16 |
                          uint32_t(b[entry + 2]) << 8 | b[entry + 3];
  ASSERT_EQ(frames, 100u);
  b[entry + 1] = 0x0F;  // 100 -> 983,140
  const VpdqResult r = hash_video(VideoInput::memory(b), cpu_opts());
  EXPECT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.info.frames_decoded, 100);
  ASSERT_EQ(r.frames.size(), whole.frames.size());
  for (std::size_t i = 0; i < r.frames.size(); ++i) EXPECT_EQ(r.frames[i].hash, whole.frames[i].hash);
  const std::vector<uint8_t> cut(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(b.size() * 55 / 100));
  EXPECT_EQ(hash_video(VideoInput::memory(cut), cpu_opts()).error_reason, "truncated");
}

// Keyframes-only reads every packet but decodes the key ones: the cut is found from the packets
// read against the container's frame count, with the key frames before it kept.
TEST(VideoBroken, TruncatedKeyframesOnly) {
  ASSERT_FALSE(faststart().empty());
  const auto full = bytes_of(faststart());
  VideoOptions k = cpu_opts();
  k.keyframes_only = true;
  const VpdqResult whole = hash_video(VideoInput::memory(full), k);
  ASSERT_TRUE(whole.ok()) << whole.error;
  ASSERT_EQ(whole.frames.size(), 4u);
  const std::vector<uint8_t> cut(full.begin(), full.begin() + full.size() * 55 / 100);
  const VpdqResult r = hash_video(VideoInput::memory(cut), k);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.error_reason, "truncated") << r.error;
  ASSERT_GE(r.frames.size(), 1u);
  EXPECT_LT(r.frames.size(), whole.frames.size());
  for (std::size_t i = 0; i < r.frames.size(); ++i) {
    EXPECT_EQ(r.frames[i].frame_number, whole.frames[i].frame_number);
    EXPECT_EQ(r.frames[i].hash, whole.frames[i].hash);
  }
}

TEST(VideoBroken, TruncatedBeforeTheIndex) {
  const auto p = make_clip(clip_dir(), "moov-last.mp4",
                           "-f lavfi -i testsrc2=size=160x120:rate=25 -t 2 -c:v libx264 "
                           "-preset ultrafast");
  ASSERT_FALSE(p.empty());
  auto b = bytes_of(p);
  b.resize(b.size() / 2);  // the index (moov) sits at the end and is gone
  const VpdqResult r = hash_video(VideoInput::memory(b), cpu_opts());
  EXPECT_FALSE(r.ok());
  // FFmpeg cannot read it, and its mdat box runs past the end: an interrupted download.
  EXPECT_EQ(r.error_reason, "truncated") << r.error;
  EXPECT_NE(r.error.find("bytes before the end"), std::string::npos) << r.error;
  EXPECT_TRUE(r.frames.empty());
  // The same bytes with the mdat's size cut down to what is there: no longer a cut box, just an
  // MP4 without an index.
  std::size_t mdat = 0;
  for (std::size_t i = 4; i + 4 <= b.size(); ++i) {
    if (std::memcmp(b.data() + i, "mdat", 4) == 0) {
      mdat = i - 4;
      break;
    }
  }
  ASSERT_GT(mdat, 0u);
  const uint32_t fit = uint32_t(b.size() - mdat);
  for (int i = 0; i < 4; ++i) b[mdat + std::size_t(i)] = uint8_t(fit >> (24 - 8 * i));
  const VpdqResult c = hash_video(VideoInput::memory(b), cpu_opts());
  EXPECT_EQ(c.error_reason, "corrupt") << c.error;
}

TEST(VideoBroken, CorruptPacketInTheMiddle) {
  ASSERT_FALSE(faststart().empty());
  auto b = bytes_of(faststart());
  std::mt19937 rng(11);
  for (std::size_t i = b.size() / 2; i < b.size() / 2 + 3000; ++i) b[i] = uint8_t(rng());
  const VpdqResult r = hash_video(VideoInput::memory(b), cpu_opts());
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.error_reason, "corrupt") << r.error;
  EXPECT_NE(r.error.find("damaged"), std::string::npos) << r.error;
  EXPECT_GT(r.info.decode_errors + r.info.corrupt_frames, 0);
  // Decoding went on past the damage: the frames of every second were hashed.
  EXPECT_EQ(r.frames.size(), 4u);
}

// Frame threads: FFmpeg's per-frame error flags come and go from run to run (a frame can be handed
// out before its thread has concealed the damage); the verdict comes from what the decoder logs.
// The damage differs from CorruptPacketInTheMiddle's on purpose: bytes XORed with non-zero values
// leave every packet decodable (concealment only, no failed packet), where overwriting them makes
// some packets fail to decode, which is counted every time with or without the log.
TEST(VideoBroken, DamageIsFoundEveryTimeWithFrameThreads) {
  ASSERT_FALSE(faststart().empty());
  auto b = bytes_of(faststart());
  std::mt19937 rng(11);
  for (std::size_t i = b.size() / 2; i < b.size() / 2 + 3000; ++i) b[i] ^= uint8_t(rng() | 1);
  VideoOptions o = cpu_opts();
  o.threads = 4;
  for (int run = 0; run < 6; ++run) {
    const VpdqResult r = hash_video(VideoInput::memory(b), o);
    EXPECT_EQ(r.error_reason, "corrupt") << "run " << run << ": " << r.error;
    EXPECT_GT(r.info.logged_errors, 0) << "run " << run;
    EXPECT_NE(r.error.find("FFmpeg reported"), std::string::npos) << r.error;
    EXPECT_EQ(r.frames.size(), 4u) << "run " << run;
  }
}

// Bytes XORed with non-zero values at 12 places over the second half (concealment, few failed
// packets).
void damage_second_half(std::vector<uint8_t>& b) {
  std::mt19937 rng(5);
  for (int k = 0; k < 12; ++k) {
    const std::size_t at = b.size() / 2 + std::size_t(k) * (b.size() / 30);
    for (std::size_t i = at; i < at + 200 && i < b.size(); ++i) b[i] ^= uint8_t(rng() | 1);
  }
}

// HEVC slice data found damaged: FFmpeg's decoder stops writing the picture, says nothing and
// outputs it. The unwritten part was whatever the frame buffer held: a pooled decoder's buffers
// hold the previous video's pictures, so one damaged file hashed 34-120 bits apart after another
// video than alone, and the verdict was `ok`. Now HEVC frame buffers start zeroed and a picture
// whose last block stays zero counts as damaged: the same frames and the same `corrupt` verdict
// alone, after a clean video on the pooled decoder, on one thread or two.
TEST(VideoBroken, DamagedHevcHashesTheSameWhateverTheDecoderDidBefore) {
  const auto clean = make_clip(clip_dir(), "hevc-clean.mp4",
                               "-f lavfi -i testsrc2=size=320x240:rate=25 -t 6 -c:v libx265 "
                               "-x265-params log-level=none");
  const auto other = make_clip(clip_dir(), "hevc-other.mp4",
                               "-f lavfi -i mandelbrot=size=320x240:rate=25 -t 6 -c:v libx265 "
                               "-x265-params log-level=none");
  ASSERT_FALSE(clean.empty());
  ASSERT_FALSE(other.empty());
  const std::vector<uint8_t> b = bytes_of(clean);
  // The IDR picture's NAL unit: the first of type 19 or 20 among mdat's length-prefixed units.
  const auto m = std::search(b.begin(), b.end(), std::begin("mdat"), std::end("mdat") - 1);
  ASSERT_NE(m, b.end());
  std::size_t at = std::size_t(m - b.begin()) + 4, idr = 0, idr_len = 0;
  while (at + 5 <= b.size()) {
    const std::size_t len = std::size_t(b[at]) << 24 | std::size_t(b[at + 1]) << 16 |
                            std::size_t(b[at + 2]) << 8 | std::size_t(b[at + 3]);
    const int type = (b[at + 4] >> 1) & 0x3f;
    if (type == 19 || type == 20) {
      idr = at + 4;
      idr_len = len;
      break;
    }
    at += 4 + len;
  }
  ASSERT_GT(idr_len, 100u) << "no IDR picture found";
  VideoOptions one = cpu_opts();
  one.threads = 1;
  // The first damage (one byte flipped, 5 % to 95 % into the picture) the decoder stops at.
  std::vector<uint8_t> damaged;
  VpdqResult alone;
  for (int pct = 5; pct <= 95 && damaged.empty(); ++pct) {
    std::vector<uint8_t> c = b;
    c[idr + idr_len * std::size_t(pct) / 100] ^= 0xFF;
    const VpdqResult r = hash_video(VideoInput::memory(c), one);
    if (r.error_reason == "corrupt") {
      damaged = c;
      alone = r;
    }
  }
  ASSERT_FALSE(damaged.empty()) << "no flipped byte in the IDR picture was told as damage";
  EXPECT_NE(alone.error.find("concealed"), std::string::npos) << alone.error;
  ASSERT_FALSE(alone.frames.empty());
  for (const auto& before : {clean, other}) {
    for (const int threads : {1, 2}) {
      VideoOptions o = cpu_opts();
      o.threads = threads;
      ASSERT_TRUE(hash_video(VideoInput::file(before), o).ok());  // the decoder goes to the pool
      const VpdqResult after = hash_video(VideoInput::memory(damaged), o);
      test::expect_same_outcome(
          after, alone,
          "after " + before.filename().string() + " on " + std::to_string(threads) + " thread(s)");
    }
  }
}

// Frame threads conceal damage differently from run to run (the concealment draws on pictures the
// other threads may not have finished): a damaged stream decoded with them is decoded again on
// one thread, so its hashes are the same every time and the same as with one thread. A clean
// stream keeps its threads.
TEST(VideoBroken, DamagedStreamHashesTheSameEveryTimeWhateverTheThreads) {
  ASSERT_FALSE(faststart().empty());
  auto b = bytes_of(faststart());
  damage_second_half(b);
  VideoOptions o = cpu_opts();
  o.seconds_per_hash = 0;  // every frame
  o.threads = 1;
  const VpdqResult one = hash_video(VideoInput::memory(b), o);
  ASSERT_GT(one.info.logged_errors + one.info.decode_errors + one.info.corrupt_frames, 0)
      << "the damage went unseen: " << one.error;
  ASSERT_GT(one.frames.size(), 50u) << one.error;
  EXPECT_EQ(one.info.note.find("decoded again"), std::string::npos) << one.info.note;
  for (const int threads : {4, 0}) {
    o.threads = threads;
    for (int run = 0; run < 4; ++run) {
      const VpdqResult r = hash_video(VideoInput::memory(b), o);
      EXPECT_EQ(r.error_reason, one.error_reason) << r.error;
      // Automatic threads on a one-core machine are one thread already: decoded once.
      if (threads != 0 || av_cpu_count() > 1) {
        EXPECT_NE(r.info.note.find("damaged stream: decoded again on one thread"),
                  std::string::npos)
            << threads << " threads: " << r.info.note;
      }
      EXPECT_EQ(r.info.decoder_threads, 1);
      test::expect_same_outcome(
          r, one,
          std::to_string(threads) + " threads, run " + std::to_string(run) + " against one thread");
    }
  }
  // A clean stream keeps its frame threads and is decoded once.
  o.threads = 4;
  const VpdqResult clean = hash_video(VideoInput::file(faststart()), o);
  EXPECT_TRUE(clean.ok()) << clean.error;
  EXPECT_EQ(clean.info.decoder_threads, 4);
  EXPECT_EQ(clean.info.note.find("decoded again"), std::string::npos) << clean.info.note;
}

// Where the video packet `index` (in file order) of `p` lies in the file: {offset, size}.
std::pair<int64_t, int> video_packet_span(const std::filesystem::path& p, int index) {
  ff::Demuxer d(std::make_unique<ff::FileSource>(p.string()),
                ff::Demuxer::Clock::now() + std::chrono::seconds(60));
  EXPECT_GE(d.open(true), 0);
  AVFormatContext* fmt = d.get();
  const int vi = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
  ff::PacketPtr pkt = ff::make_packet();
  int n = 0;
  while (vi >= 0 && av_read_frame(fmt, pkt.get()) >= 0) {
    const bool hit = pkt->stream_index == vi && n++ == index;
    const std::pair<int64_t, int> span{pkt->pos, pkt->size};
    av_packet_unref(pkt.get());
    if (hit) return span;
  }
  return {-1, 0};
}

// Damage among the first packets: under frame threads its errors are logged before the first
// frame comes out (that takes a packet per thread), and what a decoder logs before its first frame
// is not counted as damage. Decoded with 8 threads, this clip told its damage only by a frame's
// corrupt flag ("1 frame(s) concealed"; frame threads set it or not as their timing has it), with
// other hashes than one thread's. Errors logged before the first frame but after the first key
// packet now send it to a second pass on one thread too, where the first frame comes out first
// and the damage tells, every time (it fails without the second pass).
TEST(VideoBroken, DamageInTheFirstPacketsIsFoundUnderFrameThreads) {
  ASSERT_FALSE(faststart().empty());
  const auto [at, size] = video_packet_span(faststart(), 1);  // the second picture
  ASSERT_GE(at, 0);
  ASSERT_GT(size, 100);
  auto b = bytes_of(faststart());
  std::mt19937 rng(3);
  // Its top rows: the thread decoding it meets the damage while the first picture's thread is
  // still at work, before the first frame can come out.
  for (int64_t i = at + 16; i < at + 48; ++i) b[std::size_t(i)] ^= uint8_t(rng() | 1);
  VideoOptions o = cpu_opts();
  o.threads = 1;
  const VpdqResult one = hash_video(VideoInput::memory(b), o);
  ASSERT_EQ(one.error_reason, "corrupt") << one.error;
  o.threads = 8;
  for (int run = 0; run < 4; ++run) {
    const VpdqResult r = hash_video(VideoInput::memory(b), o);
    test::expect_same_outcome(r, one, "8 threads, run " + std::to_string(run) + " against one");
  }
}

// What a decoder logs at error level is damage once it has given its first frame (counting).
// Before that it is set aside from the first key packet on (armed: under threads, a reason for a
// second pass on one thread, where a damaged packet among the first few logs after the first
// frame every time), and ignored before the first key packet (a cut stream's leading packets).
TEST(VideoBroken, DecoderLogIgnoresSetsAsideOrCounts) {
  ff::init_logging();
  ff::CodecPtr ctx(avcodec_alloc_context3(avcodec_find_decoder(AV_CODEC_ID_H264)));
  ASSERT_TRUE(ctx);
  ff::DecoderLog log;
  log.attach(ctx.get());
  av_log(ctx.get(), AV_LOG_ERROR, "before the first key packet\n");
  EXPECT_EQ(log.uncounted.load(), 0);
  EXPECT_EQ(log.errors.load(), 0);
  log.armed = true;
  av_log(ctx.get(), AV_LOG_ERROR, "after the first key packet\n");
  av_log(ctx.get(), AV_LOG_WARNING, "a warning is never counted\n");
  EXPECT_EQ(log.uncounted.load(), 1);
  EXPECT_EQ(log.errors.load(), 0);
  log.counting = true;
  av_log(ctx.get(), AV_LOG_ERROR, "after the first frame\n");
  EXPECT_EQ(log.uncounted.load(), 1);
  EXPECT_EQ(log.errors.load(), 1);
  EXPECT_EQ(log.first_message(), "after the first frame");
  ff::DecoderLog::detach(ctx.get());
}

// A clean stream cut at an open-GOP key frame (stream copy from a point in the middle) starts
// with leading pictures whose references were cut away; under frame threads FFmpeg's H.264
// decoder logs errors for them before its first frame. That is a cut, not damage: the video is
// decoded once, with its threads (it was decoded again on one thread, "damaged stream").
TEST(VideoBroken, CleanStreamCutAtAnOpenGopKeyFrameIsDecodedOnce) {
  const auto whole = make_clip(clip_dir(), "open-gop-whole.mp4",
                               "-f lavfi -i testsrc2=size=320x240:rate=25 -t 10 -c:v libx264 "
                               "-preset veryfast -bf 3 -g 50 -x264-params open-gop=1");
  ASSERT_FALSE(whole.empty());
  const auto cut =
      make_clip(clip_dir(), "open-gop-cut.mp4", "-ss 3 -i '" + whole.string() + "' -c copy");
  ASSERT_FALSE(cut.empty());
  VideoOptions o = cpu_opts();
  o.threads = 1;
  const VpdqResult one = hash_video(VideoInput::file(cut), o);
  ASSERT_TRUE(one.ok()) << one.error;
  o.threads = 2;
  for (int run = 0; run < 3; ++run) {
    const VpdqResult r = hash_video(VideoInput::file(cut), o);
    EXPECT_TRUE(r.ok()) << r.error;
    EXPECT_EQ(r.info.note, "") << "run " << run;
    EXPECT_EQ(r.info.decoder_threads, 2) << "run " << run;
    test::expect_same_result(r, one, "2 threads against one, run " + std::to_string(run));
  }
}

// The one-thread pass may take the first pass's time times its threads: where that does not fit
// in what is left of the budget, the first pass's whole result stays, and its note says so (a
// pass cut short by the budget would keep only part of the frames).
TEST(VideoBroken, NoOneThreadPassWithoutTheTimeForIt) {
  ASSERT_FALSE(faststart().empty());
  auto b = bytes_of(faststart());
  damage_second_half(b);
  VideoOptions o = cpu_opts();
  o.seconds_per_hash = 0;
  o.threads = 8;
  const VpdqResult full = hash_video(VideoInput::memory(b), o);  // decoded twice, as above
  ASSERT_EQ(full.error_reason, "corrupt") << full.error;
  // Each pass's time, from the full run: the budget holds the first pass four times over, and
  // the one-thread pass would need ten times it (1.25 x 8 threads).
  VideoOptions one_pass = o;
  one_pass.threads = 1;
  const double t1 = std::max(hash_video(VideoInput::memory(b), one_pass).info.times.total, 0.01);
  o.time_budget_seconds = 4 * t1;
  const VpdqResult r = hash_video(VideoInput::memory(b), o);
  EXPECT_EQ(r.error_reason, "corrupt") << r.error;
  EXPECT_NE(r.info.note.find("not again on one (too little of the time budget left)"),
            std::string::npos)
      << r.info.note;
  EXPECT_EQ(r.info.decoder_threads, 8);
  EXPECT_EQ(r.frames.size(), full.frames.size());
}

// Keyframes-only decodes the key frames of an open-GOP stream with slice threads (from its second
// key frame, or from the start on a decoder kept from an earlier video of the stream), and on a
// damaged stream of several slices per picture their concealment changes with the slice thread
// count (2, 3 and 4 threads gave three different outputs): decoded again on one thread, every
// count gives one thread's frames.
TEST(VideoBroken, DamagedKeyFramesHashTheSameWhateverTheSliceThreads) {
  const auto clip = make_clip(clip_dir(), "slices-open-gop.mp4",
                              "-f lavfi -i testsrc2=size=320x240:rate=25 -t 4 -g 5 -c:v libx264 "
                              "-preset veryfast -x264-params slices=4:open-gop=1:keyint-min=5 "
                              "-pix_fmt yuv420p -movflags +faststart");
  ASSERT_FALSE(clip.empty());
  auto b = bytes_of(clip);
  damage_second_half(b);
  VideoOptions o = cpu_opts();
  o.keyframes_only = true;
  o.threads = 1;
  const VpdqResult one = hash_video(VideoInput::memory(b), o);
  ASSERT_GT(one.info.logged_errors + one.info.decode_errors + one.info.corrupt_frames, 0)
      << "the damage went unseen: " << one.error;
  ASSERT_GT(one.frames.size(), 10u) << one.error;
  for (const int threads : {2, 3, 4}) {
    o.threads = threads;
    // The clean clip first: its decoder switches to slice threads and is kept (decoder pool), so
    // the damaged one, of the same stream parameters, is decoded with slice threads from the start.
    ASSERT_TRUE(hash_video(VideoInput::file(clip), o).ok());
    const VpdqResult r = hash_video(VideoInput::memory(b), o);
    EXPECT_NE(r.info.note.find("damaged stream: decoded again on one thread"), std::string::npos)
        << threads << " threads: " << r.info.note;
    test::expect_same_outcome(r, one, std::to_string(threads) + " threads against one");
  }
}

// A slice near the end that refers to a parameter set that does not exist: the drain at the end
// gives the error of that frame, then the frames after it. The frames decoded (and hashed) must
// not depend on the decoder's thread count (under frame threads the drain stopped at the error,
// and the frames still in the other threads were lost: 94 of 99 with 8 threads).
TEST(VideoBroken, FramesAfterAFailedOneInTheDrainAreKept) {
  const auto es = make_clip(clip_dir(), "drain.h264",
                            "-f lavfi -i testsrc2=size=320x240:rate=25 -frames:v 100 -g 250 "
                            "-c:v libx264 -preset ultrafast -bsf:v h264_mp4toannexb");
  ASSERT_FALSE(es.empty());
  std::vector<uint8_t> b = bytes_of(es);
  std::vector<std::size_t> slices;  // the byte after each slice NAL's header
  for (std::size_t i = 0; i + 4 < b.size(); ++i) {
    if (b[i] == 0 && b[i + 1] == 0 && b[i + 2] == 1) {
      const int type = b[i + 3] & 0x1F;
      if (type == 1 || type == 5) slices.push_back(i + 4);
    }
  }
  ASSERT_EQ(slices.size(), 100u);
  b[slices[slices.size() - 6]] = 0xCC;  // first_mb 0, a P slice, PPS id 5 (none)
  test::TempDir d;
  test::write_file(d / "bad.h264", b);
  const auto mkv = make_clip(d.path(), "bad.mkv", "-i " + (d / "bad.h264").string() + " -c copy");
  ASSERT_FALSE(mkv.empty());
  VideoOptions o = cpu_opts();
  o.seconds_per_hash = 0;  // every frame
  for (const int threads : {1, 3, 8}) {
    o.threads = threads;
    const VpdqResult r = hash_video(VideoInput::file(mkv), o);
    EXPECT_EQ(r.error_reason, "corrupt") << threads << ": " << r.error;
    EXPECT_EQ(r.info.frames_decoded, 99) << threads << " threads";
    EXPECT_EQ(r.frames.size(), 99u) << threads << " threads";
  }
}

// Damage in a Matroska cluster's header: the demuxer skips the cluster, its frames are simply gone
// and the decoder has nothing to complain about; the demuxer's error tells it.
TEST(VideoBroken, DamagedMatroskaClusterIsFoundFromTheDemuxer) {
  const auto p = make_clip(clip_dir(), "hv.mkv",
                           "-f lavfi -i testsrc2=size=160x120:rate=25 -t 4 -c:v libx265 -preset "
                           "ultrafast -x265-params keyint=25:log-level=error");
  ASSERT_FALSE(p.empty());
  auto b = bytes_of(p);
  const uint8_t cluster[4] = {0x1f, 0x43, 0xb6, 0x75};
  std::vector<std::size_t> at;
  for (std::size_t i = 0; i + 4 <= b.size(); ++i) {
    if (std::equal(cluster, cluster + 4, b.begin() + static_cast<std::ptrdiff_t>(i))) at.push_back(i);
  }
  ASSERT_GE(at.size(), 3u);
  std::mt19937 rng(7);
  for (std::size_t i = at[1] + 8; i < at[1] + 608 && i < b.size(); ++i) b[i] = uint8_t(rng());
  for (int threads : {1, 4}) {
    VideoOptions o = cpu_opts();
    o.threads = threads;
    const VpdqResult r = hash_video(VideoInput::memory(b), o);
    EXPECT_EQ(r.error_reason, "corrupt") << threads << " threads: " << r.error;
    EXPECT_GT(r.info.logged_errors, 0);
    EXPECT_GT(r.frames.size(), 0u);
  }
}

// Files written as a stream (to a pipe, a live recording): a fragmented MP4 or a Matroska/WebM
// Segment of unknown size declares no length of its own. Cut short, the demuxer finds an element
// or a sample running past the end ("partial file", "File ended prematurely"): truncated, with
// the frames before the cut, however many, and whatever the decoder made of the cut packet. The
// same file damaged in the middle before the cut is corrupt: damage came first.
TEST(VideoBroken, TruncatedStreamWrittenFiles) {
  const std::string src = "-f lavfi -i testsrc2=size=160x120:rate=25 -t 4 ";
  const std::string x264 = "-c:v libx264 -preset ultrafast -g 25 ";
  struct Case {
    const char* name;
    std::string args;
  };
  for (const Case& c :
       {Case{"frag.mp4", src + x264 + "-movflags frag_keyframe+empty_moov -f mp4 pipe:1 | cat >"},
        Case{"live.mkv", src + x264 + "-f matroska pipe:1 | cat >"},
        Case{"live.webm", src + "-c:v libvpx-vp9 -deadline realtime -cpu-used 8 -g 25 "
                                "-f webm pipe:1 | cat >"}}) {
    const auto p = make_clip(clip_dir(), c.name, c.args);
    ASSERT_FALSE(p.empty()) << c.name;
    const auto full = bytes_of(p);
    const VpdqResult whole = hash_video(VideoInput::memory(full), cpu_opts());
    ASSERT_TRUE(whole.ok()) << c.name << ": " << whole.error;
    ASSERT_EQ(whole.frames.size(), 4u) << c.name;
    for (const int percent : {37, 62, 81}) {
      const std::string what = std::string(c.name) + " cut at " + std::to_string(percent) + " %";
      const std::vector<uint8_t> cut(full.begin(), full.begin() + std::ptrdiff_t(full.size() * percent / 100));
      const VpdqResult r = hash_video(VideoInput::memory(cut), cpu_opts());
      EXPECT_EQ(r.error_reason, "truncated") << what << ": " << r.error;
      // The demuxer's word, or for the MP4 its last box running past the end.
      const bool mp4 = std::string(c.name) == "frag.mp4";
      EXPECT_NE(r.error.find(mp4 ? "bytes before the end" : "ends early"), std::string::npos)
          << what << ": " << r.error;
      ASSERT_GE(r.frames.size(), 1u) << what;
      EXPECT_LT(r.info.frames_decoded, whole.info.frames_decoded) << what;
      for (std::size_t i = 0; i < r.frames.size(); ++i) EXPECT_EQ(r.frames[i].hash, whole.frames[i].hash) << what;
    }
    std::vector<uint8_t> damaged = full;
    std::mt19937 rng(11);
    for (std::size_t i = full.size() * 30 / 100; i < full.size() * 30 / 100 + 400; ++i) damaged[i] = uint8_t(rng());
    const VpdqResult dw = hash_video(VideoInput::memory(damaged), cpu_opts());
    EXPECT_EQ(dw.error_reason, "corrupt") << c.name << " damaged: " << dw.error;
    // Damaged, then cut: without a declared length the damage came first and tells (the
    // demuxer's word on the end alone does not make it a truncation); the MP4's boxes declare
    // their length, which tells the cut, as for a Matroska or AVI file that declares its size.
    damaged.resize(full.size() * 81 / 100);
    const VpdqResult d = hash_video(VideoInput::memory(damaged), cpu_opts());
    EXPECT_EQ(d.error_reason, std::string(c.name) == "frag.mp4" ? "truncated" : "corrupt")
        << c.name << " damaged, then cut: " << d.error;
  }
}

// A stream-copy trim (`ffmpeg -ss 1.3 -c copy`): the MP4 keeps the packets from the key frame
// before the cut and an edit list that makes the decoder drop them. Fewer frames come out than the
// container lists, all of them read: not truncated.
TEST(VideoBroken, EditListTrimIsNotTruncated) {
  const auto src = make_clip(clip_dir(), "g50.mp4",
                             "-f lavfi -i testsrc2=size=160x120:rate=25 -t 6 -c:v libx264 -preset "
                             "ultrafast -g 50 -keyint_min 50 -sc_threshold 0 -bf 2");
  ASSERT_FALSE(src.empty());
  const auto cut = make_clip(clip_dir(), "trim.mp4", "-ss 1.3 -i " + src.string() + " -c copy");
  ASSERT_FALSE(cut.empty());
  const VpdqResult r = hash_video(VideoInput::file(cut), cpu_opts());
  EXPECT_TRUE(r.ok()) << r.error_reason << ": " << r.error;
  EXPECT_GT(r.frames.size(), 3u);
  EXPECT_EQ(r.frames.front().frame_number, 0);
}

// Matroska and WebM have no frame count; their Segment's size says where the file should end. An
// FLV written to a file says it in its onMetaData (`filesize`); one written to a pipe does not,
// and is not judged by it.
TEST(VideoBroken, TruncatedMatroskaWebmAndFlv) {
  struct Case {
    const char* name;
    const char* codec;
  };
  for (const Case& c : {Case{"t.mkv", "-c:v libx264 -preset ultrafast -g 25"},
                        Case{"t.webm", "-c:v libvpx-vp9 -deadline realtime -cpu-used 8 -g 25"},
                        Case{"t.flv", "-c:v libx264 -preset ultrafast -g 25"}}) {
    const auto p = make_clip(clip_dir(), c.name,
                             std::string("-f lavfi -i testsrc2=size=160x120:rate=25 -t 4 ") + c.codec);
    ASSERT_FALSE(p.empty()) << c.name;
    const auto full = bytes_of(p);
    const VpdqResult whole = hash_video(VideoInput::memory(full), cpu_opts());
    ASSERT_TRUE(whole.ok()) << c.name << ": " << whole.error;
    ASSERT_EQ(whole.frames.size(), 4u) << c.name;
    const std::vector<uint8_t> cut(full.begin(), full.begin() + std::ptrdiff_t(full.size() * 6 / 10));
    const VpdqResult r = hash_video(VideoInput::memory(cut), cpu_opts());
    EXPECT_EQ(r.error_reason, "truncated") << c.name << ": " << r.error;
    EXPECT_NE(r.error.find("bytes before the end"), std::string::npos) << r.error;
    ASSERT_GE(r.frames.size(), 1u) << c.name;
    EXPECT_LT(r.frames.size(), whole.frames.size()) << c.name;
    for (std::size_t i = 0; i < r.frames.size(); ++i) EXPECT_EQ(r.frames[i].hash, whole.frames[i].hash);
    // The same file with a few bytes appended is whole.
    std::vector<uint8_t> longer = full;
    longer.resize(full.size() + 100, 0);
    EXPECT_TRUE(hash_video(VideoInput::memory(longer), cpu_opts()).ok()) << c.name;
  }
}

// An AVI's first RIFF chunk says how long it is: a file shorter than that by more than a writer's
// rounding (8 bytes: the RIFF header counted in its own size, a missing pad byte) was cut.
TEST(VideoBroken, AviShorterThanItsRiffSizeIsTruncated) {
  const auto p = make_clip(clip_dir(), "riff.avi",
                           "-f lavfi -i testsrc2=size=160x120:rate=25 -t 2 -c:v mpeg4");
  ASSERT_FALSE(p.empty());
  const auto b = bytes_of(p);
  ASSERT_GE(b.size(), 12u);
  auto with_riff_size = [&](uint32_t riff) {
    std::vector<uint8_t> c = b;
    for (int i = 0; i < 4; ++i) c[4 + std::size_t(i)] = uint8_t(riff >> (8 * i));
    return hash_video(VideoInput::memory(c), cpu_opts());
  };
  const uint32_t exact = uint32_t(b.size() - 8);
  EXPECT_TRUE(with_riff_size(exact).ok());
  const VpdqResult over8 = with_riff_size(exact + 8);
  EXPECT_TRUE(over8.ok()) << over8.error;
  const VpdqResult cut = with_riff_size(exact + 100000);
  EXPECT_EQ(cut.error_reason, "truncated") << cut.error;
  EXPECT_EQ(cut.frames.size(), 2u);  // every frame there was hashed
}

// An AVI's frame count includes the empty chunks written for dropped frames and for a video that
// starts after the audio; the demuxer returns none of them. Such whole files were `truncated`
// ("the container lists 125 frames but only 100 could be read"); a cut one still is.
TEST(VideoBroken, AviWithEmptyChunksIsWhole) {
  const auto gap = make_clip(clip_dir(), "gap.avi",
                             "-f lavfi -i testsrc2=size=160x120:rate=25:d=4 -vf "
                             "\"setpts='PTS+if(gt(N,50),25,0)'\" -fps_mode passthrough -c:v mjpeg");
  const auto late = make_clip(clip_dir(), "late.avi",
                              "-f lavfi -i sine=d=5 -itsoffset 0.5 -f lavfi -i "
                              "testsrc2=size=160x120:rate=25:d=4 -map 0 -map 1 -c:v mpeg4 -c:a "
                              "libmp3lame");
  ASSERT_FALSE(gap.empty());
  ASSERT_FALSE(late.empty());
  for (const auto& p : {gap, late}) {
    const VpdqResult r = hash_video(VideoInput::file(p), cpu_opts());
    EXPECT_TRUE(r.ok()) << p.filename() << ": " << r.error;
    EXPECT_EQ(r.info.frames_decoded, 100) << p.filename();
    EXPECT_EQ(r.frames.size(), 4u) << p.filename();
    std::vector<uint8_t> b = bytes_of(p);
    b.resize(b.size() / 2);
    const VpdqResult cut = hash_video(VideoInput::memory(b), cpu_opts());
    EXPECT_EQ(cut.error_reason, "truncated") << p.filename() << ": " << cut.error;
  }
}

// Matroska's segment duration and an MP4's movie duration run from time 0: a 4-s clip whose
// timestamps start at 100,000 s (a capture remuxed with its clock) was "video of 100004 s" and
// refused as too long, and one starting at 3,600 s said "duration": 3604. The length is what is
// checked and said; a long one is still refused before decoding.
TEST(VideoBroken, TimestampsStartingLateAreNotTheLength) {
  for (const char* name : {"late100k.mkv", "late100k.mp4", "late3600.webm", "late3600.ts"}) {
    const std::string n = name;
    const std::string offset = n.find("100k") != std::string::npos ? "100000" : "3600";
    const std::string codec = n.find("webm") != std::string::npos
                                  ? "-c:v libvpx -deadline realtime"
                                  : "-c:v libx264 -preset ultrafast";
    const auto p = make_clip(
        clip_dir(), name,
        "-f lavfi -i testsrc2=size=160x120:rate=25 -t 4 " + codec + " -output_ts_offset " + offset);
    ASSERT_FALSE(p.empty()) << name;
    const VpdqResult r = hash_video(VideoInput::file(p), cpu_opts());  // limit: 86,400 s
    EXPECT_TRUE(r.ok()) << name << ": " << r.error;
    EXPECT_NEAR(r.info.duration_seconds, 4.0, 0.1) << name;
    EXPECT_EQ(r.frames.size(), 4u) << name;
    VideoOptions o = cpu_opts();
    o.max_duration_seconds = 2;
    const VpdqResult limited = hash_video(VideoInput::file(p), o);
    EXPECT_EQ(limited.error_reason, "too_long") << name << ": " << limited.error;
  }
}

// Where each frame of an IVF file starts: a 32-byte file header, then per frame a 12-byte header
// (size, timestamp) and its data.
std::vector<std::size_t> ivf_frame_offsets(const std::vector<uint8_t>& b) {
  std::vector<std::size_t> out;
  std::size_t at = 32;
  while (at + 12 <= b.size()) {
    out.push_back(at);
    at += 12 + (std::size_t(b[at]) | std::size_t(b[at + 1]) << 8 | std::size_t(b[at + 2]) << 16 |
                std::size_t(b[at + 3]) << 24);
  }
  return out;
}

void set_le32(std::vector<uint8_t>& b, std::size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) b[at + std::size_t(i)] = uint8_t(v >> (8 * i));
}

// An IVF header gives the stream's length (a frame count from libvpx's writers, a duration in
// time-base units from FFmpeg's): a file cut at a frame boundary, which the demuxer cannot see, is
// truncated. One written to a pipe (length all ones) has no length: neither too long nor cut.
TEST(VideoBroken, TruncatedIvf) {
  for (const std::string tb : {"25", "1000"}) {
    const auto p = make_clip(clip_dir(), "tb" + tb + ".ivf",
                             "-f lavfi -i testsrc2=size=160x120:rate=25 -t 4 -c:v libvpx-vp9 "
                             "-deadline realtime -cpu-used 8 -g 25 -fps_mode passthrough -enc_time_base 1:" + tb);
    ASSERT_FALSE(p.empty()) << tb;
    const auto full = bytes_of(p);
    const auto offsets = ivf_frame_offsets(full);
    ASSERT_EQ(offsets.size(), 100u) << tb;
    const VpdqResult whole = hash_video(VideoInput::memory(full), cpu_opts());
    ASSERT_TRUE(whole.ok()) << tb << ": " << whole.error;
    ASSERT_EQ(whole.frames.size(), 4u);
    EXPECT_NEAR(whole.info.duration_seconds, 4.0, 0.05) << tb;

    const std::vector<uint8_t> cut(full.begin(), full.begin() + std::ptrdiff_t(offsets[50]));
    const VpdqResult r = hash_video(VideoInput::memory(cut), cpu_opts());
    EXPECT_EQ(r.error_reason, "truncated") << tb << ": " << r.error;
    EXPECT_NE(r.error.find("IVF header"), std::string::npos) << r.error;
    ASSERT_EQ(r.frames.size(), 2u) << tb;
    for (std::size_t i = 0; i < r.frames.size(); ++i) EXPECT_EQ(r.frames[i].hash, whole.frames[i].hash);

    // The length field read as a frame count: the whole file is complete.
    std::vector<uint8_t> counted = full;
    set_le32(counted, 24, 100);
    const VpdqResult c = hash_video(VideoInput::memory(counted), cpu_opts());
    EXPECT_TRUE(c.ok()) << tb << ": " << c.error;
    if (tb == "25") {  // with one tick a frame the two readings agree
      const std::vector<uint8_t> ccut(counted.begin(), counted.begin() + std::ptrdiff_t(offsets[80]));
      EXPECT_EQ(hash_video(VideoInput::memory(ccut), cpu_opts()).error_reason, "truncated");
    }

    std::vector<uint8_t> piped = full;
    set_le32(piped, 24, 0xFFFFFFFFu);
    set_le32(piped, 28, 0xFFFFFFFFu);
    const VpdqResult pw = hash_video(VideoInput::memory(piped), cpu_opts());
    ASSERT_TRUE(pw.ok()) << tb << ": " << pw.error;
    EXPECT_EQ(pw.frames.size(), 4u);
    EXPECT_EQ(pw.info.duration_seconds, 0.0);
    piped.resize(offsets[50]);
    const VpdqResult pc = hash_video(VideoInput::memory(piped), cpu_opts());
    EXPECT_TRUE(pc.ok()) << tb << ": " << pc.error;
    EXPECT_EQ(pc.frames.size(), 2u);
  }
}

// An AVI written to a pipe: FFmpeg cannot seek back to fill its header in, so the RIFF size is
// all ones and the frame count a placeholder (2^30). Neither truncated nor too long: the same
// frames as the same AVI written to a file.
TEST(VideoBroken, AviWrittenToAPipeIsWhole) {
  const std::string src = "-f lavfi -i testsrc2=size=160x120:rate=25 -t 3 -c:v mpeg4 -g 25 ";
  const auto file = make_clip(clip_dir(), "file.avi", src);
  // make_clip appends the output path: here it follows the shell's redirection.
  const auto piped = make_clip(clip_dir(), "piped.avi", src + "-f avi pipe:1 | cat >");
  ASSERT_FALSE(file.empty() || piped.empty());
  const auto b = bytes_of(piped);
  ASSERT_GE(b.size(), 8u);
  ASSERT_EQ(std::vector<uint8_t>(b.begin() + 4, b.begin() + 8), std::vector<uint8_t>(4, 0xFF));
  const VpdqResult f = hash_video(VideoInput::memory(bytes_of(file)), cpu_opts());
  const VpdqResult p = hash_video(VideoInput::memory(b), cpu_opts());
  test::expect_same_result(p, f, "piped AVI");
  EXPECT_EQ(p.frames.size(), 3u);
  EXPECT_EQ(p.info.duration_seconds, 0.0);  // unknown
}

// The picture size grows past the pixel limit mid-stream (MPEG-TS pieces joined): the decoder
// refuses the larger frames itself; that is reported as the limit, not as damage.
TEST(VideoBroken, PictureSizeGrowingPastTheLimitMidStream) {
  const auto small = make_clip(clip_dir(), "small.ts",
                               "-f lavfi -i testsrc2=size=320x240:rate=25 -t 2 -g 25 -c:v libx264 "
                               "-preset ultrafast");
  const auto big = make_clip(clip_dir(), "big.ts",
                             "-f lavfi -i testsrc2=size=640x360:rate=25 -t 2 -g 25 -c:v libx264 "
                             "-preset ultrafast");
  ASSERT_FALSE(small.empty());
  ASSERT_FALSE(big.empty());
  std::vector<uint8_t> joined = bytes_of(small);
  const auto b = bytes_of(big);
  joined.insert(joined.end(), b.begin(), b.end());
  DecodeLimits limits;
  limits.max_pixels = 100000;  // 320 x 240 passes, 640 x 360 does not
  const VpdqResult r = hash_video(VideoInput::memory(joined), cpu_opts(), limits);
  EXPECT_EQ(r.error_reason, "too_many_pixels") << r.error;
  EXPECT_EQ(r.frames.size(), 2u);  // the small piece's frames 0 and 25
}

TEST(VideoBroken, AudioOnly) {
  const auto p = make_clip(clip_dir(), "audio.mp4", "-f lavfi -i sine=d=1 -c:a aac");
  ASSERT_FALSE(p.empty());
  const VpdqResult r = hash_video(VideoInput::file(p), cpu_opts());
  EXPECT_EQ(r.error_reason, "no_video") << r.error;
  EXPECT_NE(r.error.find("no video stream"), std::string::npos);
}

TEST(VideoBroken, ZeroLengthAndMissing) {
  test::TempDir d;
  const auto empty = d / "empty.mp4";
  test::write_file(empty, {});
  EXPECT_EQ(hash_video(VideoInput::file(empty), cpu_opts()).error_reason, "empty");
  EXPECT_EQ(hash_video(VideoInput::memory({}), cpu_opts()).error_reason, "empty");
  const VpdqResult r = hash_video(VideoInput::file(d / "nope.mp4"), cpu_opts());
  EXPECT_EQ(r.error_reason, "io");
  EXPECT_NE(r.error.find("nope.mp4"), std::string::npos);
}

TEST(VideoBroken, GarbageAndNonVideoBytes) {
  std::mt19937 rng(5);
  for (std::size_t n : {1u, 16u, 100u, 5000u, 200000u}) {
    std::vector<uint8_t> b(n);
    for (auto& x : b) x = uint8_t(rng());
    const VpdqResult r = hash_video(VideoInput::memory(b), cpu_opts());
    EXPECT_FALSE(r.ok()) << n;
    EXPECT_FALSE(r.error.empty());
  }
  // A fake MP4 header followed by junk.
  std::vector<uint8_t> fake = {0, 0, 0, 0x18, 'f', 't', 'y', 'p', 'i', 's', 'o', 'm'};
  fake.resize(4096, 0xAB);
  const VpdqResult r = hash_video(VideoInput::memory(fake), cpu_opts());
  EXPECT_FALSE(r.ok());
}

TEST(VideoBroken, AbsurdDimensionsRefusedFromTheHeader) {
  // Raw YUV4MPEG2 streams claiming 12000 x 12000 (over the 100 M pixel limit) and 60000 x 60000
  // pixels per frame (FFmpeg itself refuses that size).
  auto y4m = [](int side) {
    const std::string hdr = "YUV4MPEG2 W" + std::to_string(side) + " H" + std::to_string(side) +
                            " F25:1 Ip A1:1 C420jpeg\nFRAME\n";
    std::vector<uint8_t> b(hdr.begin(), hdr.end());
    b.resize(b.size() + 100000, 0x80);
    return b;
  };
  const auto b = y4m(12000);
  const VpdqResult r = hash_video(VideoInput::memory(b), cpu_opts());
  EXPECT_EQ(r.error_reason, "too_many_pixels") << r.error;
  EXPECT_EQ(r.info.frames_decoded, 0);
  // Sizes FFmpeg's demuxer itself refuses, saying only "Device or resource busy" (`corrupt`
  // before): the pixel limit, from the header line.
  for (const int side : {20000, 60000}) {
    const auto h = y4m(side);
    const VpdqResult r2 = hash_video(VideoInput::memory(h), cpu_opts());
    EXPECT_EQ(r2.error_reason, "too_many_pixels") << side << ": " << r2.error;
    EXPECT_EQ(r2.info.frames_decoded, 0);
  }
  // The same limit, configured small, refuses an ordinary clip.
  ASSERT_FALSE(faststart().empty());
  DecodeLimits tiny;
  tiny.max_pixels = 10000;
  const VpdqResult s = hash_video(VideoInput::file(faststart()), cpu_opts(), tiny);
  EXPECT_EQ(s.error_reason, "too_many_pixels") << s.error;
  // --vpdq-size makes every sampled frame N x N: the same limit holds for it.
  DecodeLimits small;
  small.max_pixels = 320 * 240;
  VideoOptions sized = cpu_opts();
  sized.size = 512;
  const VpdqResult z = hash_video(VideoInput::file(faststart()), sized, small);
  EXPECT_EQ(z.error_reason, "too_many_pixels") << z.error;
  EXPECT_NE(z.error.find("--vpdq-size"), std::string::npos) << z.error;
  sized.size = 128;
  EXPECT_TRUE(hash_video(VideoInput::file(faststart()), sized, small).ok());
}

TEST(VideoBroken, DurationAndFrameLimits) {
  ASSERT_FALSE(faststart().empty());
  VideoOptions o = cpu_opts();
  o.max_duration_seconds = 2;  // the container says 4 s: refused before decoding
  VpdqResult r = hash_video(VideoInput::file(faststart()), o);
  EXPECT_EQ(r.error_reason, "too_long") << r.error;
  EXPECT_TRUE(r.frames.empty());
  // A raw H.264 stream has no duration: the limit stops decoding once frames pass it, and the
  // frames before are kept.
  const auto raw = make_clip(clip_dir(), "raw.h264",
                             "-f lavfi -i testsrc2=size=160x120:rate=25 -t 4 -g 25 -c:v libx264 "
                             "-preset ultrafast -f h264");
  ASSERT_FALSE(raw.empty());
  r = hash_video(VideoInput::file(raw), o);
  EXPECT_EQ(r.error_reason, "too_long") << r.error;
  EXPECT_EQ(r.frames.size(), 3u);  // 0, 1 and 2 s
  o = cpu_opts();
  o.max_frames = 30;
  r = hash_video(VideoInput::file(faststart()), o);
  EXPECT_EQ(r.error_reason, "too_long") << r.error;
  EXPECT_EQ(r.frames.size(), 2u);  // frames 0 and 25
}

TEST(VideoBroken, TimeBudget) {
  ASSERT_FALSE(faststart().empty());
  VideoOptions o = cpu_opts();
  o.time_budget_seconds = 1e-6;
  const VpdqResult r = hash_video(VideoInput::file(faststart()), o);
  EXPECT_EQ(r.error_reason, "timeout") << r.error;
  EXPECT_NE(r.error.find("time budget of 1e-06 s"), std::string::npos) << r.error;
  // MPEG-TS is probed by decoding: a budget spent inside the probe leaves the stream without a
  // picture size, which is still the budget's doing, not a broken file.
  const auto ts = make_clip(clip_dir(), "budget.ts",
                            "-f lavfi -i testsrc2=size=320x240:rate=25 -t 2 -c:v libx264 -preset "
                            "ultrafast");
  ASSERT_FALSE(ts.empty());
  // Budgets from one that ends inside the container's opening to ones that end in the probe or
  // in the decoding: a timeout, or done, never another verdict.
  for (double budget = 1e-5; budget < 0.1; budget *= 1.5) {
    o.time_budget_seconds = budget;
    const VpdqResult t = hash_video(VideoInput::file(ts), o);
    if (!t.ok()) { EXPECT_EQ(t.error_reason, "timeout") << budget << " s: " << t.error; }
  }
  // Budgets past what the clock holds are no budget (they overflowed into the past: every video
  // a timeout); the environment refuses them with a clear error.
  for (const double huge : {1e10, 1e300, std::numeric_limits<double>::infinity()}) {
    o.time_budget_seconds = huge;
    const VpdqResult h = hash_video(VideoInput::file(faststart()), o);
    EXPECT_TRUE(h.ok()) << huge << " s: " << h.error;
  }
  for (const char* bad : {"1e10", "inf", "nan", "-1", "0"}) {
    test::ScopedEnv env("HASHMATCH_VIDEO_TIME_BUDGET", bad);
    EXPECT_THROW(video_options_from_env(), InvalidArgument) << bad;
  }
  test::ScopedEnv ok("HASHMATCH_VIDEO_TIME_BUDGET", "1e9");
  EXPECT_EQ(video_options_from_env().time_budget_seconds, 1e9);
}

// The time a video waited to start (the server's video queue) counts against its budget: past
// it, a timeout before anything is opened; within it, the decoding gets what is left.
TEST(VideoBroken, TimeWaitedCountsAgainstTheBudget) {
  ASSERT_FALSE(faststart().empty());
  VideoOptions o = cpu_opts();
  o.time_budget_seconds = 30;
  o.waited_seconds = 31;
  VpdqResult r = hash_video(VideoInput::file(faststart()), o);
  EXPECT_EQ(r.error_reason, "timeout") << r.error;
  EXPECT_NE(r.error.find("waited 31.0 s to start, past the time budget of 30 s"), std::string::npos)
      << r.error;
  EXPECT_EQ(r.info.frames_decoded, 0);
  EXPECT_TRUE(r.frames.empty());
  o.waited_seconds = 30 - 1e-5;  // 10 us left
  r = hash_video(VideoInput::file(faststart()), o);
  EXPECT_EQ(r.error_reason, "timeout") << r.error;
  EXPECT_NE(r.error.find("time budget of 30 s (30.0 s of it waiting to start)"), std::string::npos)
      << r.error;
  o.waited_seconds = 1;  // 29 s left: plenty
  r = hash_video(VideoInput::file(faststart()), o);
  EXPECT_TRUE(r.ok()) << r.error;
  EXPECT_FALSE(r.frames.empty());
}

TEST(VideoBroken, BadDecoderOptionIsAnArgumentError) {
  ASSERT_FALSE(faststart().empty());
  VideoOptions o = cpu_opts();
  o.decoder = "quantum";
  EXPECT_THROW(hash_video(VideoInput::file(faststart()), o), InvalidArgument);
}

TEST(VideoBroken, CudaAskedForWithoutGpuFallsBackWithANote) {
  if (gpu_required()) GTEST_SKIP() << "HASHMATCH_REQUIRE_GPU=1: covered by the GPU tests";
  ASSERT_FALSE(faststart().empty());
  VideoOptions o = cpu_opts();
  o.decoder = "cuda";
  const VpdqResult r = hash_video(VideoInput::file(faststart()), o);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.frames.size(), 4u);
  if (r.info.decoder == "cpu") {
    EXPECT_NE(r.info.note.find("NVDEC unavailable"), std::string::npos) << r.info.note;
  }
}

// Decoder `auto` on a machine without a CUDA device: decoded on the CPU with nothing to say per
// video (the machine's state is said once by `hashmatch info` and the server's log).
TEST(VideoBroken, AutoWithoutGpuSaysNothingPerVideo) {
  if (gpu_required()) GTEST_SKIP() << "HASHMATCH_REQUIRE_GPU=1: a missing GPU is an error there";
  if (gpu_available()) GTEST_SKIP() << "a GPU is present: NVDEC takes the video";
  ASSERT_FALSE(faststart().empty());
  VideoOptions o = cpu_opts();
  o.decoder = "auto";
  const VpdqResult r = hash_video(VideoInput::file(faststart()), o);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.info.decoder, "cpu");
  EXPECT_EQ(r.frames.size(), 4u);
  EXPECT_EQ(r.info.note, "");
  // Nor for a stream NVDEC could not take anyway (4:2:2), or a codec it does not decode.
  for (const char* c : {"-c:v libx264 -preset ultrafast -pix_fmt yuv422p", "-c:v mjpeg"}) {
    const auto p = make_clip(clip_dir(), std::string("nogpu") + (c[5] == 'm' ? ".avi" : ".mp4"),
                             std::string("-f lavfi -i testsrc2=size=160x120:rate=25 -t 1 ") + c);
    ASSERT_FALSE(p.empty());
    const VpdqResult q = hash_video(VideoInput::file(p), o);
    ASSERT_TRUE(q.ok()) << c << ": " << q.error;
    EXPECT_EQ(q.info.note, "") << c;
  }
}

// Through host/media: videos found by content get digests and the vPDQ array; broken videos an
// error with the digests still there.
TEST(VideoMedia, HashMediaFileFillsVpdqAndKeepsDigestsOnError) {
  register_video_hasher();
  ASSERT_FALSE(faststart().empty());
  HashOptions opts;
  opts.video = cpu_opts();
  pdq::PdqHasher hasher;
  MediaHashResult r = hash_media_file(faststart().string(), opts, hasher);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.format, MediaFormat::kMp4);
  EXPECT_EQ(r.width, 320);
  ASSERT_TRUE(r.vpdq);
  EXPECT_EQ(r.vpdq->size(), 4u);
  EXPECT_EQ((*r.vpdq)[1].frame_number, 25);
  EXPECT_EQ((*r.vpdq)[1].timestamp, 1.0);
  EXPECT_EQ(r.extra["video"]["codec"], "h264");
  const auto j = to_json(r, false);
  EXPECT_TRUE(j.contains("md5") && j.contains("vpdq"));
  EXPECT_EQ(j["vpdq"][1]["frame"], 25);
  EXPECT_EQ(j["vpdq"][1]["timestamp"], 1.0);

  // Larger than the in-memory media limit: streamed from the file, same result.
  HashOptions small = opts;
  small.limits.max_file_bytes = 1000;
  MediaHashResult big = hash_media_file(faststart().string(), small, hasher);
  ASSERT_TRUE(big.ok()) << big.error;
  EXPECT_EQ(to_json(big, false)["vpdq"], j["vpdq"]);

  test::TempDir d;
  auto b = test::read_file(faststart());
  b.resize(b.size() * 55 / 100);
  test::write_file(d / "cut.mp4", b);
  MediaHashResult cut = hash_media_file((d / "cut.mp4").string(), opts, hasher);
  EXPECT_FALSE(cut.ok());
  EXPECT_EQ(cut.error_reason, "truncated");
  EXPECT_TRUE(cut.have_digests);
  ASSERT_TRUE(cut.vpdq);
  EXPECT_GE(cut.vpdq->size(), 2u);
}

}  // namespace
}  // namespace hashmatch::video
