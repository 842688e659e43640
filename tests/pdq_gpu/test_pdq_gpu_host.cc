// CPU-only tests (label cpu) of the host-side logic of the GPU PDQ backend: batch planning, the
// YUV -> RGB conversion, the nvJPEG routing, backend selection, and the CPU emulation of the GPU
// kernels against the CPU reference (golden images, generated images, YUV frames, prescale).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <sys/wait.h>
#include <cstdio>
#include <map>

#include "host/common/error.h"
#include "host/image/decode.h"
#include "host/pdq/batch_plan.h"
#include "host/pdq/frame.h"
#include "host/pdq/jpeg_route.h"
#include "host/pdq/pdq.h"
#include "host/pdq/pdq_backend.h"
#include "host/pdq/synthetic_images.h"
#include "kernels/rt/device.h"
#include "tests/pdq_gpu/emulation.h"
#include "tests/pdq_gpu/golden.h"
#include "tests/testutil/testutil.h"

namespace hashmatch::pdq {
namespace {

using test::EmuItem;
using test::emulate_gpu_pipeline;

// ---------------------------------------------------------------------------------------------
// Batch planning

TEST(BatchPlan, GeometryAndModes) {
  EXPECT_EQ(plan_geometry(4, 100, 0).mode, GpuMode::kTiny);
  EXPECT_EQ(plan_geometry(100, 4, 0).mode, GpuMode::kTiny);
  EXPECT_EQ(plan_geometry(5, 5, 0).mode, GpuMode::kFilter);
  EXPECT_EQ(plan_geometry(64, 64, 0).mode, GpuMode::kDirect);
  EXPECT_EQ(plan_geometry(64, 65, 0).mode, GpuMode::kFilter);
  ImagePlan p = plan_geometry(600, 400, 512);
  EXPECT_TRUE(p.prescaled);
  EXPECT_EQ(p.rows, 512);
  EXPECT_EQ(p.cols, 512);
  p = plan_geometry(512, 512, 512);
  EXPECT_FALSE(p.prescaled);
  p = plan_geometry(3, 700, 512);  // tiny before, stretched to 512 x 512 by the prescale
  EXPECT_TRUE(p.prescaled);
  EXPECT_EQ(p.mode, GpuMode::kFilter);
  p = plan_geometry(64, 64, 64);
  EXPECT_EQ(p.mode, GpuMode::kDirect);
  p = plan_geometry(100, 30, 64);
  EXPECT_TRUE(p.prescaled);
  EXPECT_EQ(p.mode, GpuMode::kDirect);
}

void check_plan(std::span<const PlanInput> in, const BatchPlan& plan, const PlanLimits& lim) {
  ASSERT_EQ(plan.images.size(), in.size());
  std::size_t expect_begin = 0;
  for (const Chunk& c : plan.chunks) {
    ASSERT_EQ(c.begin, expect_begin);
    ASSERT_GT(c.end, c.begin);
    expect_begin = c.end;
    EXPECT_LE(int(c.end - c.begin), lim.max_images);
    if (c.end - c.begin > 1) {
      EXPECT_LE(c.arena_floats, lim.arena_floats);
      EXPECT_LE(c.staging_bytes, lim.staging_bytes);
    }
    // Regions of distinct images never overlap and stay inside the chunk's arena.
    std::vector<std::pair<std::size_t, std::size_t>> spans, stage;
    int groups = 0;
    int64_t cols = 0;
    for (std::size_t i = c.begin; i < c.end; ++i) {
      const ImagePlan& p = plan.images[i];
      EXPECT_EQ(p.group_begin, groups);
      EXPECT_EQ(p.col_begin, cols);
      if (p.mode != GpuMode::kTiny) groups += (p.rows + kRowGroup - 1) / kRowGroup;
      if (p.mode == GpuMode::kFilter) {
        cols += p.cols;
        const std::size_t plane = std::size_t(p.rows) * p.cols;
        spans.push_back({p.tmp_off, p.tmp_off + plane});
        spans.push_back({p.buf_off, p.buf_off + plane});
        spans.push_back({p.nar_off, p.nar_off + std::size_t(p.rows) * 64});
        EXPECT_EQ(p.tmp_off % kArenaAlign, 0u);
      } else if (p.mode == GpuMode::kDirect) {
        spans.push_back({p.a64_off, p.a64_off + 4096});
      }
      if (in[i].staged_bytes) stage.push_back({p.staging_off, p.staging_off + in[i].staged_bytes});
    }
    EXPECT_EQ(groups, c.row_groups);
    EXPECT_EQ(cols, c.columns);
    for (auto* v : {&spans, &stage}) {
      std::sort(v->begin(), v->end());
      for (std::size_t k = 0; k < v->size(); ++k) {
        if (k) {
          EXPECT_LE((*v)[k - 1].second, (*v)[k].first) << "overlap";
        }
      }
    }
    if (!spans.empty()) {
      EXPECT_LE(spans.back().second, c.arena_floats);
    }
    if (!stage.empty()) {
      EXPECT_LE(stage.back().second, c.staging_bytes);
    }
  }
  EXPECT_EQ(expect_begin, in.size());
}

TEST(BatchPlan, RandomBatchesRespectLimits) {
  std::mt19937 rng(7);
  for (int round = 0; round < 200; ++round) {
    std::vector<PlanInput> in(1 + rng() % 60);
    for (PlanInput& p : in) {
      p.width = 1 + rng() % 900;
      p.height = 1 + rng() % 900;
      if (rng() % 10 == 0) p.width = p.height = 64;
      p.staged_bytes = (rng() % 2) ? std::size_t(p.width) * p.height * 3 : 0;
    }
    PlanLimits lim;
    lim.arena_floats = 1000 + rng() % 3'000'000;
    lim.staging_bytes = 1000 + rng() % 5'000'000;
    lim.max_images = 1 + rng() % 20;
    const int prescale = (rng() % 3 == 0) ? 512 : 0;
    const BatchPlan plan = plan_batch(in, prescale, lim);
    check_plan(in, plan, lim);
  }
}

TEST(BatchPlan, HugeImageGetsItsOwnChunk) {
  std::vector<PlanInput> in = {{100, 100, 0}, {4000, 3000, 0}, {100, 100, 0}};
  PlanLimits lim;
  lim.arena_floats = 1'000'000;
  const BatchPlan plan = plan_batch(in, 0, lim);
  ASSERT_EQ(plan.chunks.size(), 3u);
  EXPECT_GT(plan.chunks[1].arena_floats, lim.arena_floats);
  EXPECT_EQ(plan.chunks[1].end - plan.chunks[1].begin, 1u);
}

TEST(BatchPlan, EmptyBatchAndBadLimits) {
  EXPECT_TRUE(plan_batch({}, 0, PlanLimits{}).chunks.empty());
  PlanLimits bad;
  bad.max_images = 0;
  std::vector<PlanInput> one = {{10, 10, 0}};
  EXPECT_THROW(plan_batch(one, 0, bad), InvalidArgument);
}

// ---------------------------------------------------------------------------------------------
// YUV -> RGB

TEST(YuvToRgb, KnownValues) {
  for (YuvMatrix m : {YuvMatrix::kBt601Limited, YuvMatrix::kBt709Limited}) {
    const Rgb8 black = yuv_to_rgb(16, 128, 128, m), white = yuv_to_rgb(235, 128, 128, m);
    EXPECT_EQ(black.r, 0);
    EXPECT_EQ(black.g, 0);
    EXPECT_EQ(black.b, 0);
    EXPECT_EQ(white.r, 255);
    EXPECT_EQ(white.g, 255);
    EXPECT_EQ(white.b, 255);
    for (int y = 16; y <= 235; ++y) {
      const Rgb8 g = yuv_to_rgb(y, 128, 128, m);
      EXPECT_EQ(g.r, g.g);
      EXPECT_EQ(g.g, g.b);
    }
    EXPECT_EQ(yuv_to_rgb(0, 128, 128, m).r, 0);    // clamped below
    EXPECT_EQ(yuv_to_rgb(255, 128, 128, m).r, 255);  // clamped above
  }
  for (int y = 0; y < 256; ++y) {  // full range keeps grey exactly
    const Rgb8 g = yuv_to_rgb(y, 128, 128, YuvMatrix::kBt601Full);
    EXPECT_EQ(g.r, y);
    EXPECT_EQ(g.g, y);
    EXPECT_EQ(g.b, y);
  }
}

TEST(YuvToRgb, WithinOneOfTheRealValuedMatrices) {
  struct M { YuvMatrix m; double kr, kb; bool limited; };
  const M ms[] = {{YuvMatrix::kBt601Limited, 0.299, 0.114, true},
                  {YuvMatrix::kBt709Limited, 0.2126, 0.0722, true},
                  {YuvMatrix::kBt601Full, 0.299, 0.114, false}};
  std::mt19937 rng(3);
  for (const M& m : ms) {
    const double kg = 1 - m.kr - m.kb;
    for (int n = 0; n < 20000; ++n) {
      const int y = rng() % 256, u = rng() % 256, v = rng() % 256;
      const double yy = m.limited ? (y - 16) * 255.0 / 219.0 : y;
      const double pb = m.limited ? (u - 128) * 255.0 / 224.0 : u - 128;
      const double pr = m.limited ? (v - 128) * 255.0 / 224.0 : v - 128;
      const double r = yy + 2 * (1 - m.kr) * pr;
      const double b = yy + 2 * (1 - m.kb) * pb;
      const double g = (yy - m.kr * r - m.kb * b) / kg;
      auto c = [](double x) { return std::clamp(x, 0.0, 255.0); };
      const Rgb8 o = yuv_to_rgb(y, u, v, m.m);
      EXPECT_NEAR(o.r, c(r), 1.01) << y << " " << u << " " << v;
      EXPECT_NEAR(o.g, c(g), 1.01) << y << " " << u << " " << v;
      EXPECT_NEAR(o.b, c(b), 1.01) << y << " " << u << " " << v;
    }
  }
}

TEST(FrameToImage, Nv12AndI420AgreeAndUseNearestChroma) {
  for (auto [w, h] : std::vector<std::pair<int, int>>{{1, 1}, {2, 2}, {5, 3}, {17, 9}, {64, 64}}) {
    OwnedFrame i420 = synthetic_frame(w, h, PixelFormat::kI420, YuvMatrix::kBt709Limited, w * 31 + h);
    // The same samples as NV12, with padded pitches.
    const int cw = (w + 1) / 2, ch = (h + 1) / 2;
    const int ypitch = w + 7, uvpitch = 2 * cw + 5;
    std::vector<uint8_t> y(std::size_t(ypitch) * h, 0xEE), uv(std::size_t(uvpitch) * ch, 0xEE);
    for (int r = 0; r < h; ++r) {
      for (int c = 0; c < w; ++c) y[r * ypitch + c] = i420.view.planes[0][r * i420.view.pitches[0] + c];
    }
    for (int r = 0; r < ch; ++r) {
      for (int c = 0; c < cw; ++c) {
        uv[r * uvpitch + 2 * c] = i420.view.planes[1][r * i420.view.pitches[1] + c];
        uv[r * uvpitch + 2 * c + 1] = i420.view.planes[2][r * i420.view.pitches[2] + c];
      }
    }
    FrameView nv12;
    nv12.format = PixelFormat::kNv12;
    nv12.width = w;
    nv12.height = h;
    nv12.planes[0] = y.data();
    nv12.planes[1] = uv.data();
    nv12.pitches[0] = ypitch;
    nv12.pitches[1] = uvpitch;
    nv12.matrix = YuvMatrix::kBt709Limited;
    const Image a = frame_to_image(i420.view), b = frame_to_image(nv12);
    ASSERT_EQ(a.pixels, b.pixels);
    ASSERT_EQ(a.channels, 3);
    // Pixel (x, y) from chroma (x/2, y/2).
    const int x = w - 1, yy = h - 1;
    const Rgb8 want = yuv_to_rgb(i420.view.planes[0][yy * i420.view.pitches[0] + x],
                                 i420.view.planes[1][(yy / 2) * i420.view.pitches[1] + x / 2],
                                 i420.view.planes[2][(yy / 2) * i420.view.pitches[2] + x / 2],
                                 YuvMatrix::kBt709Limited);
    EXPECT_EQ(a.row(yy)[3 * x], want.r);
    EXPECT_EQ(a.row(yy)[3 * x + 1], want.g);
    EXPECT_EQ(a.row(yy)[3 * x + 2], want.b);
  }
}

TEST(FrameToImage, RgbAndGreyWithPaddedPitch) {
  const Image src = synthetic_image(13, 7, 3, Pattern::kNoise, 1);
  std::vector<uint8_t> padded(20 * 3 * 7, 0xAB);
  for (int r = 0; r < 7; ++r) std::copy(src.row(r), src.row(r) + 39, padded.data() + r * 60);
  FrameView f;
  f.format = PixelFormat::kRgb24;
  f.width = 13;
  f.height = 7;
  f.planes[0] = padded.data();
  f.pitches[0] = 60;
  EXPECT_EQ(frame_to_image(f).pixels, src.pixels);
  f.pitches[0] = 38;
  EXPECT_THROW(frame_to_image(f), InvalidArgument);
  f.pitches[0] = 60;
  f.planes[0] = nullptr;
  EXPECT_THROW(frame_to_image(f), InvalidArgument);
  f.planes[0] = padded.data();
  f.width = 0;
  EXPECT_THROW(frame_to_image(f), InvalidArgument);
  EXPECT_EQ(parse_yuv_matrix("bt709"), YuvMatrix::kBt709Limited);
  EXPECT_THROW(parse_yuv_matrix("bt2020"), InvalidArgument);
}

// ---------------------------------------------------------------------------------------------
// nvJPEG routing

std::vector<uint8_t> fake_jpeg(uint8_t sof, int comps, bool jfif, int adobe, bool eoi,
                               const char* ids = "\1\2\3\4") {
  std::vector<uint8_t> d = {0xFF, 0xD8};
  auto seg = [&](uint8_t m, std::vector<uint8_t> body) {
    d.push_back(0xFF);
    d.push_back(m);
    const std::size_t len = body.size() + 2;
    d.push_back(uint8_t(len >> 8));
    d.push_back(uint8_t(len));
    d.insert(d.end(), body.begin(), body.end());
  };
  if (jfif) seg(0xE0, {'J', 'F', 'I', 'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0});
  if (adobe >= 0) seg(0xEE, {'A', 'd', 'o', 'b', 'e', 0, 100, 0, 0, 0, 0, uint8_t(adobe)});
  std::vector<uint8_t> sofb = {8, 0x01, 0x2C, 0x01, 0x90, uint8_t(comps)};  // 300 high, 400 wide
  for (int c = 0; c < comps; ++c) {
    sofb.push_back(uint8_t(ids[c]));
    sofb.push_back(0x11);
    sofb.push_back(0);
  }
  seg(sof, sofb);
  seg(0xDA, {1, 1, 0, 0, 63, 0});
  for (int k = 0; k < 100; ++k) d.push_back(uint8_t(k * 7));
  if (eoi) {
    d.push_back(0xFF);
    d.push_back(0xD9);
  }
  return d;
}

TEST(JpegRoute, EligibilityFromHeaders) {
  std::string why;
  JpegHeaderInfo h = parse_jpeg_header(fake_jpeg(0xC0, 3, true, -1, true));
  ASSERT_TRUE(h.valid);
  EXPECT_EQ(h.width, 400);
  EXPECT_EQ(h.height, 300);
  EXPECT_TRUE(gpu_jpeg_eligible(h, &why)) << why;
  EXPECT_TRUE(gpu_jpeg_eligible(parse_jpeg_header(fake_jpeg(0xC0, 1, false, -1, true))));
  EXPECT_TRUE(gpu_jpeg_eligible(parse_jpeg_header(fake_jpeg(0xC1, 3, false, 1, true))));
  EXPECT_FALSE(gpu_jpeg_eligible(parse_jpeg_header(fake_jpeg(0xC2, 3, true, -1, true)), &why));
  EXPECT_EQ(why, "progressive");
  EXPECT_FALSE(gpu_jpeg_eligible(parse_jpeg_header(fake_jpeg(0xC0, 4, false, 2, true)), &why));
  EXPECT_EQ(why, "cmyk");
  EXPECT_FALSE(gpu_jpeg_eligible(parse_jpeg_header(fake_jpeg(0xC0, 3, true, -1, false)), &why));
  EXPECT_EQ(why, "truncated");
  EXPECT_FALSE(gpu_jpeg_eligible(parse_jpeg_header(fake_jpeg(0xC0, 3, false, 0, true)), &why));
  EXPECT_FALSE(gpu_jpeg_eligible(parse_jpeg_header(fake_jpeg(0xC0, 3, false, -1, true, "RGB"))));
  EXPECT_FALSE(gpu_jpeg_eligible(parse_jpeg_header(fake_jpeg(0xC3, 3, true, -1, true))));
  const std::vector<uint8_t> png = {0x89, 'P', 'N', 'G', 13, 10, 26, 10};
  EXPECT_FALSE(parse_jpeg_header(png).valid);
  EXPECT_FALSE(parse_jpeg_header({}).valid);
}

TEST(JpegRoute, SharedJpegsParseToTheDecodedSize) {
  int checked = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(hashmatch::test::testdata_dir() / "pdq")) {
    if (!e.is_regular_file()) continue;
    const auto bytes = hashmatch::test::read_file(e.path());
    if (sniff_format(bytes) != MediaFormat::kJpeg) continue;
    const JpegHeaderInfo h = parse_jpeg_header(bytes);
    ASSERT_TRUE(h.valid) << e.path();
    const Image img = decode_image(bytes, DecodeLimits{});
    EXPECT_EQ(h.width, img.width) << e.path();
    EXPECT_EQ(h.height, img.height) << e.path();
    ++checked;
  }
  EXPECT_GT(checked, 10);
}

// ---------------------------------------------------------------------------------------------
// Backend selection

TEST(Backend, ParseAndSelect) {
  EXPECT_EQ(parse_backend("cpu"), BackendKind::kCpu);
  EXPECT_EQ(parse_backend("cuda"), BackendKind::kCuda);
  EXPECT_EQ(parse_backend("auto"), BackendKind::kAuto);
  EXPECT_THROW(parse_backend("gpu"), InvalidArgument);
  BatchOptions o;
  o.jobs = 2;
  std::string why;
  EXPECT_EQ(make_batch_hasher(BackendKind::kCpu, o, &why)->backend(), "cpu");
  if (!gpu_available()) {
    // This test binary does not link the CUDA backend, and/or there is no GPU.
    EXPECT_THROW(make_batch_hasher(BackendKind::kCuda, o), CudaError);
    if (!gpu_required()) {
      auto h = make_batch_hasher(BackendKind::kAuto, o, &why);
      EXPECT_EQ(h->backend(), "cpu");
      EXPECT_NE(why.find("cpu"), std::string::npos) << why;
    } else {
      EXPECT_THROW(make_batch_hasher(BackendKind::kAuto, o), CudaError);
    }
  }
}

TEST(Backend, CpuBatchHasherMatchesPdqHasherForAnyThreadCount) {
  std::vector<Image> imgs;
  for (int i = 0; i < 12; ++i) imgs.push_back(synthetic_image(40 + 13 * i, 90 - 5 * i, 1 + 2 * (i % 2), Pattern(i % 7), i));
  std::vector<const Image*> ptrs;
  for (const Image& im : imgs) ptrs.push_back(&im);
  for (int jobs : {1, 3}) {
    BatchOptions o;
    o.jobs = jobs;
    CpuBatchHasher h(o);
    const auto r = h.hash_images(ptrs, true);
    PdqHasher ref;
    for (std::size_t i = 0; i < imgs.size(); ++i) {
      const PdqDihedral want = ref.hash_dihedral(imgs[i]);
      EXPECT_EQ(r[i].hashes, want.hashes);
      EXPECT_EQ(r[i].quality, want.quality);
    }
    const auto r0 = h.hash_images(ptrs, false);
    for (std::size_t i = 0; i < imgs.size(); ++i) {
      EXPECT_EQ(r0[i].hashes[0], r[i].hashes[0]);
      EXPECT_TRUE(r0[i].hashes[1].is_zero());
    }
  }
  std::vector<const Image*> bad = {nullptr};
  CpuBatchHasher h(BatchOptions{});
  EXPECT_THROW(h.hash_images(bad, false), InvalidArgument);
}

// ---------------------------------------------------------------------------------------------
// CPU emulation of the GPU kernels == CPU reference

PlanLimits small_limits() {
  PlanLimits l;
  l.arena_floats = 3'000'000;  // forces several chunks
  l.max_images = 37;
  return l;
}

EmuItem item_of(const Image& img) {
  EmuItem it;
  it.view.format = img.channels == 1 ? PixelFormat::kGrey : PixelFormat::kRgb24;
  it.view.width = img.width;
  it.view.height = img.height;
  it.view.planes[0] = img.pixels.data();
  it.view.pitches[0] = static_cast<int>(img.row_bytes());
  return it;
}

void expect_same(const PdqDihedral& got, const PdqDihedral& want, const std::string& what,
                 bool dihedral = true) {
  EXPECT_EQ(got.quality, want.quality) << what;
  for (int v = 0; v < (dihedral ? kNumDihedral : 1); ++v) {
    EXPECT_EQ(got.hashes[v].to_hex(), want.hashes[v].to_hex()) << what << " variant " << v;
  }
}

TEST(GpuEmulation, GoldenImagesBothPipelines) {
  const auto rows = test::load_golden();
  std::map<std::string, Image> images;
  for (const auto& r : rows) {
    if (!images.count(r.file)) images[r.file] = test::decode_golden(r.file);
  }
  for (int prescale : {0, 512}) {
    std::vector<EmuItem> items;
    std::vector<std::string> names;
    for (const auto& [name, img] : images) {
      items.push_back(item_of(img));
      names.push_back(name);
    }
    const auto got = emulate_gpu_pipeline(items, prescale, small_limits(), true);
    const std::string variant = prescale ? "cli512" : "fullres";
    int compared = 0;
    for (const auto& r : rows) {
      if (r.variant != variant) continue;
      const std::size_t i = std::find(names.begin(), names.end(), r.file) - names.begin();
      ASSERT_LT(i, names.size());
      EXPECT_EQ(got[i].quality, r.quality) << r.file << " " << variant;
      for (int v = 0; v < kNumDihedral; ++v) {
        EXPECT_EQ(got[i].hashes[v].to_hex(), r.hex[v]) << r.file << " " << variant << " variant " << v;
      }
      ++compared;
    }
    EXPECT_EQ(compared, static_cast<int>(images.size()));
  }
}

TEST(GpuEmulation, GeneratedImagesMixedSizes) {
  const auto sizes = pdq_test_sizes(110, 700, 11);
  std::vector<Image> imgs;
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    imgs.push_back(synthetic_image(sizes[i].first, sizes[i].second, (i % 3 == 1) ? 1 : 3,
                                   Pattern(i % int(Pattern::kCount)), uint32_t(i)));
  }
  std::vector<EmuItem> items;
  for (const Image& im : imgs) items.push_back(item_of(im));
  for (bool dihedral : {true, false}) {
    const auto got = emulate_gpu_pipeline(items, 0, small_limits(), dihedral);
    PdqHasher ref;
    for (std::size_t i = 0; i < imgs.size(); ++i) {
      const std::string what = std::to_string(imgs[i].width) + "x" + std::to_string(imgs[i].height) +
                               " pattern " + std::to_string(i % int(Pattern::kCount));
      expect_same(got[i], ref.hash_dihedral(imgs[i]), what, dihedral);
      if (!dihedral) {
        for (int v = 1; v < kNumDihedral; ++v) EXPECT_TRUE(got[i].hashes[v].is_zero()) << what;
      }
    }
  }
}

TEST(GpuEmulation, PrescalePipeline) {
  const std::vector<std::pair<int, int>> sizes = {{600, 400}, {513, 20}, {3, 900}, {512, 512}, {1000, 1000}, {700, 64}};
  std::vector<Image> imgs;
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    imgs.push_back(synthetic_image(sizes[i].first, sizes[i].second, 3, Pattern(i % 7), 100 + i));
  }
  std::vector<EmuItem> items;
  for (const Image& im : imgs) items.push_back(item_of(im));
  for (int prescale : {512, 64}) {
    const auto got = emulate_gpu_pipeline(items, prescale, small_limits(), true);
    PdqHasher ref(prescale);
    for (std::size_t i = 0; i < imgs.size(); ++i) {
      expect_same(got[i], ref.hash_dihedral(imgs[i]), "prescale " + std::to_string(prescale) + " image " + std::to_string(i));
    }
  }
}

TEST(GpuEmulation, YuvFramesMatchCpuOfConvertedImage) {
  std::vector<OwnedFrame> frames;
  int k = 0;
  for (auto [w, h] : std::vector<std::pair<int, int>>{{64, 64}, {65, 33}, {320, 240}, {7, 5}, {3, 3}, {255, 129}}) {
    for (PixelFormat f : {PixelFormat::kNv12, PixelFormat::kI420}) {
      frames.push_back(synthetic_frame(w, h, f, YuvMatrix(k % 3), 50 + k));
      ++k;
    }
  }
  std::vector<EmuItem> items;
  for (const OwnedFrame& f : frames) items.push_back(EmuItem{f.view, false});
  const auto got = emulate_gpu_pipeline(items, 0, small_limits(), true);
  PdqHasher ref;
  for (std::size_t i = 0; i < frames.size(); ++i) {
    expect_same(got[i], ref.hash_dihedral(frame_to_image(frames[i].view)), "frame " + std::to_string(i));
  }
}

TEST(GpuEmulation, GreyFromRgbiPlane) {
  const Image grey = synthetic_image(77, 91, 1, Pattern::kText, 5);
  std::vector<uint8_t> rgbi(grey.pixels.size() * 3);
  std::mt19937 rng(1);
  for (std::size_t i = 0; i < grey.pixels.size(); ++i) {
    rgbi[3 * i] = grey.pixels[i];
    rgbi[3 * i + 1] = uint8_t(rng());
    rgbi[3 * i + 2] = uint8_t(rng());
  }
  EmuItem it;
  it.view.format = PixelFormat::kRgb24;
  it.view.width = 77;
  it.view.height = 91;
  it.view.planes[0] = rgbi.data();
  it.view.pitches[0] = 77 * 3;
  it.grey_step3 = true;
  const auto got = emulate_gpu_pipeline(std::span(&it, 1), 0, PlanLimits{}, true);
  PdqHasher ref;
  expect_same(got[0], ref.hash_dihedral(grey), "grey_step3");
}

// ---------------------------------------------------------------------------------------------
// hashmatch hash: the batched pipeline (as used with a GPU) prints exactly what the CPU path prints.

namespace cli {

std::string run(const std::string& cmd, int* status) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return out;
  char buf[4096];
  std::size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  *status = pclose(p);
  return out;
}

TEST(HashCli, BatchedPipelineOutputIsIdentical) {
  const std::string bin = HASHMATCH_BINARY;
  const auto td = hashmatch::test::testdata_dir() / "pdq";
  hashmatch::test::TempDir tmp;
  hashmatch::test::write_file(tmp / "truncated.jpg", {0xFF, 0xD8, 0xFF, 0xE0});
  std::string dir;  // a few small files of several formats, an unreadable path, a bad file
  for (const char* f : {"misc-images/small.jpg", "misc-images/wee.jpg", "misc-images/modes/1.png",
                        "misc-images/modes/CMYK.jpg", "misc-images/modes/P.png", "bridge-mods/aaa-orig.jpg"}) {
    dir += (td / f).string() + " ";
  }
  dir += (tmp / "truncated.jpg").string();
  for (const std::string args : {"--dihedral --jobs 2", "--format pdq --pdq-prescale 512 --jobs 3"}) {
    int s1 = 0, s2 = 0;
    const std::string a = run(bin + " hash --backend cpu " + args + " " + dir + " /nonexistent 2>&1", &s1);
    const std::string b = run("HASHMATCH_HASH_BATCHED=1 " + bin + " hash --backend auto --gpu-batch 4 " +
                              args + " " + dir + " /nonexistent 2>&1", &s2);
    EXPECT_EQ(a, b) << args;
    EXPECT_EQ(s1, s2);
    EXPECT_GE(std::count(a.begin(), a.end(), '\n'), 7) << a;
  }
  int s = 0;
  const std::string bad = run(bin + " hash --backend gpu " + dir + " 2>&1", &s);
  EXPECT_NE(bad.find("--backend must be cpu, cuda or auto"), std::string::npos) << bad;
  EXPECT_EQ(WEXITSTATUS(s), 2);
  if (!gpu_available()) {
    const std::string none = run(bin + " hash --backend cuda " + dir + " 2>&1", &s);
    EXPECT_NE(none.find("--backend cuda: "), std::string::npos) << none;
    EXPECT_EQ(WEXITSTATUS(s), 1);
  }
}

}  // namespace cli
}  // namespace
}  // namespace hashmatch::pdq
