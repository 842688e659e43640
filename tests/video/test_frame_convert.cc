// The host half of the NVDEC path: NV12 / P010 frames re-laid out as the software decoder's
// planar format must reproduce its planes exactly (then the RGB conversion is the CPU path's).
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "tests/video/clips.h"
#include "tests/video/nv12_frames.h"
#include "video/frame_convert.h"

extern "C" {
#include <libavutil/pixdesc.h>
}

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

namespace hashmatch::video {
namespace {

// What NVDEC and FFmpeg's hwaccel hand over for a software frame `raw` decoded without cropping:
// the picture as NV12 / P010 (16-bit samples in the high bits), copied to the host with
// av_hwframe_transfer_data's buffers, its right and bottom crop applied, its top and left crop
// left in the fields.
ff::FramePtr as_nvdec_would(const AVFrame* raw) {
  const AVPixFmtDescriptor* d = av_pix_fmt_desc_get(static_cast<AVPixelFormat>(raw->format));
  const int depth = d->comp[0].depth;
  const int bps = depth > 8 ? 2 : 1;
  ff::FramePtr f = ff::make_frame();
  f->format = bps == 1 ? AV_PIX_FMT_NV12 : AV_PIX_FMT_P010;
  f->width = raw->width;
  f->height = raw->height;
  EXPECT_GE(av_frame_get_buffer(f.get(), 0), 0);
  const int cw = (raw->width + 1) / 2, ch = (raw->height + 1) / 2;
  for (int y = 0; y < raw->height; ++y) {
    for (int x = 0; x < raw->width; ++x) {
      if (bps == 1) {
        f->data[0][std::size_t(y) * f->linesize[0] + x] = raw->data[0][std::size_t(y) * raw->linesize[0] + x];
      } else {
        const auto* s = reinterpret_cast<const uint16_t*>(raw->data[0] + std::size_t(y) * raw->linesize[0]);
        reinterpret_cast<uint16_t*>(f->data[0] + std::size_t(y) * f->linesize[0])[x] = uint16_t(s[x] << (16 - depth));
      }
    }
  }
  for (int y = 0; y < ch; ++y) {
    for (int x = 0; x < cw; ++x) {
      for (int c = 0; c < 2; ++c) {
        const uint8_t* plane = raw->data[1 + c] + std::size_t(y) * raw->linesize[1 + c];
        uint8_t* row = f->data[1] + std::size_t(y) * f->linesize[1];
        if (bps == 1) {
          row[2 * x + c] = plane[x];
        } else {
          reinterpret_cast<uint16_t*>(row)[2 * x + c] =
              uint16_t(reinterpret_cast<const uint16_t*>(plane)[x] << (16 - depth));
        }
      }
    }
  }
  EXPECT_GE(av_frame_copy_props(f.get(), raw), 0);  // the crop fields come with the properties
  f->width -= static_cast<int>(raw->crop_right);
  f->height -= static_cast<int>(raw->crop_bottom);
  f->crop_right = f->crop_bottom = 0;
  return f;
}

struct CropCase {
  const char* name;
  const char* args;
  int left, top;  // the crop the clip's parameter sets carry
};

// A stream cropped at the top and left (H.264 frame cropping, as h264_metadata writes it): the
// NVDEC host path must give exactly the software decoder's cropped picture, a small left crop
// dropped for alignment as the software decoder drops it (64: kept; 16: dropped).
TEST(FrameConvert, TopAndLeftCropAsTheSoftwareDecoderAppliesIt) {
  const std::string src = "-f lavfi -i testsrc2=size=328x240:rate=25 -frames:v 4 -c:v libx264 -preset ultrafast ";
  const CropCase cases[] = {
      {"crop64.mp4", "-bsf:v h264_metadata=crop_left=64:crop_top=2", 64, 2},
      {"crop16.mp4", "-bsf:v h264_metadata=crop_left=16:crop_top=6", 16, 6},
      {"crop10bit.mkv", "-pix_fmt yuv420p10le -bsf:v h264_metadata=crop_left=64:crop_top=4", 64, 4},
      {"nocrop.mp4", "", 0, 0},
  };
  for (const CropCase& c : cases) {
    const auto path = hashmatch::test::make_clip(hashmatch::test::clip_dir(), c.name, src + c.args);
    ASSERT_FALSE(path.empty()) << c.name;
    const auto want = test::decode_frames(path.string(), true);
    const auto raw = test::decode_frames(path.string(), false);
    ASSERT_EQ(want.size(), 4u) << c.name;
    ASSERT_EQ(raw.size(), want.size()) << c.name;
    EXPECT_EQ(raw[0]->crop_left, std::size_t(c.left)) << c.name;
    EXPECT_EQ(raw[0]->crop_top, std::size_t(c.top)) << c.name;
    for (std::size_t i = 0; i < raw.size(); ++i) {
      ff::FramePtr hw = as_nvdec_would(raw[i].get());
      ff::FramePtr planar = ff::make_frame();
      std::vector<uint8_t> storage;
      const AVFrame* got = as_software_frame(hw.get(), static_cast<AVPixelFormat>(raw[i]->format), 0,
                                             &storage, planar.get());
      const AVFrame* w = want[i].get();
      ASSERT_EQ(got->format, w->format) << c.name;
      ASSERT_EQ(got->width, w->width) << c.name << " frame " << i;
      ASSERT_EQ(got->height, w->height) << c.name << " frame " << i;
      const int bps = av_pix_fmt_desc_get(static_cast<AVPixelFormat>(w->format))->comp[0].depth > 8 ? 2 : 1;
      for (int p = 0; p < 3; ++p) {
        const int pw = p == 0 ? w->width : (w->width + 1) / 2;
        const int ph = p == 0 ? w->height : (w->height + 1) / 2;
        for (int y = 0; y < ph; ++y) {
          ASSERT_EQ(std::memcmp(got->data[p] + std::size_t(y) * got->linesize[p],
                                w->data[p] + std::size_t(y) * w->linesize[p], std::size_t(pw) * bps),
                    0)
              << c.name << " frame " << i << " plane " << p << " row " << y;
        }
      }
    }
  }
}

// The GPU tests' cropped clip (write_synth_clip with h264_metadata) carries the crop.
TEST(FrameConvert, SyntheticClipCarriesTheCropOfItsBitstreamFilter) {
  const auto path = hashmatch::test::clip_dir() / "synth_crop.mp4";
  SynthClipSpec s = top_left_crop_spec();
  s.frames = 3;
  write_synth_clip(path, s);
  const auto raw = test::decode_frames(path.string(), false);
  ASSERT_EQ(raw.size(), 3u);
  EXPECT_EQ(raw[0]->crop_left, 64u);
  EXPECT_EQ(raw[0]->crop_top, 4u);
  const auto cropped = test::decode_frames(path.string(), true);
  ASSERT_EQ(cropped.size(), 3u);
  EXPECT_EQ(cropped[0]->width, 640 - 64);
  EXPECT_EQ(cropped[0]->height, 360 - 4);
}

}  // namespace
}  // namespace hashmatch::video
