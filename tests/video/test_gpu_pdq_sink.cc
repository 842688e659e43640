// GpuPdqSink's logic on the CPU (no GPU needed): option parsing, the YUV matrix of a frame, which
// frames and videos take the host path, batching (at most 2 x batch frames held, batches closed
// on the decode thread, hashed on the sink's thread), ordering, errors and the GPU PDQ failing to
// start. The GPU PDQ is replaced by a host stand-in computing what it computes: the CPU PDQ of
// host/pdq/frame.h's frame_to_image, to which the GPU PDQ is bit-identical (tests/pdq_gpu). On
// decoded synthetic clips this also measures how far that path drifts from vPDQ's swscale path
// (the tolerance the GPU test uses).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <thread>

#include "host/common/error.h"
#include "host/pdq/frame.h"
#include "kernels/rt/device.h"
#include "tests/pdq_gpu/emulation.h"
#include "tests/testutil/testutil.h"
#include "tests/video/nv12_frames.h"
#include "video/gpu_pdq_sink.h"
#include "video/host_frames.h"
#include "video/synth_clip.h"
#include "video/vpdq.h"

namespace hashmatch::video {
namespace {

// Drift of the GPU PDQ's integer YUV path from vPDQ's swscale path on the synthetic clips: the
// bound the GPU test (test_video_gpu_pdq) uses too.
constexpr int kMaxDriftBits = 16;

// The stand-in for the GPU PDQ: frames in host memory, hashed as the GPU PDQ hashes them.
struct FakeStats {
  std::mutex mu;
  std::vector<std::size_t> batch_sizes;
  std::vector<void*> marked_streams;
  std::thread::id mark_thread, hash_thread;
  int made = 0;
  bool fail_hash = false;
  std::vector<std::size_t> host_in_batch;  // host frames per hash_mixed call
  std::vector<void*> copy_streams;         // the stream of each copy_frame call
  int live_copies = 0, max_live_copies = 0;
};

class FakeHasher : public DeviceFrameHasher {
 public:
  explicit FakeHasher(FakeStats* s) : s_(s) {}
  std::shared_ptr<void> mark_ready(void* stream) override {
    std::lock_guard<std::mutex> lk(s_->mu);
    s_->marked_streams.push_back(stream);
    s_->mark_thread = std::this_thread::get_id();
    return std::make_shared<int>(1);
  }
  std::vector<pdq::PdqHash> hash(std::span<const FrameView> frames,
                                 const std::shared_ptr<void>& ready) override {
    {
      std::lock_guard<std::mutex> lk(s_->mu);
      s_->batch_sizes.push_back(frames.size());
      s_->hash_thread = std::this_thread::get_id();
      if (!ready && !allow_no_ready_) throw Error("no ready token");
      if (s_->fail_hash) throw Error("device fault (test)");
    }
    std::vector<pdq::PdqHash> out;
    for (const FrameView& f : frames) out.push_back(hasher_.hash(frame_to_image(f)));
    return out;
  }
  // Host frames: RGB24 views; device frames need their ready token, host-only batches have none.
  std::vector<pdq::PdqHash> hash_mixed(std::span<const FrameView> frames,
                                       const std::vector<bool>& on_host,
                                       const std::shared_ptr<void>& ready) override {
    const std::size_t hosts = std::count(on_host.begin(), on_host.end(), true);
    {
      std::lock_guard<std::mutex> lk(s_->mu);
      s_->host_in_batch.push_back(hosts);
    }
    allow_no_ready_ = hosts == frames.size();
    return hash(frames, ready);
  }
  // Copies into pitched host buffers (the stand-in's "device memory"); counts live copies.
  std::shared_ptr<void> copy_frame(const FrameView& src, void* stream, FrameView* dst) override {
    if (!copies_) return nullptr;
    {
      std::lock_guard<std::mutex> lk(s_->mu);
      s_->copy_streams.push_back(stream);
      ++s_->live_copies;
      s_->max_live_copies = std::max(s_->max_live_copies, s_->live_copies);
    }
    const int pitch = src.width + 13;  // unlike the source's
    const int crows = (src.height + 1) / 2, cwidth = 2 * ((src.width + 1) / 2);
    auto* buf = new std::vector<uint8_t>(std::size_t(pitch) * (src.height + crows), 0xEE);
    for (int y = 0; y < src.height; ++y) {
      std::copy_n(src.planes[0] + std::size_t(y) * src.pitches[0], src.width,
                  buf->data() + std::size_t(y) * pitch);
    }
    uint8_t* uv = buf->data() + std::size_t(pitch) * src.height;
    for (int y = 0; y < crows; ++y) {
      std::copy_n(src.planes[1] + std::size_t(y) * src.pitches[1], cwidth, uv + std::size_t(y) * pitch);
    }
    *dst = src;
    dst->planes[0] = buf->data();
    dst->planes[1] = uv;
    dst->pitches[0] = dst->pitches[1] = pitch;
    FakeStats* stats = s_;
    return std::shared_ptr<void>(buf, [stats](void* p) {
      delete static_cast<std::vector<uint8_t>*>(p);
      std::lock_guard<std::mutex> lk(stats->mu);
      --stats->live_copies;
    });
  }
  void set_copies(bool c) { copies_ = c; }

