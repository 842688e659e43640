// host/image/encode_jpeg.h: the options reach the file (sampling, progressive, quality), the file
// decodes back to the image, and bad input is an error instead of libjpeg's exit().
#include "host/image/encode_jpeg.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <vector>

#include "host/common/error.h"
#include "host/image/decode.h"
#include "tests/testutil/encoders.h"

namespace hashmatch {
namespace {

// The first start-of-frame marker (FFC0 baseline, FFC2 progressive) and its component sampling
// bytes (h << 4 | v, one per component).
struct Sof {
  int marker = 0;
  std::vector<int> sampling;
};

Sof read_sof(const std::vector<uint8_t>& f) {
  Sof s;
  for (std::size_t i = 2; i + 4 < f.size();) {
    if (f[i] != 0xFF) break;
    const int m = f[i + 1];
    const std::size_t len = std::size_t(f[i + 2]) << 8 | f[i + 3];
    if (m == 0xC0 || m == 0xC2) {
      s.marker = m;
      const int comps = f[i + 9];
      for (int c = 0; c < comps; ++c) s.sampling.push_back(f[i + 10 + 3 * c + 1]);
      return s;
    }
    i += 2 + len;
  }
  return s;
}

Image blank(int w, int h, int channels) {
  Image img;
  img.width = w;
  img.height = h;
  img.channels = channels;
  img.pixels.assign(img.row_bytes() * std::size_t(h), 128);
  return img;
}

// Smooth colour gradients: what JPEG keeps well.
Image gradient(int w, int h) {
  Image img = blank(w, h, 3);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      uint8_t* p = img.row(y) + 3 * x;
      p[0] = uint8_t(x * 255 / w);
      p[1] = uint8_t(y * 255 / h);
      p[2] = uint8_t((x + y) * 255 / (w + h));
    }
  }
  return img;
}

double mean_abs_diff(const Image& a, const Image& b) {
  double sum = 0;
  for (std::size_t i = 0; i < a.pixels.size(); ++i) sum += std::abs(int(a.pixels[i]) - int(b.pixels[i]));
  return sum / double(a.pixels.size());
}

TEST(EncodeJpeg, DecodesBackCloseToTheImage) {
  const Image src = gradient(96, 64);
  const std::vector<uint8_t> hi = encode_jpeg(src, {.quality = 95});
  const std::vector<uint8_t> lo = encode_jpeg(src, {.quality = 20});
  const Image back = decode_image(hi, DecodeLimits{});
  ASSERT_EQ(back.width, src.width);
  ASSERT_EQ(back.height, src.height);
  ASSERT_EQ(back.channels, 3);
  EXPECT_LT(mean_abs_diff(back, src), 3.0);
  EXPECT_LT(lo.size(), hi.size());  // quality reaches the encoder
  EXPECT_GT(mean_abs_diff(decode_image(lo, DecodeLimits{}), src), mean_abs_diff(back, src));
}

TEST(EncodeJpeg, SamplingAndProgressiveReachTheFile) {
  const Image src = test::procedural_image(64, 48, 3, 5);
  Sof s = read_sof(encode_jpeg(src));
  EXPECT_EQ(s.marker, 0xC0);
  EXPECT_EQ(s.sampling, (std::vector<int>{0x22, 0x11, 0x11}));  // 4:2:0 by default
  s = read_sof(encode_jpeg(src, {.luma_h_samp = 2, .luma_v_samp = 1}));
  EXPECT_EQ(s.sampling, (std::vector<int>{0x21, 0x11, 0x11}));
  s = read_sof(encode_jpeg(src, {.luma_h_samp = 1, .luma_v_samp = 1}));
  EXPECT_EQ(s.sampling, (std::vector<int>{0x11, 0x11, 0x11}));
  s = read_sof(encode_jpeg(src, {.progressive = true}));
  EXPECT_EQ(s.marker, 0xC2);
}

TEST(EncodeJpeg, GreyImagesHaveOneComponent) {
  Image grey = blank(40, 30, 1);
  for (std::size_t i = 0; i < grey.pixels.size(); ++i) grey.pixels[i] = uint8_t(i * 7);
  const std::vector<uint8_t> f = encode_jpeg(grey);
  EXPECT_EQ(read_sof(f).sampling.size(), 1u);
  EXPECT_EQ(decode_image(f, DecodeLimits{}).width, 40);
}

TEST(EncodeJpeg, BadInputIsAnError) {
  EXPECT_THROW(encode_jpeg(blank(8, 8, 4)), InvalidArgument);
  EXPECT_THROW(encode_jpeg(blank(0, 8, 3)), InvalidArgument);
  Image short_pixels = blank(8, 8, 3);
  short_pixels.pixels.resize(100);
  EXPECT_THROW(encode_jpeg(short_pixels), InvalidArgument);
  // Sampling factors libjpeg refuses (above 4): its error comes back as an exception.
  const Image src = test::procedural_image(16, 16, 1, 3);
  EXPECT_THROW(encode_jpeg(src, {.luma_h_samp = 5, .luma_v_samp = 5}), Error);
}

}  // namespace
}  // namespace hashmatch
