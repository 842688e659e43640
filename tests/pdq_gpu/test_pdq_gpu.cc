// GPU PDQ (label gpu): the real kernels against the CPU reference, bit for bit. Skips without a
// device; fails with HASHMATCH_REQUIRE_GPU=1 (scripts/gpu-pdq-check.sh).
#include <gtest/gtest.h>

#include <map>
#include <random>

#include "host/common/error.h"
#include "host/image/decode.h"
#include "host/pdq/pdq_backend.h"
#include "host/pdq/synthetic_images.h"
#include "kernels/pdq/gpu_jpeg.h"
#include "kernels/pdq/gpu_pdq.h"
#include "kernels/rt/cuda_rt.h"
#include "kernels/rt/device.h"
#include "tests/pdq_gpu/golden.h"
#include "tests/testutil/testutil.h"

namespace hashmatch::pdq {
namespace {

class PdqGpu : public hashmatch::test::GpuTest {};

void expect_same(const PdqDihedral& got, const PdqDihedral& want, const std::string& what,
                 bool dihedral = true) {
  EXPECT_EQ(got.quality, want.quality) << what;
  for (int v = 0; v < kNumDihedral; ++v) {
    if (dihedral || v == 0) {
      EXPECT_EQ(got.hashes[v].to_hex(), want.hashes[v].to_hex()) << what << " variant " << v;
    } else {
      EXPECT_TRUE(got.hashes[v].is_zero()) << what << " variant " << v;
    }
  }
}

std::vector<const Image*> ptrs_of(const std::vector<Image>& v) {
  std::vector<const Image*> p;
  for (const Image& im : v) p.push_back(&im);
  return p;
}

TEST_F(PdqGpu, GoldenImagesBothPipelines) {
  const auto rows = test::load_golden();
  std::vector<std::string> names;
  std::vector<Image> images;
  for (const auto& r : rows) {
    if (std::find(names.begin(), names.end(), r.file) != names.end()) continue;
    names.push_back(r.file);
    images.push_back(test::decode_golden(r.file));
  }
  for (int prescale : {0, 512}) {
    BatchOptions o;
    o.prescale = prescale;
    GpuBatchHasher gpu(o);
    const auto got = gpu.hash_images(ptrs_of(images), true);
    const std::string variant = prescale ? "cli512" : "fullres";
    int compared = 0;
    for (const auto& r : rows) {
      if (r.variant != variant) continue;
      const std::size_t i = std::find(names.begin(), names.end(), r.file) - names.begin();
      EXPECT_EQ(got[i].quality, r.quality) << r.file << " " << variant;
      for (int v = 0; v < kNumDihedral; ++v) {
        EXPECT_EQ(got[i].hashes[v].to_hex(), r.hex[v]) << r.file << " " << variant << " variant " << v;
      }
      ++compared;
    }
    EXPECT_EQ(compared, static_cast<int>(images.size()));
  }
}

// >= 1,000 generated images of varied size, aspect and content, in mixed-size batches of random
// length, with limits small enough to force many chunks through both slots.
TEST_F(PdqGpu, ThousandGeneratedImagesMatchCpu) {
  auto sizes = pdq_test_sizes(970, 1400, 2024);
  sizes.push_back({3840, 2160});
  sizes.push_back({2160, 3840});
  std::vector<Image> imgs;
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    imgs.push_back(synthetic_image(sizes[i].first, sizes[i].second, (i % 4 == 1) ? 1 : 3,
                                   Pattern(i % int(Pattern::kCount)), uint32_t(1000 + i)));
  }
  ASSERT_GE(imgs.size(), 1000u);
  CpuBatchHasher cpu(BatchOptions{});
  const auto want = cpu.hash_images(ptrs_of(imgs), true);
  BatchOptions o;
  o.limits.arena_floats = 40'000'000;  // 160 MB: a 4K image needs ~8.5 M x 2
  o.limits.staging_bytes = 64 << 20;
  o.limits.max_images = 300;
  GpuBatchHasher gpu(o);
  std::mt19937 rng(5);
  std::size_t at = 0;
  while (at < imgs.size()) {
    const std::size_t n = std::min<std::size_t>(imgs.size() - at, 1 + rng() % 400);
    std::vector<const Image*> batch;
    for (std::size_t k = at; k < at + n; ++k) batch.push_back(&imgs[k]);
    const bool dihedral = rng() % 4 != 0;
    const auto got = gpu.hash_images(batch, dihedral);
    ASSERT_EQ(got.size(), n);
    for (std::size_t k = 0; k < n; ++k) {
      const Image& im = imgs[at + k];
      expect_same(got[k], want[at + k],
                  std::to_string(im.width) + "x" + std::to_string(im.height) + "x" +
                      std::to_string(im.channels) + " #" + std::to_string(at + k),
                  dihedral);
    }
    at += n;
  }
  EXPECT_GT(gpu.stats().chunks, gpu.stats().calls);
}

TEST_F(PdqGpu, PrescalePipelineOnGeneratedImages) {
  std::vector<Image> imgs;
  int i = 0;
  for (auto [w, h] : std::vector<std::pair<int, int>>{{600, 400}, {513, 20}, {3, 900}, {512, 512}, {1920, 1080}, {700, 64}, {40, 40}}) {
    imgs.push_back(synthetic_image(w, h, 3, Pattern(i % 7), 300 + i));
    ++i;
  }
  BatchOptions o;
  o.prescale = 512;
  GpuBatchHasher gpu(o);
  const auto got = gpu.hash_images(ptrs_of(imgs), true);
  PdqHasher ref(512);
  for (std::size_t k = 0; k < imgs.size(); ++k) expect_same(got[k], ref.hash_dihedral(imgs[k]), "cli512 #" + std::to_string(k));
}

// A frame copied to the device with padded pitches.
struct DeviceFrame {
  FrameView view;
  std::vector<cuda::DeviceBuffer<uint8_t>> planes;
};
DeviceFrame upload(const FrameView& host, int pad) {
  DeviceFrame d;
  d.view = host;
  const int nplanes = host.format == PixelFormat::kNv12 ? 2 : (host.format == PixelFormat::kI420 ? 3 : 1);
  for (int p = 0; p < nplanes; ++p) {
    const int rows = p == 0 ? host.height : (host.height + 1) / 2;
    const int width_bytes = frame_plane_pitch(host.format, host.width, p);
    const int pitch = width_bytes + pad;
    d.planes.emplace_back(std::size_t(pitch) * rows);
    HM_CUDA_TRY(cudaMemcpy2D(d.planes.back().data(), pitch, host.planes[p], host.pitches[p],
                             width_bytes, rows, cudaMemcpyHostToDevice));
    d.view.planes[p] = d.planes.back().data();
    d.view.pitches[p] = pitch;
  }
  return d;
}

TEST_F(PdqGpu, DeviceAndHostFramesOfEveryFormat) {
  std::vector<OwnedFrame> frames;
  int k = 0;
  for (auto [w, h] : std::vector<std::pair<int, int>>{{1920, 1080}, {640, 480}, {64, 64}, {65, 33}, {7, 5}, {3, 3}, {1281, 721}}) {
    for (PixelFormat f : {PixelFormat::kNv12, PixelFormat::kI420, PixelFormat::kRgb24, PixelFormat::kGrey}) {
      frames.push_back(synthetic_frame(w, h, f, YuvMatrix(k % 3), 70 + k));
      ++k;
    }
  }
  std::vector<FrameView> host_views;
  std::vector<DeviceFrame> dev;
  std::vector<FrameView> dev_views;
  for (const OwnedFrame& f : frames) {
    host_views.push_back(f.view);
    dev.push_back(upload(f.view, 32 + 3 * (dev.size() % 5)));
    dev_views.push_back(dev.back().view);
  }
  CpuBatchHasher cpu(BatchOptions{});
  const auto want = cpu.hash_frames(host_views, true);
  GpuBatchHasher gpu(BatchOptions{});
  const auto from_host = gpu.hash_frames(host_views, true);
  const auto from_dev = gpu.hash_device_frames(dev_views, true);
  cuda::Stream caller;
  const auto from_dev_stream = gpu.hash_device_frames(dev_views, false, caller.get());
  for (std::size_t i = 0; i < frames.size(); ++i) {
    const std::string what = std::string(pixel_format_name(frames[i].view.format)) + " " +
                             std::to_string(frames[i].view.width) + "x" + std::to_string(frames[i].view.height);
    expect_same(from_host[i], want[i], "host " + what);
    expect_same(from_dev[i], want[i], "device " + what);
    expect_same(from_dev_stream[i], want[i], "device+stream " + what, false);
  }
}

FrameView frames_bad_pitch() {
  static const uint8_t px[64] = {};
  FrameView f;
  f.format = PixelFormat::kRgb24;
  f.width = 10;
  f.height = 2;
  f.planes[0] = px;
  f.pitches[0] = 20;  // < 3 * 10
  return f;
}

TEST_F(PdqGpu, BuffersGrowForAHugeImageAndBadInputIsAnError) {
  BatchOptions o;
  o.limits.arena_floats = 1'000'000;
  o.limits.staging_bytes = 1 << 20;
  GpuBatchHasher gpu(o);
  // The huge image first: its chunk lands on slot 0, which a small image allocated before, so
  // that slot's buffers must grow (a fresh slot's first allocation is not a grow).
  std::vector<Image> imgs = {synthetic_image(3000, 2500, 3, Pattern::kText, 2),
                             synthetic_image(100, 80, 3, Pattern::kBlobs, 1),
                             synthetic_image(90, 70, 1, Pattern::kStripes, 3)};
  const Image* warm[] = {&imgs[1]};
  gpu.hash_images(warm, false);
  EXPECT_EQ(gpu.stats().buffer_grows, 0u);
  const auto got = gpu.hash_images(ptrs_of(imgs), true);
  PdqHasher ref;
  for (std::size_t k = 0; k < imgs.size(); ++k) expect_same(got[k], ref.hash_dihedral(imgs[k]), "#" + std::to_string(k));
  EXPECT_GT(gpu.stats().buffer_grows, 0u);
  std::vector<const Image*> bad = {&imgs[0], nullptr};
  EXPECT_THROW(gpu.hash_images(bad, false), InvalidArgument);
  FrameView f = frames_bad_pitch();
  EXPECT_THROW(gpu.hash_device_frames(std::span(&f, 1), false), InvalidArgument);
  // The hasher still works after an error.
  const auto again = gpu.hash_images(ptrs_of(imgs), false);
  for (std::size_t k = 0; k < imgs.size(); ++k) EXPECT_EQ(again[k].hashes[0], got[k].hashes[0]);
}

TEST_F(PdqGpu, RegisteredBackendIsSelected) {
  register_gpu_backend();
  std::string why;
  auto h = make_batch_hasher(BackendKind::kCuda, BatchOptions{}, &why);
  EXPECT_EQ(h->backend(), "cuda") << why;
  EXPECT_EQ(make_batch_hasher(BackendKind::kAuto, BatchOptions{})->backend(), "cuda");
  EXPECT_EQ(make_batch_hasher(BackendKind::kCpu, BatchOptions{})->backend(), "cpu");
}

// nvJPEG: files it decodes give near (not bit-exact) hashes; files routed to the CPU decoder give
// exact hashes; bad files give errors, not exceptions.
TEST_F(PdqGpu, NvJpegHasherOnSharedImages) {
  if (!nvjpeg_compiled() || nvjpeg_status().rfind("library not loadable", 0) == 0) {
    if (gpu_required() && nvjpeg_compiled()) FAIL() << "nvJPEG: " << nvjpeg_status();
    GTEST_SKIP() << "nvJPEG: " << nvjpeg_status();
  }
  std::vector<std::vector<uint8_t>> files;
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::recursive_directory_iterator(hashmatch::test::testdata_dir() / "pdq")) {
    if (!e.is_regular_file()) continue;
    auto bytes = hashmatch::test::read_file(e.path());
    if (!is_image_format(sniff_format(bytes))) continue;
    files.push_back(std::move(bytes));
    names.push_back(e.path().filename().string());
  }
  files.push_back({0xFF, 0xD8, 0xFF});  // truncated JPEG
  names.push_back("truncated");
  std::vector<std::span<const uint8_t>> spans(files.begin(), files.end());
  GpuJpegHasher jh(BatchOptions{});
  const auto got = jh.hash(spans, true, DecodeLimits{});
  ASSERT_EQ(got.size(), files.size());
  PdqHasher ref;
  int gpu_decoded = 0;
  for (std::size_t i = 0; i + 1 < files.size(); ++i) {
    ASSERT_TRUE(got[i].ok()) << names[i] << ": " << got[i].error;
    const PdqDihedral want = ref.hash_dihedral(decode_image(files[i], DecodeLimits{}));
    if (got[i].gpu_decoded) {
      ++gpu_decoded;
      if (want.quality >= 50) {
        EXPECT_LE(hamming_distance(got[i].pdq.hashes[0], want.hashes[0]), 31) << names[i];
      }
    } else {
      expect_same(got[i].pdq, want, names[i] + " (cpu decoder: " + got[i].cpu_reason + ")");
    }
  }
  EXPECT_GT(gpu_decoded, 0) << "backend " << jh.backend_name();
  EXPECT_FALSE(got.back().ok());
}

}  // namespace
}  // namespace hashmatch::pdq