 private:
  FakeStats* s_;
  bool allow_no_ready_ = false;
  bool copies_ = true;
  pdq::PdqHasher hasher_;
};

GpuPdqSinkOptions fake_opts(FakeStats* s, int batch, VideoPdqMode mode = VideoPdqMode::kAuto) {
  GpuPdqSinkOptions o;
  o.mode = mode;
  o.batch = batch;
  o.make_hasher = [s](int) {
    std::lock_guard<std::mutex> lk(s->mu);
    ++s->made;
    return std::make_unique<FakeHasher>(s);
  };
  return o;
}

// A procedural NV12 frame (host memory).
video::test::Nv12Frame synthetic_frame(int64_t n, int w, int h) {
  video::test::Nv12Frame f;
  f.info.frame_number = n;
  f.info.timestamp = static_cast<float>(n) / 30.0f;
  f.info.target_width = f.width = w;
  f.info.target_height = f.height = h;
  const int cw = (w + 1) / 2, ch = (h + 1) / 2;
  f.y.resize(std::size_t(w) * h);
  f.uv.resize(std::size_t(2 * cw) * ch);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      f.y[std::size_t(y) * w + x] = static_cast<uint8_t>((x * 7 + y * 3 + n * 11 + ((x / 8 + y / 8 + n) % 3) * 40) & 255);
    }
  }
  for (std::size_t i = 0; i < f.uv.size(); ++i) f.uv[i] = static_cast<uint8_t>(100 + (i * 13 + n) % 57);
  return f;
}

TEST(GpuPdqSinkLogic, ParsesTheMode) {
  EXPECT_EQ(parse_video_pdq("auto"), VideoPdqMode::kAuto);
  EXPECT_EQ(parse_video_pdq("cpu"), VideoPdqMode::kCpu);
  EXPECT_EQ(parse_video_pdq("cuda"), VideoPdqMode::kCuda);
  EXPECT_THROW(parse_video_pdq("gpu"), InvalidArgument);
  EXPECT_THROW(parse_video_pdq(""), InvalidArgument);
}

TEST(GpuPdqSinkLogic, MatrixFromColourTags) {
  // AVColorSpace: 0 RGB, 1 BT709, 2 unspecified, 5 BT470BG, 6 SMPTE170M; range: 0 unspecified,
  // 1 MPEG (limited), 2 JPEG (full).
  EXPECT_EQ(yuv_matrix_for(1, 1), YuvMatrix::kBt709Limited);
  EXPECT_EQ(yuv_matrix_for(1, 0), YuvMatrix::kBt709Limited);
  EXPECT_EQ(yuv_matrix_for(1, 2), YuvMatrix::kBt709Limited);  // no full-range 709 matrix
  EXPECT_EQ(yuv_matrix_for(2, 0), YuvMatrix::kBt601Limited);
  EXPECT_EQ(yuv_matrix_for(2, 1), YuvMatrix::kBt601Limited);
  EXPECT_EQ(yuv_matrix_for(5, 1), YuvMatrix::kBt601Limited);
  EXPECT_EQ(yuv_matrix_for(6, 1), YuvMatrix::kBt601Limited);
  EXPECT_EQ(yuv_matrix_for(2, 2), YuvMatrix::kBt601Full);
  EXPECT_EQ(yuv_matrix_for(5, 2), YuvMatrix::kBt601Full);
  EXPECT_EQ(yuv_matrix_for(9, 1), YuvMatrix::kBt601Limited);  // BT.2020: no matrix, 601 as swscale

  const auto f = synthetic_frame(0, 33, 17);
  DeviceFrame d = f.view();
  d.colorspace = 1;
  d.color_range = 1;
  const FrameView v = device_frame_view(d);
  EXPECT_EQ(v.format, PixelFormat::kNv12);
  EXPECT_EQ(v.width, 33);
  EXPECT_EQ(v.height, 17);
  EXPECT_EQ(v.planes[0], f.y.data());
  EXPECT_EQ(v.planes[1], f.uv.data());
  EXPECT_EQ(v.pitches[0], 33);
  EXPECT_EQ(v.pitches[1], 34);
  EXPECT_EQ(v.matrix, YuvMatrix::kBt709Limited);
}

