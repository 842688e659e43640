// Decoders: every lossless format gives back exactly the pixels written; colour handling as
// Pillow's convert("RGB"); bad input of each kind gets its own clear error; bombs are refused from
// the header before decoding.
#include <gtest/gtest.h>
#include <zlib.h>

#include <array>
#include <chrono>
#include <functional>
#include <random>

#include "host/common/error.h"
#include "host/image/decode.h"
#include "host/media/hash_media.h"
#include "host/pdq/pdq.h"
#include "tests/testutil/encoders.h"
#include "tests/testutil/testutil.h"

namespace hashmatch {
namespace {

using Bytes = std::vector<uint8_t>;

std::string reason_of(const Bytes& b, const DecodeLimits& limits = {}) {
  try {
    decode_image(b, limits);
  } catch (const MediaError& e) {
    EXPECT_FALSE(std::string(e.what()).empty());
    return e.reason();
  }
  return "ok";
}

uint32_t fresh_seed() {
  const uint32_t s = std::random_device{}();
  std::printf("seed %u\n", s);
  return s;
}

struct Format {
  const char* name;
  std::function<Bytes(const Image&)> encode;
  MediaFormat format;
};

std::vector<Format> lossless_formats() {
  return {
      {"png", [](const Image& i) { return test::encode_png(i); }, MediaFormat::kPng},
      {"webp", [](const Image& i) { return test::encode_webp_lossless(i); }, MediaFormat::kWebp},
      {"gif", [](const Image& i) { return test::encode_gif(i); }, MediaFormat::kGif},
      {"tiff", [](const Image& i) { return test::encode_tiff(i); }, MediaFormat::kTiff},
      {"bmp", [](const Image& i) { return test::encode_bmp(i); }, MediaFormat::kBmp},
  };
}

TEST(ImageDecode, LosslessFormatsRoundTripExactPixelsAndHash) {
  const uint32_t seed = fresh_seed();
  pdq::PdqHasher hasher;
  for (auto [w, h] : {std::pair{97, 61}, {64, 64}, {5, 300}, {321, 17}}) {
    const Image src = test::procedural_image(w, h, seed + w, 200);
    const pdq::PdqHash want = hasher.hash(src);
    for (const Format& f : lossless_formats()) {
      SCOPED_TRACE(std::string(f.name) + " " + std::to_string(w) + "x" + std::to_string(h));
      const Bytes b = f.encode(src);
      EXPECT_EQ(sniff_format(b), f.format);
      const ImageHeader hdr = probe_image(b, DecodeLimits{});
      EXPECT_EQ(hdr.width, w);
      EXPECT_EQ(hdr.height, h);
      const Image got = decode_image(b, DecodeLimits{});
      ASSERT_EQ(got.width, w);
      ASSERT_EQ(got.height, h);
      ASSERT_EQ(got.channels, 3);
      EXPECT_TRUE(got.pixels == src.pixels);
      const pdq::PdqHash h2 = hasher.hash(got);
      EXPECT_EQ(h2.hash, want.hash);
      EXPECT_EQ(h2.quality, want.quality);
    }
  }
}

// A palette PNG decodes to its palette colours, with a tRNS chunk too (transparency dropped, as
// for every other format): it was refused as "corrupt PNG: unexpected row size", so a 13-byte
// chunk kept any palette image from being matched.
TEST(ImageDecode, PalettePngWithTransparencyGivesItsColours) {
  Image src;
  src.width = 67;
  src.height = 45;
  src.channels = 3;
  src.pixels.resize(std::size_t(src.width) * src.height * 3);
  for (int y = 0; y < src.height; ++y) {
    for (int x = 0; x < src.width; ++x) {
      uint8_t* p = &src.pixels[(std::size_t(y) * src.width + x) * 3];
      const int k = ((x / 6) * 7 + (y / 5) * 3) % 40;  // 40 colours in blocks
      p[0] = uint8_t(k * 6);
      p[1] = uint8_t(255 - k * 5);
      p[2] = uint8_t((k * 97) & 0xff);
    }
  }
  pdq::PdqHasher hasher;
  const pdq::PdqHash want = hasher.hash(src);
  for (const bool trns : {false, true}) {
    SCOPED_TRACE(trns ? "with tRNS" : "without tRNS");
    const Bytes b = test::encode_png_palette(src, trns);
    const Image got = decode_image(b, DecodeLimits{});
    ASSERT_EQ(got.channels, 3);
    EXPECT_TRUE(got.pixels == src.pixels);
    EXPECT_EQ(hasher.hash(got).hash, want.hash);
  }
}

// A BMP short of its pixel data is refused as truncated, but for the last row's alignment padding
// alone (no pixel in it: decoded as the whole file, as Pillow does). FFmpeg's decoder took a short
// file for rows without alignment: every row shifted, a hash 122 bits off, and no error.
TEST(ImageDecode, ShortBmpIsTruncatedUnlessOnlyPaddingIsMissing) {
  const Image src = test::procedural_image(97, 61, 7, 200);  // 291-byte rows, 292 with padding
  const Bytes full = test::encode_bmp(src);
  const Image want = decode_image(full, DecodeLimits{});
  ASSERT_TRUE(want.pixels == src.pixels);
  const Bytes cut1(full.begin(), full.end() - 1);  // the last row's padding byte
  const Image got = decode_image(cut1, DecodeLimits{});
  EXPECT_TRUE(got.pixels == src.pixels);
  for (const std::size_t cut : {2, 10, 292 * 3, 292 * 30}) {
    const Bytes b(full.begin(), full.end() - std::ptrdiff_t(cut));
    try {
      decode_image(b, DecodeLimits{});
      ADD_FAILURE() << "a BMP short of " << cut << " bytes was decoded";
    } catch (const MediaError& e) {
      EXPECT_EQ(e.reason(), "truncated") << cut << ": " << e.what();
    }
  }
}

// A TIFF decodes to its rows as stored whatever its Orientation tag says (as Pillow reads it, and
// as JPEG's EXIF orientation is not applied), and its unassociated alpha is dropped, not
// multiplied into the colour. libtiff's RGBA reader flipped orientations 2-4, half-turned 5-8
// (flips without the 90-degree turn) and blended alpha onto black (80 bits off).
TEST(ImageDecode, TiffRowsAsStoredAndAlphaDropped) {
  const Image src = test::procedural_image(83, 59, 9, 200);
  for (const int orientation : {1, 2, 3, 4, 5, 6, 7, 8}) {
    const Image got = decode_image(test::encode_tiff(src, orientation, false), DecodeLimits{});
    ASSERT_EQ(got.width, src.width) << orientation;
    EXPECT_TRUE(got.pixels == src.pixels) << "orientation " << orientation;
  }
  const Image alpha = decode_image(test::encode_tiff(src, 0, true), DecodeLimits{});
  ASSERT_EQ(alpha.channels, 3);
  EXPECT_TRUE(alpha.pixels == src.pixels) << "unassociated alpha";
}

TEST(ImageDecode, JpegBaselineAndProgressiveCloseToSource) {
  const Image src = test::procedural_image(320, 240, fresh_seed());
  pdq::PdqHasher hasher;
  const Hash256 want = hasher.hash(src).hash;
  for (bool progressive : {false, true}) {
    const Bytes b = test::encode_jpeg(src, 95, progressive);
    EXPECT_EQ(sniff_format(b), MediaFormat::kJpeg);
    const Image got = decode_image(b, DecodeLimits{});
    EXPECT_EQ(got.width, 320);
    EXPECT_EQ(got.channels, 3);
    EXPECT_LE(hamming_distance(hasher.hash(got).hash, want), 24) << "progressive=" << progressive;
  }
}

TEST(ImageDecode, GreyStaysOneChannelAlphaDroppedSixteenBitHighByte) {
  Image grey;
  grey.width = 40;
  grey.height = 30;
  grey.channels = 1;
  grey.pixels.resize(grey.pixel_count());
  for (std::size_t i = 0; i < grey.pixels.size(); ++i) grey.pixels[i] = uint8_t(i * 7);
  const Image g = decode_image(test::encode_png(grey), DecodeLimits{});
  EXPECT_EQ(g.channels, 1);
  EXPECT_TRUE(g.pixels == grey.pixels);
  // Grey + alpha, RGB + alpha, 16-bit: alpha dropped (not composited), 16-bit reduced to high byte.
  const Image ga = decode_image(test::encode_png(grey, true), DecodeLimits{});
  EXPECT_TRUE(ga.pixels == grey.pixels);
  const Image rgb = test::procedural_image(40, 30, 5);
  EXPECT_TRUE(decode_image(test::encode_png(rgb, true), DecodeLimits{}).pixels == rgb.pixels);
  EXPECT_TRUE(decode_image(test::encode_png(rgb, false, true), DecodeLimits{}).pixels == rgb.pixels);
  EXPECT_TRUE(decode_image(test::encode_png(rgb, true, true), DecodeLimits{}).pixels == rgb.pixels);
  const Image gj = decode_image(test::encode_jpeg(grey), DecodeLimits{});
  EXPECT_EQ(gj.channels, 1);
}

TEST(ImageDecode, SharedModesDecodeWithExpectedChannels) {
  // The shared bridge picture in Pillow's pixel modes: CMYK JPEG, palette PNG, 1-bit PNG, grey...
  const auto dir = test::testdata_dir() / "pdq" / "misc-images" / "modes";
  const std::pair<const char*, int> cases[] = {{"CMYK.jpg", 3}, {"P.png", 3},  {"1.png", 1},
                                               {"L.png", 1},    {"LA.png", 1}, {"PA.webp", 3},
                                               {"RGB.jpg", 3},  {"F.webp", 3}};
  for (auto [name, channels] : cases) {
    const Image img = decode_image(test::read_file(dir / name), DecodeLimits{});
    EXPECT_EQ(img.channels, channels) << name;
    EXPECT_GT(img.width, 0) << name;
  }
}

TEST(ImageBadInput, EmptyNonImageAndUnsupported) {
  EXPECT_EQ(reason_of({}), "empty");
  const std::string text = "hello, this is a text file and not an image\n";
  EXPECT_EQ(reason_of(Bytes(text.begin(), text.end())), "unsupported");
  const std::string pdf = "%PDF-1.7\n%...";
  EXPECT_EQ(reason_of(Bytes(pdf.begin(), pdf.end())), "unsupported");
  Bytes random(4096);
  std::mt19937 rng(fresh_seed());
  for (auto& b : random) b = uint8_t(rng());
  random[0] = 0x00;  // not a magic number of any format
  EXPECT_EQ(reason_of(random), "unsupported");
  // A recognised but unsupported image format says which (a HEIF image: its brand and a
  // top-level meta box; the brand alone is no image, docs/video.md).
  Bytes heic = {0, 0, 0, 0x10, 'f', 't',  'y', 'p', 'h', 'e', 'i', 'c', 0, 0,
                0, 0, 0, 0,    0,   0x0C, 'm', 'e', 't', 'a', 0,   0,   0, 0};
  try {
    decode_image(heic, DecodeLimits{});
    FAIL();
  } catch (const MediaError& e) {
    EXPECT_EQ(e.reason(), "unsupported");
    EXPECT_NE(std::string(e.what()).find("heif"), std::string::npos) << e.what();
  }
}

TEST(ImageBadInput, TruncatedFilesOfEveryFormatFailCleanly) {
  const Image src = test::procedural_image(200, 150, fresh_seed(), 200);
  std::vector<std::pair<std::string, Bytes>> files = {
      {"jpeg", test::encode_jpeg(src)},       {"jpeg-progressive", test::encode_jpeg(src, 90, true)},
      {"png", test::encode_png(src)},         {"webp", test::encode_webp_lossless(src)},
      {"gif", test::encode_gif(src)},         {"tiff", test::encode_tiff(src)},
      {"bmp", test::encode_bmp(src)}};
  for (const auto& [name, full] : files) {
    for (double keep : {0.02, 0.5, 0.95}) {
      Bytes cut(full.begin(), full.begin() + static_cast<long>(full.size() * keep));
      const std::string r = reason_of(cut);
      EXPECT_TRUE(r == "truncated" || r == "corrupt") << name << " keep " << keep << " got " << r;
      if (name != "tiff" && keep >= 0.5) { EXPECT_EQ(r, "truncated") << name << " keep " << keep; }
    }
  }
}

TEST(ImageBadInput, CorruptMiddleDoesNotCrash) {
  const Image src = test::procedural_image(128, 96, fresh_seed(), 200);
  std::mt19937 rng(fresh_seed());
  for (const Format& f : lossless_formats()) {
    Bytes b = f.encode(src);
    for (int trial = 0; trial < 20; ++trial) {
      Bytes c = b;
      for (int k = 0; k < 8; ++k) c[32 + rng() % (c.size() - 32)] = uint8_t(rng());
      const std::string r = reason_of(c);  // decoded (garbage) or a clean error, never a crash
      EXPECT_TRUE(r == "ok" || r == "corrupt" || r == "truncated" || r == "too_many_pixels" ||
                  r == "unsupported")
          << f.name << ": " << r;
    }
  }
}

// A decompression bomb: a tiny file whose header claims a huge image is refused from the header,
// quickly, without allocating the pixels.
TEST(ImageBadInput, BombsRefusedFromHeader) {
  const Image src = test::procedural_image(16, 16, 1);
  auto set_be32 = [](Bytes& b, std::size_t at, uint32_t v) {
    for (int i = 0; i < 4; ++i) b[at + i] = uint8_t(v >> (24 - 8 * i));
  };
  // PNG: IHDR width/height at bytes 16..23, chunk CRC fixed up (a well-formed bomb).
  Bytes png = test::encode_png(src);
  set_be32(png, 16, 60000);
  set_be32(png, 20, 60000);
  set_be32(png, 29, static_cast<uint32_t>(crc32(0, png.data() + 12, 17)));
  // JPEG: patch the SOF0 marker's height/width.
  Bytes jpg = test::encode_jpeg(src);
  for (std::size_t i = 2; i + 8 < jpg.size(); ++i) {
    if (jpg[i] == 0xFF && jpg[i + 1] == 0xC0) {
      jpg[i + 5] = 0xEA;
      jpg[i + 6] = 0x60;  // 60000
      jpg[i + 7] = 0xEA;
      jpg[i + 8] = 0x60;
      break;
    }
  }
  Bytes gif = test::encode_gif(src);
  gif[6] = gif[7] = gif[8] = gif[9] = 0xFF;  // logical screen 65535 x 65535
  Bytes bmp = test::encode_bmp(src);
  bmp[18] = 0x60; bmp[19] = 0xEA; bmp[20] = 0; bmp[21] = 0;  // width 60000
  bmp[22] = 0x60; bmp[23] = 0xEA; bmp[24] = 0; bmp[25] = 0;  // height 60000
  DecodeLimits limits;  // default: 100 M pixels
  for (const auto& [name, b] : std::vector<std::pair<std::string, Bytes>>{
           {"png", png}, {"jpeg", jpg}, {"gif", gif}, {"bmp", bmp}}) {
    const auto t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(reason_of(b, limits), "too_many_pixels") << name;
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_LT(s, 1.0) << name << " took " << s << " s: the header check must come first";
  }
  // Configurable: a small image over a small limit is refused too; under it, decoded.
  DecodeLimits tight;
  tight.max_pixels = 100;
  EXPECT_EQ(reason_of(test::encode_png(src), tight), "too_many_pixels");
  tight.max_pixels = 256;
  EXPECT_EQ(reason_of(test::encode_png(src), tight), "ok");
  DecodeLimits small_file;
  small_file.max_file_bytes = 10;
  EXPECT_EQ(reason_of(test::encode_png(src), small_file), "too_large");
}

TEST(HashMedia, FileErrorsKeepDigestsAndSayWhy) {
  test::TempDir dir;
  const Image src = test::procedural_image(80, 60, 3);
  const Bytes png = test::encode_png(src);
  test::write_file(dir / "good.png", png);
  test::write_file(dir / "cut.png", Bytes(png.begin(), png.begin() + png.size() / 2));
  test::write_file(dir / "empty.jpg", {});
  pdq::PdqHasher hasher;
  HashOptions opts;
  const MediaHashResult good = hash_media_file((dir / "good.png").string(), opts, hasher);
  ASSERT_TRUE(good.ok()) << good.error;
  EXPECT_EQ(good.pdq->hashes[0], hasher.hash(src).hash);
  EXPECT_EQ(good.size, png.size());
  const MediaHashResult cut = hash_media_file((dir / "cut.png").string(), opts, hasher);
  EXPECT_EQ(cut.error_reason, "truncated");
  EXPECT_TRUE(cut.have_digests);
  EXPECT_EQ(cut.digests.md5.size(), 32u);
  const MediaHashResult empty = hash_media_file((dir / "empty.jpg").string(), opts, hasher);
  EXPECT_EQ(empty.error_reason, "empty");
  const MediaHashResult missing = hash_media_file((dir / "missing.png").string(), opts, hasher);
  EXPECT_EQ(missing.error_reason, "io");
  EXPECT_FALSE(missing.have_digests);
  const nlohmann::json j = to_json(cut, false);
  EXPECT_TRUE(j.contains("error"));
  EXPECT_FALSE(j.contains("pdq"));
  EXPECT_EQ(j["sha256"].get<std::string>().size(), 64u);
}

// HASHMATCH_MAX_FILE_BYTES and HASHMATCH_MAX_PIXELS take what --max-file-bytes and --max-pixels
// take (1 to 2^40): "-1" was read as 2^64 - 1 (no pixel limit at all), "0" as a limit nothing
// passes.
TEST(DecodeLimits, EnvironmentTakesTheOptionsRange) {
  for (const char* name : {"HASHMATCH_MAX_FILE_BYTES", "HASHMATCH_MAX_PIXELS"}) {
    const char* old = std::getenv(name);
    const std::string saved = old ? old : "";
    for (const char* bad :
         {"-1", "0", "1099511627777", "99999999999999999999999", "12x", " 5", "+5", "ten"}) {
      ::setenv(name, bad, 1);
      try {
        decode_limits_from_env();
        ADD_FAILURE() << name << "=" << bad << " was taken";
      } catch (const InvalidArgument& e) {
        EXPECT_NE(std::string(e.what()).find("from 1 to 1099511627776"), std::string::npos)
            << e.what();
      }
    }
    ::setenv(name, "1099511627776", 1);
    const DecodeLimits top = decode_limits_from_env();
    ::setenv(name, "12345", 1);
    const DecodeLimits some = decode_limits_from_env();
    if (std::string(name) == "HASHMATCH_MAX_PIXELS") {
      EXPECT_EQ(top.max_pixels, 1ull << 40);
      EXPECT_EQ(some.max_pixels, 12345u);
    } else {
      EXPECT_EQ(top.max_file_bytes, 1ull << 40);
      EXPECT_EQ(some.max_file_bytes, 12345u);
    }
    if (old) {
      ::setenv(name, saved.c_str(), 1);
    } else {
      ::unsetenv(name);
    }
  }
}

// A GIF written by hand: a logical screen of 12 x 10 with a global colour table of `global`
// colours (a power of two), optionally a Graphic Control Extension with a transparent index and a
// local colour table, and one frame of 6 x 4 at (3, 2) whose pixels are `pixels` (LZW with a code
// size of 8 bits whatever the tables' sizes, so indices may lie past them).
Bytes hand_gif(const std::vector<std::array<uint8_t, 3>>& global, int background, int transparent,
               const std::vector<std::array<uint8_t, 3>>& local, const std::vector<int>& pixels) {
  auto bits_of = [](std::size_t n) {
    int b = 0;
    while ((std::size_t{2} << b) < n) ++b;
    return b;  // the table holds 2^(b+1) colours
  };
  Bytes b = {'G', 'I', 'F', '8', '9', 'a', 12, 0, 10, 0};
  b.push_back(static_cast<uint8_t>(0x80 | bits_of(global.size())));
  b.push_back(static_cast<uint8_t>(background));
  b.push_back(0);
  for (const auto& c : global) b.insert(b.end(), c.begin(), c.end());
  if (transparent >= 0) {
    b.insert(b.end(), {0x21, 0xF9, 4, 1, 0, 0, static_cast<uint8_t>(transparent), 0});
  }
  b.insert(b.end(), {0x2C, 3, 0, 2, 0, 6, 0, 4, 0});
  b.push_back(local.empty() ? 0 : static_cast<uint8_t>(0x80 | bits_of(local.size())));
  for (const auto& c : local) b.insert(b.end(), c.begin(), c.end());
  // LZW, 9-bit codes: a clear code before the table would grow past them.
  std::vector<int> codes = {256};
  int n = 0;
  for (int p : pixels) {
    codes.push_back(p);
    if (++n == 254) {
      codes.push_back(256);
      n = 0;
    }
  }
  codes.push_back(257);
  Bytes lzw;
  uint32_t acc = 0;
  int nb = 0;
  for (int c : codes) {
    acc |= static_cast<uint32_t>(c) << nb;
    for (nb += 9; nb >= 8; nb -= 8, acc >>= 8) lzw.push_back(static_cast<uint8_t>(acc));
  }
  if (nb > 0) lzw.push_back(static_cast<uint8_t>(acc));
  b.push_back(8);
  for (std::size_t i = 0; i < lzw.size(); i += 255) {
    const std::size_t len = std::min<std::size_t>(255, lzw.size() - i);
    b.push_back(static_cast<uint8_t>(len));
    b.insert(b.end(), lzw.begin() + i, lzw.begin() + i + len);
  }
  b.push_back(0);
  b.push_back(';');
  return b;
}

// The first frame of a GIF as Pillow gives it (what HMA and python-threatexchange hash): the canvas
// outside a frame smaller than the screen holds the frame's transparent index, else index 0, in
// the frame's colour table (not the background colour: 68 bits off on a random palette); an index
// past the table is black (it took entry 0).
TEST(ImageDecode, GifFirstFrameAsPillowGivesIt) {
  std::mt19937 rng(7);
  auto palette = [&](int n) {
    std::vector<std::array<uint8_t, 3>> p(n);
    for (auto& c : p) c = {uint8_t(rng()), uint8_t(rng()), uint8_t(rng())};
    return p;
  };
  const auto global = palette(16), local = palette(8);
  std::vector<int> pixels(24);
  for (int i = 0; i < 24; ++i) pixels[i] = (i * 5) % 20;  // 16..19: past the global table
  auto pixel = [](const Image& img, int x, int y) {
    const uint8_t* p = img.row(y) + 3 * x;
    return std::array<uint8_t, 3>{p[0], p[1], p[2]};
  };
  const std::array<uint8_t, 3> black{0, 0, 0};
  struct Case {
    const char* name;
    int transparent;
    bool with_local;
  };
  for (const Case& c : {Case{"global table", -1, false}, Case{"transparent index", 5, false},
                        Case{"local table", -1, true}, Case{"local, transparent", 6, true},
                        Case{"transparent past the table", 18, false}}) {
    SCOPED_TRACE(c.name);
    const auto& table = c.with_local ? local : global;
    const Image img = decode_image(hand_gif(global, /*background=*/3, c.transparent,
                                            c.with_local ? local : decltype(local){}, pixels),
                                   DecodeLimits{});
    ASSERT_EQ(img.width, 12);
    ASSERT_EQ(img.height, 10);
    const int fill = c.transparent >= 0 ? c.transparent : 0;
    const auto want_fill = fill < int(table.size()) ? table[fill] : black;
    EXPECT_EQ(pixel(img, 0, 0), want_fill);
    EXPECT_EQ(pixel(img, 11, 9), want_fill);
    for (int i = 0; i < 24; ++i) {
      const auto want = pixels[i] < int(table.size()) ? table[pixels[i]] : black;
      EXPECT_EQ(pixel(img, 3 + i % 6, 2 + i / 6), want) << "pixel " << i;
    }
  }
}

// Two more of Pillow's rules (from a regression hunt over 396 generated GIFs): a Graphic Control
// Extension without transparency after one with it keeps the transparent index; a first frame
// reaching past the logical screen enlarges the image.
TEST(ImageDecode, GifTransparencyKeptAndScreenEnlargedAsPillowDoes) {
  std::mt19937 rng(9);
  std::vector<std::array<uint8_t, 3>> global(16);
  for (auto& c : global) c = {uint8_t(rng()), uint8_t(rng()), uint8_t(rng())};
  const std::vector<int> pixels(24, 2);
  Bytes gif = hand_gif(global, /*background=*/3, /*transparent=*/5, {}, pixels);
  // A second GCE, without transparency, after the first (which starts at 13 + 3 * 16).
  const std::size_t gce = 13 + 3 * global.size();
  ASSERT_EQ(gif[gce], 0x21);
  gif.insert(gif.begin() + gce + 8, {0x21, 0xF9, 4, 0, 0, 0, 0, 0});
  Image img = decode_image(gif, DecodeLimits{});
  const uint8_t* corner = img.row(0);
  EXPECT_EQ((std::array<uint8_t, 3>{corner[0], corner[1], corner[2]}), global[5]);
  // The frame (6 x 4 at 3, 2) moved to x = 9: 15 wide on a screen of 12.
  Bytes wide = hand_gif(global, 3, -1, {}, pixels);
  const std::size_t desc = 13 + 3 * global.size();
  ASSERT_EQ(wide[desc], 0x2C);
  wide[desc + 1] = 9;
  img = decode_image(wide, DecodeLimits{});
  EXPECT_EQ(img.width, 15);
  EXPECT_EQ(img.height, 10);
  const uint8_t* p = img.row(2) + 3 * 14;
  EXPECT_EQ((std::array<uint8_t, 3>{p[0], p[1], p[2]}), global[2]);  // the frame's last column
}

}  // namespace
}  // namespace hashmatch
