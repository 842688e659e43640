// Decoders kept open across videos (video/decoder_pool.h): a reused decoder gives exactly what a
// fresh one gives (frame numbers, hashes, qualities, timestamps, counts), clip after clip, for
// each codec and container; streams that differ in anything the decoder was opened for never
// share one; decoders of broken videos are never kept; the cap and the off switch hold.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <algorithm>
#include <cstdlib>
#include <functional>
#include <string>
#include <thread>

#include "tests/testutil/testutil.h"
#include "tests/video/clips.h"
#include "video/decoder_pool.h"
#include "video/ffmpeg_util.h"
#include "video/synth_clip.h"
#include "video/video_pool.h"
#include "video/vpdq.h"

namespace hashmatch::video {
namespace {

using test::ScopedEnv;

// A small synthetic clip's spec (the default encoder, libx264, unless changed after).
SynthClipSpec small_clip(int width, int height, int frames) {
  SynthClipSpec s;
  s.width = width;
  s.height = height;
  s.frames = frames;
  return s;
}

VideoOptions cpu_opts(double sph = 0.2, int threads = 1) {
  VideoOptions o;
  o.decoder = "cpu";
  o.pdq = "cpu";
  o.seconds_per_hash = sph;
  o.threads = threads;
  return o;
}

// The result with pooling off: a freshly opened decoder.
VpdqResult fresh(const std::filesystem::path& p, const VideoOptions& o) {
  ScopedEnv off("HASHMATCH_DECODER_POOL", "0");
  decoder_pool::clear();
  VpdqResult r = hash_video(VideoInput::file(p), o);
  EXPECT_FALSE(r.info.decoder_reused);
  EXPECT_EQ(decoder_pool::idle_count(), 0);
  return r;
}

struct PoolCase {
  const char* file;
  const char* encoder;
  int threads;
};

void PrintTo(const PoolCase& c, std::ostream* os) { *os << c.file << " (" << c.encoder << ")"; }

class DecoderPoolCodecs : public ::testing::TestWithParam<PoolCase> {
 protected:
  void TearDown() override { decoder_pool::clear(); }
};

// Clip A, then B (other content, same encoder settings: the same parameter sets), then A again:
// B and the second A decode on A's decoder and give what fresh decoders give.
TEST_P(DecoderPoolCodecs, ReusedDecoderGivesTheFreshDecodersFrames) {
  const PoolCase& c = GetParam();
  test::TempDir d;
  SynthClipSpec s = small_clip(320, 180, 50);
  s.encoder = c.encoder;
  s.gop = 12;
  const auto a = d / (std::string("a_") + c.file);
  const auto b = d / (std::string("b_") + c.file);
  test::write_clip_pair(a, b, s, 41);  // another length too: the first decoder's end state must not leak

  for (const bool keyframes : {false, true}) {
    VideoOptions o = cpu_opts(0.2, c.threads);
    o.keyframes_only = keyframes;
    const std::string mode = keyframes ? " keyframes-only" : " exact";
    const VpdqResult fa = fresh(a, o);
    const VpdqResult fb = fresh(b, o);
    ASSERT_GT(fa.frames.size(), 2u);
    ASSERT_NE(fa.frames[1].hash, fb.frames[1].hash);  // different content

    decoder_pool::clear();
    const VpdqResult pa = hash_video(VideoInput::file(a), o);
    EXPECT_FALSE(pa.info.decoder_reused);
    EXPECT_EQ(decoder_pool::idle_count(), 1);
    const VpdqResult pb = hash_video(VideoInput::file(b), o);
    EXPECT_TRUE(pb.info.decoder_reused) << c.file << mode;
    const VpdqResult pa2 = hash_video(VideoInput::file(a), o);
    EXPECT_TRUE(pa2.info.decoder_reused) << c.file << mode;
    EXPECT_EQ(decoder_pool::idle_count(), 1);
    test::expect_same_result(pa, fa, std::string(c.file) + mode + " first");
    test::expect_same_result(pb, fb, std::string(c.file) + mode + " after another clip");
    test::expect_same_result(pa2, fa, std::string(c.file) + mode + " again");
  }
}

INSTANTIATE_TEST_SUITE_P(Synth, DecoderPoolCodecs,
                         ::testing::Values(PoolCase{"h264.mp4", "libx264", 1},
                                           PoolCase{"h264_threads.mp4", "libx264", 3},
                                           PoolCase{"h264.ts", "libx264", 1},
                                           PoolCase{"hevc.mkv", "libx265", 1},
                                           PoolCase{"vp9.webm", "libvpx-vp9", 2},
                                           PoolCase{"mpeg4.avi", "mpeg4", 1}),
                         [](const auto& info) {
                           std::string n = info.param.file;
                           for (char& ch : n) if (ch == '.') ch = '_';
                           return n;
                         });

class DecoderPool : public ::testing::Test {
 protected:
  void SetUp() override { decoder_pool::clear(); }
  void TearDown() override { decoder_pool::clear(); }
};

TEST_F(DecoderPool, StreamsThatDifferNeverShareADecoder) {
  test::TempDir d;
  SynthClipSpec s = small_clip(320, 180, 20);
  write_synth_clip(d / "a.mp4", s);
  s.width = 352;  // another size: other parameter sets
  write_synth_clip(d / "b.mp4", s);
  s.width = 320;
  s.encoder = "libx265";
  write_synth_clip(d / "c.mkv", s);

  ASSERT_TRUE(hash_video(VideoInput::file(d / "a.mp4"), cpu_opts()).ok());
  EXPECT_EQ(decoder_pool::idle_count(), 1);
  const VpdqResult b = hash_video(VideoInput::file(d / "b.mp4"), cpu_opts());
  ASSERT_TRUE(b.ok()) << b.error;
  EXPECT_FALSE(b.info.decoder_reused);
  const VpdqResult c = hash_video(VideoInput::file(d / "c.mkv"), cpu_opts());
  ASSERT_TRUE(c.ok()) << c.error;
  EXPECT_FALSE(c.info.decoder_reused);
  EXPECT_EQ(decoder_pool::idle_count(), 3);

  // The same stream with other decoder settings: thread count, keyframes-only.
  const VpdqResult t = hash_video(VideoInput::file(d / "a.mp4"), cpu_opts(0.2, 2));
  ASSERT_TRUE(t.ok());
  EXPECT_FALSE(t.info.decoder_reused);
  VideoOptions k = cpu_opts();
  k.keyframes_only = true;
  const VpdqResult kr = hash_video(VideoInput::file(d / "a.mp4"), k);
  ASSERT_TRUE(kr.ok());
  EXPECT_FALSE(kr.info.decoder_reused);
  // And the same stream with the same settings: reused.
  const VpdqResult again = hash_video(VideoInput::file(d / "a.mp4"), cpu_opts());
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again.info.decoder_reused);
}

// An opened H.264 decoder, as the pool would be given one.
ff::CodecPtr open_h264() {
  const AVCodec* codec = avcodec_find_decoder(AV_CODEC_ID_H264);
  EXPECT_NE(codec, nullptr);
  ff::CodecPtr ctx(avcodec_alloc_context3(codec));
  EXPECT_GE(avcodec_open2(ctx.get(), codec, nullptr), 0);
  return ctx;
}

decoder_pool::Key test_key(int video_delay) {
  decoder_pool::Key k;
  k.params = "test stream";
  k.threads = 1;
  k.video_delay = video_delay;
  return k;
}

// What avcodec_flush_buffers leaves behind is cleared: the timestamp-correction statistics behind
// best_effort_timestamp (one video with out-of-order timestamps would otherwise make every later
// video on that decoder number its key frames from DTS: 2 frames early with B-frames).
TEST_F(DecoderPool, KeptDecodersStartWithoutTimestampHistory) {
  ff::CodecPtr ctx = open_h264();
  ctx->pts_correction_num_faulty_pts = 5;
  ctx->pts_correction_num_faulty_dts = 1;
  ctx->pts_correction_last_pts = 1000;
  ctx->pts_correction_last_dts = 900;
  decoder_pool::give(test_key(0), std::move(ctx));
  ASSERT_EQ(decoder_pool::idle_count(), 1);
  ff::CodecPtr back = decoder_pool::take(test_key(0));
  ASSERT_NE(back, nullptr);
  EXPECT_EQ(back->pts_correction_num_faulty_pts, 0);
  EXPECT_EQ(back->pts_correction_num_faulty_dts, 0);
  EXPECT_EQ(back->pts_correction_last_pts, INT64_MIN);
  EXPECT_EQ(back->pts_correction_last_dts, INT64_MIN);
}

// A decoder whose reordering delay grew while decoding (FFmpeg raises has_b_frames when a stream
// reorders more than its headers said) would start the next video later than a fresh one: freed.
// H.264 ends a video without a drain where it can (HASHMATCH_H264_NO_DRAIN, video/decoder_pool.h):
// the last pictures pushed out by copies of the last IDR under sentinel timestamps (mode all; NVDEC
// by default), or nothing left to push (no reordering, one thread). The decoder is kept
// unflushed, the next clip's first pictures push the copies out, and every clip gives what a fresh
// decoder gives, keyframes-only and exact.
TEST_F(DecoderPool, H264EndsWithoutADrain) {
  struct Case {
    const char* file;
    const char* preset;  // ultrafast: no B-frames (no reordering delay); veryfast: B-frames
    int threads;
  };
  test::TempDir d;
  for (const Case& c : {Case{"uf.mp4", "ultrafast", 1}, Case{"vf.mp4", "veryfast", 1},
                        Case{"vf.ts", "veryfast", 1}, Case{"vf3.mp4", "veryfast", 3}}) {
    SynthClipSpec s = small_clip(320, 180, 50);
    s.gop = 12;
    s.preset = c.preset;
    const auto a = d / (std::string("a_") + c.file);
    const auto b = d / (std::string("b_") + c.file);
    test::write_clip_pair(a, b, s, 41);
    for (const bool keyframes : {true, false}) {
      VideoOptions o = cpu_opts(0.2, c.threads);
      o.keyframes_only = keyframes;
      const VpdqResult fa = fresh(a, o);
      const VpdqResult fb = fresh(b, o);
      // Key frames 0, 12, 24, 36, 48; or one hash per 0.2 s (6 frames at 30 fps).
      ASSERT_EQ(fa.frames.size(), keyframes ? 5u : 9u) << c.file;
      ASSERT_EQ(fb.frames.size(), keyframes ? 4u : 7u) << c.file;
      for (const char* mode : {"nvdec", "all", "off"}) {
        ScopedEnv env("HASHMATCH_H264_NO_DRAIN", mode);
        const std::string what =
            std::string(c.file) + " " + mode + (keyframes ? " keyframes-only" : " exact");
        const bool undrained = std::string(mode) == "all";  // nvdec: the CPU decoders drain
        decoder_pool::clear();
        const int64_t kept0 = decoder_pool::kept_without_drain();
        const VpdqResult pa = hash_video(VideoInput::file(a), o);
        const VpdqResult pb = hash_video(VideoInput::file(b), o);
        const VpdqResult pa2 = hash_video(VideoInput::file(a), o);
        EXPECT_TRUE(pb.info.decoder_reused) << what;
        EXPECT_TRUE(pa2.info.decoder_reused) << what;
        EXPECT_EQ(decoder_pool::kept_without_drain() - kept0, undrained ? 3 : 0) << what;
        test::expect_same_result(pa, fa, what + " first");
        test::expect_same_result(pb, fb, what + " after another clip");
        test::expect_same_result(pa2, fa, what + " again");
      }
    }
  }
}

// EBML: the length of a variable-size integer from its first byte (1..8; 0: invalid).
int vint_length(uint8_t b) {
  for (int n = 1; n <= 8; ++n) {
    if (b & (0x80 >> (n - 1))) return n;
  }
  return 0;
}

uint64_t vint_value(const uint8_t* p, int n) {
  uint64_t v = p[0] & (0xFF >> n);
  for (int i = 1; i < n; ++i) v = (v << 8) | p[i];
  return v;
}

// A Matroska file (one frame per Cluster, ffmpeg's Cluster layout: the Timecode first) with the
// Timecode of every Cluster for which `patch(i)` says so set to `tc` (8 bytes, sizes rewritten,
// the Segment's size made unknown).
std::vector<uint8_t> with_cluster_timecodes(const std::vector<uint8_t>& mkv, uint64_t tc,
                                            const std::function<bool(int)>& patch) {
  const uint8_t kSegment[] = {0x18, 0x53, 0x80, 0x67};
  const auto seg = std::search(mkv.begin(), mkv.end(), std::begin(kSegment), std::end(kSegment));
  EXPECT_NE(seg, mkv.end());
  std::size_t i = static_cast<std::size_t>(seg - mkv.begin()) + 4;
  std::vector<uint8_t> out(mkv.begin(), mkv.begin() + static_cast<std::ptrdiff_t>(i));
  const int seg_len = vint_length(mkv[i]);
  out.push_back(0x01);  // unknown size
  for (int k = 0; k < 7; ++k) out.push_back(0xFF);
  i += static_cast<std::size_t>(seg_len);
  int cluster = 0;
  while (i < mkv.size()) {
    const int id_len = vint_length(mkv[i]);
    const int size_len = vint_length(mkv[i + static_cast<std::size_t>(id_len)]);
    const std::size_t body = i + static_cast<std::size_t>(id_len + size_len);
    const uint64_t size = vint_value(&mkv[i + static_cast<std::size_t>(id_len)], size_len);
    const bool is_cluster = id_len == 4 && mkv[i] == 0x1F && mkv[i + 1] == 0x43 &&
                            mkv[i + 2] == 0xB6 && mkv[i + 3] == 0x75;
    if (!is_cluster || !patch(cluster++)) {
      out.insert(out.end(), mkv.begin() + static_cast<std::ptrdiff_t>(i),
                 mkv.begin() + static_cast<std::ptrdiff_t>(body + size));
    } else {
      EXPECT_EQ(mkv[body], 0xE7);  // Timecode first
      const int tl = vint_length(mkv[body + 1]);
      const std::size_t rest = body + 1 + static_cast<std::size_t>(tl) + vint_value(&mkv[body + 1], tl);
      std::vector<uint8_t> children = {0xE7, 0x88};
      for (int k = 7; k >= 0; --k) children.push_back(static_cast<uint8_t>(tc >> (8 * k)));
      children.insert(children.end(), mkv.begin() + static_cast<std::ptrdiff_t>(rest),
                      mkv.begin() + static_cast<std::ptrdiff_t>(body + size));
      out.insert(out.end(), {0x1F, 0x43, 0xB6, 0x75, 0x01});
      for (int k = 6; k >= 0; --k) out.push_back(static_cast<uint8_t>(children.size() >> (8 * k)));
      out.insert(out.end(), children.begin(), children.end());
    }
    i = body + size;
  }
  return out;
}

// End-of-video push copies carry sentinel timestamps (INT64_MIN + 4096 ...), but a container can
// give a real frame any timestamp: such frames are frames, on a fresh decoder and on one kept
// without a drain whose push copies come out first (only as many frames are dropped as copies were
// pushed). Matroska Cluster timecodes set to 2^63 + 4096 ms land in that range.
TEST_F(DecoderPool, FramesWithThePushCopiesTimestampsAreFrames) {
  ScopedEnv env("HASHMATCH_H264_NO_DRAIN", "all");
  const auto clean = test::make_clip(test::clip_dir(), "push_ts.mkv",
                                     "-f lavfi -i testsrc2=size=160x120:rate=25 -t 2 -c:v libx264 "
                                     "-preset veryfast -g 25 -cluster_size_limit 1 -write_crc32 0");
  ASSERT_FALSE(clean.empty());
  const std::vector<uint8_t> bytes = test::read_file(clean);
  test::TempDir d;
  const uint64_t tc = (uint64_t(1) << 63) + 4096;
  test::write_file(d / "even.mkv", with_cluster_timecodes(bytes, tc, [](int c) { return c % 2 == 0; }));
  test::write_file(d / "all.mkv", with_cluster_timecodes(bytes, tc, [](int) { return true; }));
  const VideoOptions o = cpu_opts(0, 1);  // every frame: a push copy counted as a frame shows
  const VpdqResult want = fresh(clean, o);
  ASSERT_TRUE(want.ok()) << want.error;
  ASSERT_EQ(want.info.frames_decoded, 50);
  ASSERT_EQ(want.frames.size(), 50u);
  for (const char* f : {"even.mkv", "all.mkv"}) {
    const VpdqResult a = fresh(d / f, o);
    ASSERT_TRUE(a.ok()) << f << ": " << a.error;
    EXPECT_EQ(a.info.frames_decoded, 50) << f;
    test::expect_same_result(a, want, std::string(f) + " on a fresh decoder");
    // After the clean clip, on its decoder kept without a drain (copies pushed, still in it).
    decoder_pool::clear();
    const int64_t kept0 = decoder_pool::kept_without_drain();
    const VpdqResult c = hash_video(VideoInput::file(clean), o);
    ASSERT_TRUE(c.ok()) << c.error;
    EXPECT_EQ(decoder_pool::kept_without_drain() - kept0, 1) << f;
    const VpdqResult k = hash_video(VideoInput::file(d / f), o);
    EXPECT_TRUE(k.info.decoder_reused) << f;
    EXPECT_EQ(k.info.frames_decoded, 50) << f;
    test::expect_same_result(k, want, std::string(f) + " after a clip on its kept decoder");
  }
}

// A decoder kept without a drain, then a stream cut inside an open GOP (an MPEG-TS piece: its
// first packets are pictures predicted from frames it lacks, its first key packet an I picture
// with a recovery point, no IDR) gives what a fresh decoder gives: vpdq.cc drains and resets a
// kept decoder before a first packet that is no IDR, the state a fresh decoder starts in (in exact
// mode the piece's first pictures would otherwise be predicted from the push copies).
TEST_F(DecoderPool, AKeptUndrainedDecoderThenAStreamCutInsideAnOpenGop) {
  ScopedEnv env("HASHMATCH_H264_NO_DRAIN", "all");
  test::TempDir d;
  SynthClipSpec s = open_gop_spec("libx264", 320, 180);
  s.frames = 300;
  s.gop = 60;
  s.open_gop = 0;
  write_synth_clip(d / "closed.ts", s);
  s.open_gop = 1;
  s.pattern = 3;
  write_synth_clip(d / "open.ts", s);
  const std::vector<uint8_t> open = test::read_file(d / "open.ts");
  const std::size_t cut = (open.size() / 2) / 188 * 188;  // whole TS packets
  test::write_file(d / "piece.ts", std::vector<uint8_t>(open.begin() + cut, open.end()));
  for (const bool keyframes : {true, false}) {
    const std::string what = keyframes ? "keyframes-only" : "exact";
    VideoOptions o = cpu_opts(0.2, 1);
    o.keyframes_only = keyframes;
    const VpdqResult fp = fresh(d / "piece.ts", o);
    ASSERT_TRUE(fp.ok()) << fp.error;
    ASSERT_GE(fp.frames.size(), 1u);

    decoder_pool::clear();
    const int64_t kept0 = decoder_pool::kept_without_drain();
    const VpdqResult pc = hash_video(VideoInput::file(d / "closed.ts"), o);
    ASSERT_TRUE(pc.ok()) << pc.error;
    ASSERT_EQ(decoder_pool::kept_without_drain() - kept0, 1) << what;
    const VpdqResult pp = hash_video(VideoInput::file(d / "piece.ts"), o);
    ASSERT_TRUE(pp.info.decoder_reused) << what << ": the piece must decode on the kept decoder";
    test::expect_same_result(pp, fp, what + ": piece after a decoder kept without a drain");
  }
}

// A damaged video on a decoder kept without a drain: FFmpeg's error concealment may draw on the
// previous video's pictures still in the decoder (hashes 2-52 bits off on up to 43 of 58 frames,
// found by review), so such a video is decoded again on a fresh decoder: the result a fresh run
// gives, whatever came before it.
TEST_F(DecoderPool, ADamagedVideoAfterAnUndrainedOneHashesAsOnAFreshDecoder) {
  ScopedEnv env("HASHMATCH_H264_NO_DRAIN", "all");
  test::TempDir d;
  SynthClipSpec s = small_clip(192, 144, 58);
  s.fps_num = 25;
  s.gop = 250;
  s.params = "ref=16:bframes=0";  // 16 reference frames: concealment reaches far back
  write_synth_clip(d / "clean.mp4", s);
  const std::vector<uint8_t> clean = test::read_file(d / "clean.mp4");
  const VideoOptions o = cpu_opts(0, 1);  // every frame
  int damaged = 0;
  for (uint32_t seed = 1; seed <= 6; ++seed) {
    std::vector<uint8_t> bad = clean;
    uint32_t x = seed * 2654435761u;
    for (int i = 0; i < 10; ++i) {  // 10 bytes flipped in the middle third
      x = x * 1664525u + 1013904223u;
      bad[bad.size() / 3 + x % (bad.size() / 3)] ^= 0xff;
    }
    const auto path = d / ("bad" + std::to_string(seed) + ".mp4");
    test::write_file(path, bad);
    const VpdqResult f = fresh(path, o);
    decoder_pool::clear();
    const VpdqResult c = hash_video(VideoInput::file(d / "clean.mp4"), o);
    ASSERT_TRUE(c.ok()) << c.error;
    const VpdqResult k = hash_video(VideoInput::file(path), o);
    test::expect_same_outcome(k, f, "damage seed " + std::to_string(seed));
    if (!f.ok()) ++damaged;
  }
  EXPECT_GT(damaged, 0) << "no seed damaged the clip: the test tests nothing";
}

TEST_F(DecoderPool, DecodersWhoseReorderDelayGrewAreNotKept) {
  ff::CodecPtr ctx = open_h264();
  ctx->has_b_frames = 2;
  decoder_pool::give(test_key(0), std::move(ctx));
  EXPECT_EQ(decoder_pool::idle_count(), 0);
  ctx = open_h264();
  ctx->has_b_frames = 2;
  decoder_pool::give(test_key(2), std::move(ctx));  // as the stream said: kept
  EXPECT_EQ(decoder_pool::idle_count(), 1);
}

// Get_format calls of the decoders below (the callback has no state of its own to count in).
std::atomic<int> g_get_format_calls{0};

// Decodes every frame of `p` on `ctx` (opened on the first call) and drains it; frames decoded.
int decode_file(const std::filesystem::path& p, ff::CodecPtr& ctx) {
  ff::Demuxer d(std::make_unique<ff::FileSource>(p.string()),
                ff::Demuxer::Clock::now() + std::chrono::seconds(60));
  EXPECT_GE(d.open(true), 0);
  AVFormatContext* fmt = d.get();
  const int vi = ff::first_video_stream(fmt);
  EXPECT_GE(vi, 0);
  if (vi < 0) return 0;
  if (!ctx) {
    const AVCodec* codec = avcodec_find_decoder(fmt->streams[vi]->codecpar->codec_id);
    ctx.reset(avcodec_alloc_context3(codec));
    EXPECT_GE(avcodec_parameters_to_context(ctx.get(), fmt->streams[vi]->codecpar), 0);
    ctx->thread_count = 1;
    ctx->get_format = [](AVCodecContext* c, const AVPixelFormat* fmts) {
      ++g_get_format_calls;
      return avcodec_default_get_format(c, fmts);
    };
    EXPECT_GE(avcodec_open2(ctx.get(), codec, nullptr), 0);
  }
  ff::PacketPtr pkt = ff::make_packet();
  ff::FramePtr frame = ff::make_frame();
  int frames = 0;
  auto receive = [&] {
    while (avcodec_receive_frame(ctx.get(), frame.get()) >= 0) {
      ++frames;
      av_frame_unref(frame.get());
    }
  };
  while (av_read_frame(fmt, pkt.get()) >= 0) {
    if (pkt->stream_index == vi) {
      EXPECT_GE(avcodec_send_packet(ctx.get(), pkt.get()), 0);
      receive();
    }
    av_packet_unref(pkt.get());
  }
  avcodec_send_packet(ctx.get(), nullptr);
  receive();
  return frames;
}

// What a kept decoder keeps after the pool's flush. FFmpeg's H.264 decoder negotiates its pixel
// format again (get_format) at the first slice after avcodec_flush_buffers; on NVDEC that
// negotiation tears down the hwaccel and creates a new hardware decoder and surface pool
// (ff_get_format uninitialises the hwaccel before every call). So a kept H.264 NVDEC decoder, and
// keyframes-only's reset before an open-GOP key frame, pay NVDEC's set-up again; HEVC and VP9
// keep theirs. Shown on the CPU decoders, whose get_format runs at the same points.
TEST(DecoderPoolPremise, OnlyH264NegotiatesItsFormatAgainAfterAFlush) {
  struct Case {
    const char* file;
    const char* encoder;
    int calls;  // get_format calls for three videos with a flush between them
  };
  test::TempDir d;
  for (const Case& c : {Case{"a.mp4", "libx264", 3}, Case{"a.mkv", "libx265", 1},
                        Case{"a.webm", "libvpx-vp9", 1}}) {
    SynthClipSpec s = small_clip(160, 96, 12);
    s.encoder = c.encoder;
    write_synth_clip(d / c.file, s);
    g_get_format_calls = 0;
    ff::CodecPtr ctx;
    for (int video = 0; video < 3; ++video) {
      if (video > 0) avcodec_flush_buffers(ctx.get());
      EXPECT_EQ(decode_file(d / c.file, ctx), 12) << c.file;
    }
    EXPECT_EQ(g_get_format_calls.load(), c.calls) << c.file;
  }
}

TEST_F(DecoderPool, BrokenVideosLeaveNoDecoderBehind) {
  test::TempDir d;
  SynthClipSpec s = small_clip(320, 180, 60);
  s.encoder = "libx264";
  write_synth_clip(d / "a.ts", s);  // MPEG-TS: a cut file still demuxes, then fails
  auto bytes = test::read_file(d / "a.ts");
  bytes.resize(bytes.size() * 2 / 3);
  const VpdqResult cut = hash_video(VideoInput::memory(bytes), cpu_opts());
  EXPECT_FALSE(cut.ok());
  EXPECT_FALSE(cut.frames.empty());  // frames before the cut are kept
  EXPECT_EQ(decoder_pool::idle_count(), 0);

  // A corrupt packet in the middle: decode errors or concealed frames, never pooled either.
  auto bad = test::read_file(d / "a.ts");
  for (std::size_t i = bad.size() / 3; i < bad.size() / 3 + 4000 && i < bad.size(); i += 7) {
    if (i % 188 != 0) bad[i] ^= 0x5a;  // keep the TS sync bytes: the damage reaches the decoder
  }
  const VpdqResult damaged = hash_video(VideoInput::memory(bad), cpu_opts());
  if (!damaged.ok()) {
    EXPECT_EQ(decoder_pool::idle_count(), 0) << damaged.error;
  }

  // The intact file afterwards opens a fresh decoder and gives the fresh result.
  const VpdqResult whole = hash_video(VideoInput::file(d / "a.ts"), cpu_opts());
  ASSERT_TRUE(whole.ok()) << whole.error;
  EXPECT_FALSE(whole.info.decoder_reused);
  test::expect_same_result(whole, fresh(d / "a.ts", cpu_opts()), "intact after broken");
}

TEST_F(DecoderPool, OffSwitchAndCap) {
  test::TempDir d;
  SynthClipSpec s = small_clip(160, 90, 30);
  write_synth_clip(d / "a.mp4", s);
  const auto bytes = test::read_file(d / "a.mp4");
  {
    ScopedEnv off("HASHMATCH_DECODER_POOL", "0");
    for (int i = 0; i < 2; ++i) {
      const VpdqResult r = hash_video(VideoInput::memory(bytes), cpu_opts());
      ASSERT_TRUE(r.ok());
      EXPECT_FALSE(r.info.decoder_reused);
    }
    EXPECT_EQ(decoder_pool::idle_count(), 0);
  }
  ScopedEnv cap("HASHMATCH_DECODER_POOL", "2");
  std::vector<VideoInput> inputs(24, VideoInput::memory(bytes));
  const auto all = hash_videos(inputs, cpu_opts(), {}, 6);
  EXPECT_LE(decoder_pool::idle_count(), 2);
  EXPECT_GE(decoder_pool::idle_count(), 1);
  const VpdqResult ref = fresh(d / "a.mp4", cpu_opts());
  int reused = 0;
  for (const auto& r : all) {
    test::expect_same_result(r, ref, "parallel sessions");
    reused += r.info.decoder_reused;
  }
  EXPECT_GT(reused, 0);
}

// Idle decoders are freed when their time is up, without another video starting or ending (the
// reaper thread), and the next video opens a fresh decoder.
TEST_F(DecoderPool, IdleDecodersAreFreedWhenTheirTimeIsUp) {
  ScopedEnv idle("HASHMATCH_DECODER_POOL_IDLE_SECONDS", "0.3");
  EXPECT_EQ(decoder_pool::idle_ms(), 300);
  test::TempDir d;
  SynthClipSpec s = small_clip(160, 90, 10);
  write_synth_clip(d / "a.mp4", s);
  ASSERT_TRUE(hash_video(VideoInput::file(d / "a.mp4"), cpu_opts()).ok());
  ASSERT_EQ(decoder_pool::idle_count(), 1);
  // Generous: the reaper is due after 0.3 s; a loaded CI machine may be slow to schedule it.
  for (int i = 0; i < 200 && decoder_pool::idle_count() > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(decoder_pool::idle_count(), 0);
  const VpdqResult r = hash_video(VideoInput::file(d / "a.mp4"), cpu_opts());
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_FALSE(r.info.decoder_reused);
  EXPECT_EQ(decoder_pool::idle_count(), 1);  // kept again, and reaped again later
}

// At exit the pool stops freeing (an NVDEC decoder torn down beside the CUDA driver's own teardown
// could crash the exit): once stop_freeing_for_exit ran, the reaper leaves expired decoders alone,
// a decoder given back is not kept, videos still hash, and the process exits cleanly. In a child process (the
// threadsafe style re-runs this test alone), as exit() would leave it.
TEST(DecoderPoolExit, NothingIsFreedOnceTheProcessExits) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  auto child = [] {
    ScopedEnv idle("HASHMATCH_DECODER_POOL_IDLE_SECONDS", "0.2");
    test::TempDir d;
    write_synth_clip(d / "a.mp4", small_clip(160, 90, 10));
    if (!hash_video(VideoInput::file(d / "a.mp4"), cpu_opts()).ok()) std::_Exit(2);
    if (decoder_pool::idle_count() != 1) std::_Exit(3);
    decoder_pool::stop_freeing_for_exit();
    std::this_thread::sleep_for(std::chrono::milliseconds(800));  // 4 x the idle time
    if (decoder_pool::idle_count() != 1) std::_Exit(4);  // the reaper freed it
    // Another video during the exit: the expired decoder leaves the pool unfreed, and the new
    // one is not kept.
    if (!hash_video(VideoInput::file(d / "a.mp4"), cpu_opts()).ok()) std::_Exit(5);
    if (decoder_pool::idle_count() != 0) std::_Exit(6);
    std::exit(0);  // runs the atexit handler a second time: it must not block
  };
  EXPECT_EXIT(child(), ::testing::ExitedWithCode(0), "");
}

TEST(DecoderPoolSettings, IdleTimeFromTheEnvironment) {
  {
    ScopedEnv unset("HASHMATCH_DECODER_POOL_IDLE_SECONDS", nullptr);
    EXPECT_EQ(decoder_pool::idle_ms(), 60000);
  }
  for (const char* bad : {"", "abc", "-1", "0", "1e9", "5s"}) {
    ScopedEnv v("HASHMATCH_DECODER_POOL_IDLE_SECONDS", bad);
    EXPECT_EQ(decoder_pool::idle_ms(), 60000) << bad;
  }
  ScopedEnv v("HASHMATCH_DECODER_POOL_IDLE_SECONDS", "2.5");
  EXPECT_EQ(decoder_pool::idle_ms(), 2500);
}

TEST_F(DecoderPool, RecurringStreamsAreCounted) {
  const std::string p1 = "stream one", p2 = "stream two";
  EXPECT_EQ(decoder_pool::note_seen(p1), 1);
  EXPECT_EQ(decoder_pool::note_seen(p1), 2);
  EXPECT_EQ(decoder_pool::note_seen(p2), 1);
  EXPECT_EQ(decoder_pool::note_seen(p1), 3);
  // 256 other streams push the first one out.
  for (int i = 0; i < 256; ++i) decoder_pool::note_seen("other " + std::to_string(i));
  EXPECT_EQ(decoder_pool::note_seen(p1), 1);
}

}  // namespace
}  // namespace hashmatch::video