TEST(GpuPdqSinkLogic, WhichFramesTheGpuTakes) {
  const auto f = synthetic_frame(0, 64, 48);
  DeviceFrame d = f.view();
  FrameInfo i = f.info;
  EXPECT_EQ(device_frame_unsupported(i, d), "");
  d.layout = DevicePixelLayout::kP016;
  EXPECT_NE(device_frame_unsupported(i, d).find("P010"), std::string::npos);
  d.layout = DevicePixelLayout::kYuv444;
  EXPECT_NE(device_frame_unsupported(i, d).find("4:4:4"), std::string::npos);
  d.layout = DevicePixelLayout::kYuv444P16;
  EXPECT_NE(device_frame_unsupported(i, d).find("4:4:4"), std::string::npos);
  d.layout = DevicePixelLayout::kNv12;
  i.target_width = i.target_height = 128;  // --vpdq-size 128
  EXPECT_NE(device_frame_unsupported(i, d).find("vpdq-size"), std::string::npos);
  i = f.info;
  i.rotate_degrees = 90;
  EXPECT_NE(device_frame_unsupported(i, d).find("rotate"), std::string::npos);
  i = f.info;
  d.pitch[0] = 10;
  EXPECT_NE(device_frame_unsupported(i, d), "");
}

TEST(GpuPdqSinkLogic, ChoiceOfSinkPerVideo) {
  VideoOptions o;
  o.seconds_per_hash = 0;  // every frame
  PdqSinkChoice c = choose_pdq_sink(o, 1, true);
  EXPECT_TRUE(c.gpu && c.device && c.host_on_gpu);
  EXPECT_FALSE(choose_pdq_sink(o, 1, false).gpu);  // no CUDA in this build
  EXPECT_FALSE(choose_pdq_sink(o, 30, true).gpu);  // one hash per second: copy back is cheap
  o.keyframes_only = true;  // many frames hashed (fast triage): NVDEC frames as they are too
  c = choose_pdq_sink(o, 1, true);
  EXPECT_TRUE(c.gpu && c.host_on_gpu && c.device);
  EXPECT_EQ(c.why, "");
  o.keyframes_only = false;
  o.decoder = "cpu";
  c = choose_pdq_sink(o, 1, true);
  EXPECT_TRUE(c.gpu && c.host_on_gpu);
  EXPECT_FALSE(c.device);
  o.decoder = "cuda";
  EXPECT_TRUE(choose_pdq_sink(o, 1, true).device);
  o.size = 128;
  c = choose_pdq_sink(o, 1, true);
  EXPECT_TRUE(c.gpu && c.host_on_gpu);  // scaled host frames: exact on the GPU too
  EXPECT_FALSE(c.device);
  o.size = 0;
  o.apply_rotation = true;
  EXPECT_FALSE(choose_pdq_sink(o, 1, true).device);
  o.apply_rotation = false;
  o.pdq = "cpu";
  EXPECT_FALSE(choose_pdq_sink(o, 1, true).gpu);
  EXPECT_EQ(choose_pdq_sink(o, 1, true).why, "");
  o.pdq = "cuda";
  c = choose_pdq_sink(o, 30, true);  // forced: sampled frames too
  EXPECT_TRUE(c.gpu && c.device && c.host_on_gpu);
  o.keyframes_only = true;
  EXPECT_TRUE(choose_pdq_sink(o, 1, true).device);
  o.size = 64;
  c = choose_pdq_sink(o, 1, true);
  EXPECT_TRUE(c.gpu);
  EXPECT_FALSE(c.device);
  EXPECT_NE(c.why.find("vpdq-size"), std::string::npos);
  o.pdq = "bogus";
  EXPECT_THROW(choose_pdq_sink(o, 1, true), InvalidArgument);
}

