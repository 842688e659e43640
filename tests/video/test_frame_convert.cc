// The host half of the NVDEC path: NV12 / P010 frames re-laid out as the software decoder's
// planar format must reproduce its planes exactly (then the RGB conversion is the CPU path's).
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "video/frame_convert.h"

namespace hashmatch::video {
namespace {

struct Planes {
  int w, h, bps;
  std::vector<uint8_t> y, u, v;  // tightly packed
};

Planes random_planes(int w, int h, int bps, int depth, uint32_t seed) {
  std::mt19937 rng(seed);
  const int cw = (w + 1) / 2, ch = (h + 1) / 2;
  Planes p{w, h, bps, std::vector<uint8_t>(std::size_t(w) * h * bps),
           std::vector<uint8_t>(std::size_t(cw) * ch * bps),
           std::vector<uint8_t>(std::size_t(cw) * ch * bps)};
  for (auto* plane : {&p.y, &p.u, &p.v}) {
    if (bps == 1) {
      for (auto& x : *plane) x = uint8_t(rng());
    } else {
      auto* s = reinterpret_cast<uint16_t*>(plane->data());
      for (std::size_t i = 0; i < plane->size() / 2; ++i) s[i] = uint16_t(rng() & ((1u << depth) - 1));
    }
  }
  return p;
}

void check_roundtrip(int w, int h, AVPixelFormat semi_fmt, AVPixelFormat want, int depth) {
  const int bps = depth > 8 ? 2 : 1;
  const Planes p = random_planes(w, h, bps, depth, uint32_t(w * 31 + h));
  const int cw = (w + 1) / 2, ch = (h + 1) / 2;
  // Build the semi-planar frame with padded rows, as NVDEC surfaces have.
  const int pitch = (w * bps + 63) / 64 * 64 + 64;
  std::vector<uint8_t> luma(std::size_t(pitch) * h, 0xEE), chroma(std::size_t(pitch) * ch, 0xEE);
  const int shift = 16 - depth;
  for (int y = 0; y < h; ++y) {
    if (bps == 1) {
      std::memcpy(&luma[std::size_t(y) * pitch], &p.y[std::size_t(y) * w], std::size_t(w));
    } else {
      for (int x = 0; x < w; ++x) {
        const uint16_t s = reinterpret_cast<const uint16_t*>(p.y.data())[std::size_t(y) * w + x];
        reinterpret_cast<uint16_t*>(&luma[std::size_t(y) * pitch])[x] = uint16_t(s << shift);
      }
    }
  }
  for (int y = 0; y < ch; ++y) {
    for (int x = 0; x < cw; ++x) {
      if (bps == 1) {
        chroma[std::size_t(y) * pitch + 2 * x] = p.u[std::size_t(y) * cw + x];
        chroma[std::size_t(y) * pitch + 2 * x + 1] = p.v[std::size_t(y) * cw + x];
      } else {
        auto* row = reinterpret_cast<uint16_t*>(&chroma[std::size_t(y) * pitch]);
        row[2 * x] = uint16_t(reinterpret_cast<const uint16_t*>(p.u.data())[std::size_t(y) * cw + x] << shift);
        row[2 * x + 1] = uint16_t(reinterpret_cast<const uint16_t*>(p.v.data())[std::size_t(y) * cw + x] << shift);
      }
    }
  }
  ff::FramePtr semi = ff::make_frame(), out = ff::make_frame();
  semi->format = semi_fmt;
  semi->width = w;
  semi->height = h;
  semi->data[0] = luma.data();
  semi->data[1] = chroma.data();
  semi->linesize[0] = semi->linesize[1] = pitch;
  std::vector<uint8_t> storage;
  ASSERT_TRUE(semi_planar_to_planar(semi.get(), want, &storage, out.get()));
  EXPECT_EQ(out->format, want);
  EXPECT_EQ(out->width, w);
  auto plane_eq = [&](int i, const std::vector<uint8_t>& expect, int pw, int ph) {
    for (int y = 0; y < ph; ++y) {
      ASSERT_EQ(std::memcmp(out->data[i] + std::size_t(y) * out->linesize[i],
                            expect.data() + std::size_t(y) * pw * bps, std::size_t(pw) * bps),
                0)
          << "plane " << i << " row " << y;
    }
  };
  plane_eq(0, p.y, w, h);
  plane_eq(1, p.u, cw, ch);
  plane_eq(2, p.v, cw, ch);
  semi->data[0] = semi->data[1] = nullptr;  // not owned
}

TEST(FrameConvert, Nv12ToYuv420p) {
  check_roundtrip(64, 36, AV_PIX_FMT_NV12, AV_PIX_FMT_YUV420P, 8);
  check_roundtrip(33, 17, AV_PIX_FMT_NV12, AV_PIX_FMT_YUVJ420P, 8);  // odd sizes, full range
}

TEST(FrameConvert, P010ToYuv420p10AndP016To12Bit) {
  check_roundtrip(48, 20, AV_PIX_FMT_P010, AV_PIX_FMT_YUV420P10, 10);
  check_roundtrip(31, 9, AV_PIX_FMT_P016, AV_PIX_FMT_YUV420P12, 12);
}

TEST(FrameConvert, OtherCombinationsAreLeftToSwscale) {
  ff::FramePtr semi = ff::make_frame(), out = ff::make_frame();
  std::vector<uint8_t> storage;
  semi->format = AV_PIX_FMT_NV12;
  semi->width = 16;
  semi->height = 16;
  EXPECT_FALSE(semi_planar_to_planar(semi.get(), AV_PIX_FMT_YUV444P, &storage, out.get()));
  EXPECT_FALSE(semi_planar_to_planar(semi.get(), AV_PIX_FMT_YUV420P10, &storage, out.get()));
  semi->format = AV_PIX_FMT_YUV420P;
  EXPECT_FALSE(semi_planar_to_planar(semi.get(), AV_PIX_FMT_YUV420P, &storage, out.get()));
}

}  // namespace
}  // namespace hashmatch::video