// Host RGB frames batched to the GPU PDQ (host_on_gpu): same hashes as the CPU PDQ, batches of
// `batch` frames with no ready token when no device frame is in them, mixed batches with one,
// and RGB buffers handed back for reuse.
TEST(GpuPdqSinkLogic, HostFramesBatchedToTheGpu) {
  FakeStats stats;
  GpuPdqSinkOptions o = fake_opts(&stats, 4);
  o.host_on_gpu = true;
  GpuPdqSink sink(o);
  pdq::PdqHasher ref;
  std::vector<video::test::Nv12Frame> frames;
  for (int i = 0; i < 11; ++i) frames.push_back(synthetic_frame(i, 48, 40));
  for (auto& f : frames) {
    if (f.info.frame_number == 9) {  // one device frame: its batch is mixed and waits for it
      DeviceFrame d = f.view();
      ASSERT_TRUE(sink.takes_device_frame(f.info, d));
      sink.push_device(f.info, d);
      continue;
    }
    Image rgb = frame_to_image(device_frame_view(f.view()));
    Image buf = sink.take_buffer(rgb.pixels.capacity());  // empty at first, recycled later
    if (buf.pixels.capacity() > 0) {
      EXPECT_EQ(buf.pixels.capacity(), rgb.pixels.capacity());
    }
    sink.push_host(f.info, std::move(rgb));
  }
  const auto got = sink.finish();
  ASSERT_EQ(got.size(), 11u);
  for (std::size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].frame_number, int64_t(i));
    EXPECT_EQ(got[i].hash, ref.hash(frame_to_image(device_frame_view(frames[i].view()))).hash);
  }
  EXPECT_EQ(stats.made, 1);
  EXPECT_EQ(stats.batch_sizes, (std::vector<std::size_t>{4, 4, 3}));
  EXPECT_EQ(stats.host_in_batch, (std::vector<std::size_t>{4, 4, 2}));
  EXPECT_EQ(sink.device_frames(), 1);
  EXPECT_EQ(sink.host_frames(), 10);
  EXPECT_EQ(sink.gpu_host_frames(), 10);  // every host frame went through the (stand-in) GPU PDQ
  // A grey (1-channel) frame is not RGB: the CPU PDQ takes it.
  Image grey;
  grey.width = 20;
  grey.height = 20;
  grey.channels = 1;
  grey.pixels.assign(400, 77);
  FrameInfo gi;
  gi.frame_number = 0;
  sink.push_host(gi, std::move(grey));
  const auto g = sink.finish();
  ASSERT_EQ(g.size(), 1u);
  EXPECT_EQ(sink.device_frames(), 1);
  EXPECT_EQ(sink.gpu_host_frames(), 10);
}

// A sink lives for one video: the RGB buffers its frames came in go back to a pool the next
// video's sink takes from (video/host_frames.h), whichever kind of sink either is. Each sink of
// its own started every video with none: a fresh, zero-filled allocation per frame.
TEST(GpuPdqSinkLogic, HostFrameBuffersOutliveTheirSink) {
  // A capacity no other test in this process uses.
  const std::size_t bytes = 48 * 40 * 3 + 4099;
  auto frame_in_buffer = [&](Image buf, int64_t n) {
    Image rgb = frame_to_image(device_frame_view(synthetic_frame(n, 48, 40).view()));
    if (buf.pixels.capacity() == 0) buf.pixels.reserve(bytes);
    buf.width = rgb.width;
    buf.height = rgb.height;
    buf.channels = 3;
    buf.pixels.assign(rgb.pixels.begin(), rgb.pixels.end());
    return buf;
  };
  pdq::PdqHasher ref;
  for (int threads : {0, 2}) {
    SCOPED_TRACE(threads);
    {
      CpuPdqSink first(threads);
      std::vector<Image> three;  // three buffers at once (one at a time would be one buffer)
      for (int64_t n = 0; n < 3; ++n) {
        three.push_back(frame_in_buffer(first.take_buffer(bytes), n));
        ASSERT_EQ(three.back().pixels.capacity(), bytes);
      }
      for (int64_t n = 0; n < 3; ++n)
        first.push_host(FrameInfo{.frame_number = n}, std::move(three[n]));
      ASSERT_EQ(first.finish().size(), 3u);
    }
    // The next video, on a GPU sink (its host frames hashed by the stand-in) and then a CPU one.
    FakeStats stats;
    GpuPdqSinkOptions o = fake_opts(&stats, 2);
    o.host_on_gpu = true;
    {
      GpuPdqSink next(o);
      for (int64_t n = 0; n < 3; ++n) {
        Image buf = next.take_buffer(bytes);
        EXPECT_EQ(buf.pixels.capacity(), bytes) << "a fresh buffer for frame " << n;
        next.push_host(FrameInfo{.frame_number = n}, frame_in_buffer(std::move(buf), n));
      }
      const auto got = next.finish();
      ASSERT_EQ(got.size(), 3u);
      EXPECT_EQ(got[2].hash, ref.hash(frame_in_buffer({}, 2)).hash);
    }
    std::size_t on_gpu = 0;
    for (std::size_t h : stats.host_in_batch) on_gpu += h;
    EXPECT_EQ(on_gpu, 3u);
    CpuPdqSink last(threads);
    for (int64_t n = 0; n < 3; ++n) {
      Image buf = last.take_buffer(bytes);
      EXPECT_EQ(buf.pixels.capacity(), bytes);  // the GPU sink gave its host frames back too
      last.push_host(FrameInfo{.frame_number = n}, frame_in_buffer(std::move(buf), n));
    }
    EXPECT_EQ(last.finish().size(), 3u);
    // Another capacity is never handed out for this one.
    EXPECT_EQ(last.take_buffer(bytes + 1).pixels.capacity(), 0u);
  }
}

// The pool keeps at most its caps per sink alive, one sink's when none is left.
TEST(GpuPdqSinkLogic, HostFramePoolIsCapped) {
  for (int i = 0; i < 3 * int(kHostFramesFreePerUser); ++i) {
    Image img;
    img.pixels.reserve(1000 + i);
    give_host_frame(std::move(img));
  }
  EXPECT_LE(host_frames_free_count(), kHostFramesFreePerUser);
  Image big;
  big.pixels.reserve(kHostFramesFreeBytesPerUser + 1);  // alone over the byte cap: freed
  give_host_frame(std::move(big));
  EXPECT_EQ(take_host_frame(kHostFramesFreeBytesPerUser + 1).pixels.capacity(), 0u);
  // Empty images are not kept.
  const std::size_t before = host_frames_free_count();
  give_host_frame(Image{});
  EXPECT_EQ(host_frames_free_count(), before);
}

TEST(GpuPdqSinkLogic, BatchesKeepOrderAndBoundTheHeldFrames) {
  FakeStats stats;
  GpuPdqSink sink(fake_opts(&stats, 4));
  EXPECT_TRUE(sink.wants_device_frames());
  EXPECT_EQ(sink.max_held_device_frames(), 8);
  std::atomic<int> live{0}, max_live{0};
  pdq::PdqHasher ref;
  std::vector<VpdqFrame> want;
  int stream_tag = 0;
  for (int video = 0; video < 2; ++video) {  // the sink is reused for a second video
    want.clear();
    const int n = video == 0 ? 21 : 3;
    for (int i = 0; i < n; ++i) {
      auto f = synthetic_frame(i * 2, 48 + (i % 3) * 8, 40);  // mixed sizes in a batch
      f.colorspace = i % 2 ? 1 : 2;
      DeviceFrame d = f.view();
      d.cuda_stream = &stream_tag;
      ASSERT_TRUE(sink.takes_device_frame(f.info, d));
      // The hold keeps the frame's pixels alive (as it keeps an NVDEC surface busy).
      auto pixels = std::make_shared<video::test::Nv12Frame>(std::move(f));
      d = pixels->view();
      d.cuda_stream = &stream_tag;
      max_live = std::max(max_live.load(), ++live);
      d.hold = std::shared_ptr<void>(new int(0), [pixels, &live](void* p) {
        --live;
        delete static_cast<int*>(p);
      });
      sink.push_device(pixels->info, d);
      const pdq::PdqHash h = ref.hash(frame_to_image(device_frame_view(pixels->view())));
      want.push_back({pixels->info.frame_number, h.quality, h.hash, pixels->info.timestamp});
    }
    const std::vector<VpdqFrame> got = sink.finish();
    EXPECT_EQ(live.load(), 0);  // every surface released
    ASSERT_EQ(got.size(), want.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(got[i].frame_number, want[i].frame_number);
      EXPECT_EQ(got[i].timestamp, want[i].timestamp);
      EXPECT_EQ(got[i].hash, want[i].hash) << i;
      EXPECT_EQ(got[i].quality, want[i].quality);
    }
  }
  EXPECT_LE(max_live.load(), 8);
  EXPECT_EQ(stats.made, 1);  // one hasher for the sink's life
  EXPECT_EQ(stats.batch_sizes, (std::vector<std::size_t>{4, 4, 4, 4, 4, 1, 3}));
  for (void* s : stats.marked_streams) EXPECT_EQ(s, &stream_tag);
  EXPECT_EQ(stats.mark_thread, std::this_thread::get_id());  // marked on the decode thread
  EXPECT_NE(stats.hash_thread, std::this_thread::get_id());  // hashed beside it
  EXPECT_EQ(sink.device_frames(), 24);
  EXPECT_EQ(sink.host_frames(), 0);
  EXPECT_EQ(sink.note(), "");
}

// copy_device_frames: each surface is handed back when push_device returns, batches may be larger
// than NVDEC's surfaces allow, the copies are ordered on the decoder's stream and live at most
// 2 x batch at once; results as with held frames.
TEST(GpuPdqSinkLogic, CopiedFramesReleaseTheSurfaceAtOnce) {
  FakeStats stats;
  GpuPdqSinkOptions o = fake_opts(&stats, 16);
  o.copy_device_frames = true;
  GpuPdqSink sink(o);
  EXPECT_EQ(sink.batch(), 16);
  EXPECT_EQ(sink.max_held_device_frames(), 1);
  int stream_tag = 0;
  pdq::PdqHasher ref;
  std::vector<VpdqFrame> want;
  for (int i = 0; i < 41; ++i) {
    auto pixels = std::make_shared<video::test::Nv12Frame>(synthetic_frame(i, 49 + (i % 2) * 6, 31));
    DeviceFrame d = pixels->view();
    d.cuda_stream = &stream_tag;
    ASSERT_TRUE(sink.takes_device_frame(pixels->info, d));
    d.hold = pixels;
    const pdq::PdqHash h = ref.hash(frame_to_image(device_frame_view(pixels->view())));
    want.push_back({pixels->info.frame_number, h.quality, h.hash, pixels->info.timestamp});
    sink.push_device(pixels->info, d);
    d = DeviceFrame{};
    // The sink kept no hold on the decoder's surface, which the decoder then decodes the next
    // frames into: the hashes below must come from the copies.
    EXPECT_EQ(pixels.use_count(), 1) << i;
    std::fill(pixels->y.begin(), pixels->y.end(), uint8_t(0));
    std::fill(pixels->uv.begin(), pixels->uv.end(), uint8_t(255));
  }
  const std::vector<VpdqFrame> got = sink.finish();
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].frame_number, want[i].frame_number);
    EXPECT_EQ(got[i].hash, want[i].hash) << i;
    EXPECT_EQ(got[i].quality, want[i].quality) << i;
  }
  EXPECT_EQ(stats.batch_sizes, (std::vector<std::size_t>{16, 16, 9}));
  EXPECT_EQ(stats.copy_streams.size(), 41u);
  for (void* st : stats.copy_streams) EXPECT_EQ(st, &stream_tag);
  EXPECT_EQ(stats.live_copies, 0);
  EXPECT_LE(stats.max_live_copies, 2 * 16 + 1);
  EXPECT_EQ(sink.device_frames(), 41);

  // Without copying, batches stay within NVDEC's surfaces (clamped to 6).
  FakeStats held_stats;
  GpuPdqSink held(fake_opts(&held_stats, 16));
  EXPECT_EQ(held.batch(), 6);
  EXPECT_EQ(held.max_held_device_frames(), 12);
}

// A hasher that cannot copy under copy_device_frames is an error for the video, not a held surface
// past the decoder's spare count.
TEST(GpuPdqSinkLogic, CopyModeNeedsAHasherThatCopies) {
  FakeStats stats;
  GpuPdqSinkOptions o = fake_opts(&stats, 8);
  o.copy_device_frames = true;
  o.make_hasher = [&stats](int) {
    auto h = std::make_unique<FakeHasher>(&stats);
    h->set_copies(false);
    return h;
  };
  GpuPdqSink sink(o);
  auto f = synthetic_frame(0, 32, 32);
  DeviceFrame d = f.view();
  ASSERT_TRUE(sink.takes_device_frame(f.info, d));
  EXPECT_THROW(sink.push_device(f.info, d), Error);
  EXPECT_TRUE(sink.finish().empty());
}

TEST(GpuPdqSinkLogic, HostAndDeviceFramesMerge) {
  FakeStats stats;
  GpuPdqSink sink(fake_opts(&stats, 3));
  std::vector<video::test::Nv12Frame> frames;
  for (int i = 0; i < 10; ++i) frames.push_back(synthetic_frame(i, 64, 64));
  pdq::PdqHasher ref;
  for (auto& f : frames) {
    DeviceFrame d = f.view();
    if (f.info.frame_number % 3 == 1) {
      // A frame the sink refuses (as a 10-bit one) comes through the host.
      DeviceFrame p = d;
      p.layout = DevicePixelLayout::kP016;
      EXPECT_FALSE(sink.takes_device_frame(f.info, p));
      sink.push_host(f.info, frame_to_image(device_frame_view(d)));
    } else {
      ASSERT_TRUE(sink.takes_device_frame(f.info, d));
      sink.push_device(f.info, d);
    }
  }
  const auto got = sink.finish();
  ASSERT_EQ(got.size(), 10u);
  for (std::size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].frame_number, int64_t(i));
    const pdq::PdqHash h = ref.hash(frame_to_image(device_frame_view(frames[i].view())));
    EXPECT_EQ(got[i].hash, h.hash);
  }
  EXPECT_EQ(sink.host_frames(), 3);
  EXPECT_EQ(sink.device_frames(), 7);
  EXPECT_NE(sink.note().find("P010"), std::string::npos);
}

TEST(GpuPdqSinkLogic, GpuPdqThatCannotStart) {
  auto failing = [](int) -> std::unique_ptr<DeviceFrameHasher> {
    throw CudaError("GPU PDQ: no GPU (test)");
  };
  const auto f = synthetic_frame(0, 32, 32);
  {
    GpuPdqSinkOptions o;
    o.make_hasher = failing;
    GpuPdqSink sink(o);  // auto: the host path, with the reason
    EXPECT_TRUE(sink.wants_device_frames());
    EXPECT_FALSE(sink.takes_device_frame(f.info, f.view()));
    EXPECT_FALSE(sink.wants_device_frames());
    EXPECT_NE(sink.note().find("no GPU (test)"), std::string::npos);
    sink.push_host(f.info, frame_to_image(device_frame_view(f.view())));
    EXPECT_EQ(sink.finish().size(), 1u);
  }
  {
    GpuPdqSinkOptions o;
    o.mode = VideoPdqMode::kCuda;
    o.make_hasher = failing;
    GpuPdqSink sink(o);  // cuda: an error
    EXPECT_THROW(sink.takes_device_frame(f.info, f.view()), CudaError);
  }
  {
    GpuPdqSinkOptions o;
    o.mode = VideoPdqMode::kCpu;
    GpuPdqSink sink(o);
    EXPECT_FALSE(sink.wants_device_frames());
  }
  if (!gpu_pdq_built()) {
    EXPECT_THROW(make_gpu_frame_hasher(0), CudaError);
  }
}

TEST(GpuPdqSinkLogic, HashingErrorsReachTheCaller) {
  FakeStats stats;
  stats.fail_hash = true;
  GpuPdqSink sink(fake_opts(&stats, 2));
  std::vector<video::test::Nv12Frame> frames;
  for (int i = 0; i < 9; ++i) frames.push_back(synthetic_frame(i, 32, 32));
  bool thrown = false;
  try {
    for (auto& f : frames) {
      ASSERT_TRUE(sink.takes_device_frame(f.info, f.view()));
      sink.push_device(f.info, f.view());
    }
  } catch (const Error& e) {
    thrown = true;
    EXPECT_NE(std::string(e.what()).find("device fault"), std::string::npos);
  }
  EXPECT_TRUE(thrown);
  sink.cancel();
  EXPECT_THROW(sink.finish(), Error);
  // Usable again afterwards.
  stats.fail_hash = false;
  ASSERT_TRUE(sink.takes_device_frame(frames[0].info, frames[0].view()));
  sink.push_device(frames[0].info, frames[0].view());
  EXPECT_EQ(sink.finish().size(), 1u);
}

// The whole path on decoded pixels: a synthetic H.264 clip decoded by FFmpeg's software decoder,
// laid out as NVDEC's NV12, through the sink with the stand-in (= what the GPU computes), against
// hash_video's host path (vPDQ-exact): identical frame numbers and timestamps, a few bits of drift.
TEST(GpuPdqSinkLogic, DecodedClipAgainstTheHostPath) {
  hashmatch::test::TempDir d;
  SynthClipSpec s;
  s.width = 320;
  s.height = 180;
  s.frames = 30;
  write_synth_clip(d / "c.mp4", s);
  VideoOptions o;
  o.decoder = "cpu";
  o.pdq = "cpu";
  o.seconds_per_hash = 0;
  o.threads = 1;
  const VpdqResult host = hash_video(VideoInput::file(d / "c.mp4"), o);
  ASSERT_TRUE(host.ok()) << host.error;
  EXPECT_EQ(host.info.pdq, "");
  const auto frames = video::test::decode_nv12((d / "c.mp4").string());
  ASSERT_EQ(frames.size(), 30u);

  FakeStats stats;
  GpuPdqSink sink(fake_opts(&stats, 8));
  for (const auto& f : frames) {
    ASSERT_TRUE(sink.takes_device_frame(f.info, f.view()));
    sink.push_device(f.info, f.view());
  }
  const auto got = sink.finish();
  ASSERT_EQ(got.size(), host.frames.size());
  int identical = 0, worst = 0, total = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].frame_number, host.frames[i].frame_number);
    EXPECT_EQ(got[i].timestamp, host.frames[i].timestamp);
    const int dist = hamming_distance(got[i].hash, host.frames[i].hash);
    identical += dist == 0;
    worst = std::max(worst, dist);
    total += dist;
    EXPECT_LE(dist, kMaxDriftBits) << "frame " << i;
  }
  std::printf("[ gpu-sink-drift ] integer NV12 path vs swscale (vPDQ): %d/%zu identical, worst %d "
              "bits, mean %.2f\n",
              identical, got.size(), worst, double(total) / double(got.size()));
  EXPECT_LE(total, int(got.size()) * 6);

  // The stand-in is what the kernels compute: the CPU emulation of the GPU pipeline agrees.
  std::vector<pdq::test::EmuItem> items;
  for (int i = 0; i < 4; ++i) items.push_back({device_frame_view(frames[i * 7].view()), false});
  const auto emu = pdq::test::emulate_gpu_pipeline(items, 0, pdq::PlanLimits{}, false);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(emu[i].hashes[0], got[i * 7].hash) << "frame " << i * 7;
    EXPECT_EQ(emu[i].quality, got[i * 7].quality);
  }
}

TEST(GpuPdqSinkLogic, HashVideoWithoutNvdecStaysOnTheHostPath) {
  hashmatch::test::TempDir d;
  SynthClipSpec s;
  s.width = 160;
  s.height = 96;
  s.frames = 10;
  write_synth_clip(d / "c.mp4", s);
  VideoOptions o;
  o.decoder = "cpu";
  o.seconds_per_hash = 0;
  o.threads = 1;
  o.pdq = "cpu";
  const VpdqResult a = hash_video(VideoInput::file(d / "c.mp4"), o);
  o.pdq = "auto";
  const VpdqResult b = hash_video(VideoInput::file(d / "c.mp4"), o);
  o.pdq = "cuda";
  const VpdqResult c = hash_video(VideoInput::file(d / "c.mp4"), o);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok()) << a.error << b.error << c.error;
  ASSERT_EQ(a.frames.size(), 10u);
  // Every frame hashed: host RGB frames go to the GPU PDQ when there is one (bit-exact), else the
  // CPU PDQ; the hashes are the same either way.
  for (const VpdqResult* r : {&b, &c}) {
    EXPECT_EQ(r->info.pdq, "");  // "cuda" marks NVDEC frames hashed as they are (not exact)
    ASSERT_EQ(r->frames.size(), a.frames.size());
    for (std::size_t i = 0; i < a.frames.size(); ++i) {
      EXPECT_EQ(r->frames[i].hash, a.frames[i].hash) << i;
      EXPECT_EQ(r->frames[i].quality, a.frames[i].quality) << i;
    }
  }
  EXPECT_NE(c.info.note.find(gpu_available() ? "host PDQ (on the GPU)" : "host PDQ"), std::string::npos)
      << c.info.note;
  if (!gpu_available() && !gpu_required()) {
    // decoder auto without a GPU: a GpuPdqSink when built (pdq cuda), fed host frames only.
    o.decoder = "auto";
    const VpdqResult e = hash_video(VideoInput::file(d / "c.mp4"), o);
    ASSERT_TRUE(e.ok()) << e.error;
    EXPECT_EQ(e.info.decoder, "cpu");
    EXPECT_EQ(e.info.pdq, "");
    ASSERT_EQ(e.frames.size(), a.frames.size());
    for (std::size_t i = 0; i < a.frames.size(); ++i) EXPECT_EQ(e.frames[i].hash, a.frames[i].hash);
    o.decoder = "cpu";
  }
  o.pdq = "gpu";
  EXPECT_THROW(hash_video(VideoInput::file(d / "c.mp4"), o), InvalidArgument);
}

}  // namespace
}  // namespace hashmatch::video
