#include "host/image/decode.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

#include "host/common/error.h"
#include "host/image/decoders.h"

namespace hashmatch {

std::string_view media_format_name(MediaFormat f) {
  switch (f) {
    case MediaFormat::kUnknown: return "unknown";
    case MediaFormat::kEmpty: return "empty";
    case MediaFormat::kJpeg: return "jpeg";
    case MediaFormat::kPng: return "png";
    case MediaFormat::kWebp: return "webp";
    case MediaFormat::kGif: return "gif";
    case MediaFormat::kBmp: return "bmp";
    case MediaFormat::kTiff: return "tiff";
    case MediaFormat::kHeif: return "heif";
    case MediaFormat::kAvif: return "avif";
    case MediaFormat::kJpeg2000: return "jpeg2000";
    case MediaFormat::kJpegXl: return "jpegxl";
    case MediaFormat::kIco: return "ico";
    case MediaFormat::kPdf: return "pdf";
    case MediaFormat::kSvg: return "svg";
    case MediaFormat::kMp4: return "mp4";
    case MediaFormat::kMatroska: return "matroska";
    case MediaFormat::kAvi: return "avi";
    case MediaFormat::kMpegTs: return "mpegts";
    case MediaFormat::kFlv: return "flv";
    case MediaFormat::kMpegPs: return "mpegps";
    case MediaFormat::kOgg: return "ogg";
    case MediaFormat::kAsf: return "asf";
    case MediaFormat::kIvf: return "ivf";
    case MediaFormat::kY4m: return "y4m";
    case MediaFormat::kNut: return "nut";
    case MediaFormat::kMxf: return "mxf";
    case MediaFormat::kH264: return "h264";
    case MediaFormat::kHevc: return "hevc";
    case MediaFormat::kMpeg4: return "m4v";
    case MediaFormat::kOtherVideo:
      return "video";
  }
  return "unknown";
}

namespace {
bool starts_with(std::span<const uint8_t> d, std::string_view magic, std::size_t at = 0) {
  return d.size() >= at + magic.size() && std::memcmp(d.data() + at, magic.data(), magic.size()) == 0;
}

// An Annex B elementary stream: a start code, then a first NAL unit that such a stream begins
// with (parameter sets, an access unit delimiter, SEI). HEVC is told first: its two-byte header
// has a temporal id of at least 1 in the second byte.
// Whether the ISO-BMFF top-level boxes in `d` (from the start, as far as `d` goes) include
// `type`. A box running past `d` ends the walk; so does a malformed size.
bool has_top_level_box(std::span<const uint8_t> d, std::string_view type) {
  std::size_t at = 0;
  while (at + 8 <= d.size()) {
    uint64_t size = uint64_t(d[at]) << 24 | uint64_t(d[at + 1]) << 16 | uint64_t(d[at + 2]) << 8 |
                    uint64_t(d[at + 3]);
    if (starts_with(d, type, at + 4)) return true;
    if (size == 1) {  // a 64-bit size follows the type
      if (at + 16 > d.size()) return false;
      size = 0;
      for (int i = 0; i < 8; ++i) size = size << 8 | d[at + 8 + std::size_t(i)];
    }
    if (size < 8) return false;  // 0: runs to the end of the file
    if (size > d.size() - at) return false;
    at += static_cast<std::size_t>(size);
  }
  return false;
}

// MPEG-TS that does not start on a packet: a capture or a download cut anywhere (the first
// packet boundary is within a packet's length), or a stream of 192-byte (M2TS) or 204-byte
// (with Reed-Solomon bytes) packets. Five sync bytes in a row, a packet apart: a chance of one
// in 2^40 per start for other bytes.
bool ts_packets_after_a_cut(std::span<const uint8_t> d) {
  for (const std::size_t packet : {std::size_t(188), std::size_t(192), std::size_t(204)}) {
    for (std::size_t first = 0; first < packet && first + 4 * packet < d.size(); ++first) {
      bool all = true;
      for (std::size_t k = 0; k < 5 && all; ++k) all = d[first + k * packet] == 0x47;
      if (all) return true;
    }
  }
  return false;
}

// MPEG-PS whose first pack header is not at the start (a prefix of other bytes, a cut): a pack
// start code (00 00 01 BA) in the first 64 KiB, the MPEG-2 (01xx xxxx) or MPEG-1 (0010 xxxx)
// pack header after it, and another start code (a system header, a PES packet, the next pack)
// within the next 4 KiB.
bool ps_pack_after_junk(std::span<const uint8_t> d) {
  const std::size_t n = std::min<std::size_t>(d.size(), 65536);
  for (std::size_t i = 0; i + 16 < n; ++i) {
    if (d[i] != 0 || d[i + 1] != 0 || d[i + 2] != 1 || d[i + 3] != 0xBA) continue;
    if ((d[i + 4] & 0xC0) != 0x40 && (d[i + 4] & 0xF0) != 0x20) continue;
    const std::size_t end = std::min(d.size(), i + 4096);
    for (std::size_t j = i + 12; j + 3 < end; ++j) {
      if (d[j] == 0 && d[j + 1] == 0 && d[j + 2] == 1 && d[j + 3] >= 0xB9) return true;
    }
  }
  return false;
}

MediaFormat sniff_annex_b(std::span<const uint8_t> d) {
  std::size_t at = 0;
  if (starts_with(d, std::string_view("\x00\x00\x00\x01", 4))) {
    at = 4;
  } else if (starts_with(d, std::string_view("\x00\x00\x01", 3))) {
    at = 3;
  } else {
    return MediaFormat::kUnknown;
  }
  if (d.size() < at + 2 || (d[at] & 0x80)) return MediaFormat::kUnknown;
  const int hevc_type = (d[at] >> 1) & 0x3f;
  if ((hevc_type >= 32 && hevc_type <= 35) || hevc_type == 39) {
    if ((d[at] & 1) == 0 && (d[at + 1] & 7) != 0) return MediaFormat::kHevc;
  }
  const uint8_t h = d[at];
  if ((h & 0x1f) == 7 && (h & 0x60) != 0) return MediaFormat::kH264;  // SPS (nal_ref_idc > 0)
  if (h == 0x09 || h == 0x06) return MediaFormat::kH264;              // AUD, SEI
  return MediaFormat::kUnknown;
}
}  // namespace

namespace {
std::atomic<ContainerProber> g_container_prober{nullptr};
}  // namespace

void set_container_prober(ContainerProber prober) { g_container_prober.store(prober); }

MediaFormat sniff_format(std::span<const uint8_t> d) {
  if (d.empty()) return MediaFormat::kEmpty;
  if (starts_with(d, "\xFF\xD8\xFF")) return MediaFormat::kJpeg;
  if (starts_with(d, "\x89PNG\r\n\x1A\n")) return MediaFormat::kPng;
  if (starts_with(d, "RIFF") && starts_with(d, "WEBP", 8)) return MediaFormat::kWebp;
  if (starts_with(d, "RIFF") && starts_with(d, "AVI ", 8)) return MediaFormat::kAvi;
  if (starts_with(d, "GIF87a") || starts_with(d, "GIF89a")) return MediaFormat::kGif;
  if (starts_with(d, "BM") && d.size() >= 26) return MediaFormat::kBmp;
  if (starts_with(d, std::string_view("II*\0", 4)) || starts_with(d, std::string_view("MM\0*", 4)))
    return MediaFormat::kTiff;
  if (starts_with(d, "ftyp", 4) && d.size() >= 12) {
    const std::string_view brand(reinterpret_cast<const char*>(d.data() + 8), 4);
    const bool avif = brand == "avif" || brand == "avis";
    const bool heif = brand == "heic" || brand == "heix" || brand == "mif1" || brand == "msf1" ||
                      brand == "heim" || brand == "heis" || brand == "hevc";
    // The brand alone is 4 bytes anyone can change: an MP4 video relabelled "mif1" or "avif"
    // still plays everywhere, and was refused as an image format nothing here decodes (no vPDQ:
    // an evasion). A HEIF / AVIF image has a top-level `meta` box; an image sequence, or a
    // video under such a brand, a `moov` box: that, or no `meta` box, is a video to FFmpeg.
    if ((avif || heif) && !has_top_level_box(d, "moov") && has_top_level_box(d, "meta")) {
      return avif ? MediaFormat::kAvif : MediaFormat::kHeif;
    }
    return MediaFormat::kMp4;  // isom, mp41, mp42, qt, 3gp, M4V ...
  }
  if (starts_with(d, "\x1A\x45\xDF\xA3")) return MediaFormat::kMatroska;  // MKV, WebM
  if (starts_with(d, "FLV\x01")) return MediaFormat::kFlv;
  if (starts_with(d, "OggS")) return MediaFormat::kOgg;
  if (starts_with(d, "\x30\x26\xB2\x75\x8E\x66\xCF\x11")) return MediaFormat::kAsf;
  if (starts_with(d, "DKIF") && d.size() >= 32) return MediaFormat::kIvf;  // VP8/VP9/AV1
  if (starts_with(d, "YUV4MPEG2 ")) return MediaFormat::kY4m;
  if (starts_with(d, std::string_view("nut/multimedia container\0", 25))) return MediaFormat::kNut;
  if (starts_with(d, std::string_view("\x00\x00\x01\xB0", 4))) return MediaFormat::kMpeg4;
  if (const MediaFormat es = sniff_annex_b(d); es != MediaFormat::kUnknown) return es;
  if (starts_with(d, std::string_view("\x00\x00\x01\xBA", 4))) return MediaFormat::kMpegPs;
  if (starts_with(d, std::string_view("\x00\x00\x01\xB3", 4))) return MediaFormat::kMpegPs;  // MPEG-1/2 video
  if (d.size() >= 189 && d[0] == 0x47 && d[188] == 0x47) return MediaFormat::kMpegTs;
  if (d.size() >= 197 && d[4] == 0x47 && d[196] == 0x47) return MediaFormat::kMpegTs;  // M2TS (Blu-ray)
  // QuickTime files without an ftyp box start with another top-level atom.
  if (d.size() >= 8 && (starts_with(d, "moov", 4) || starts_with(d, "mdat", 4) ||
                        starts_with(d, "wide", 4) || starts_with(d, "pnot", 4))) {
    return MediaFormat::kMp4;
  }
  if (starts_with(d, std::string_view("\x00\x00\x00\x0CjP  ", 8)) ||
      starts_with(d, "\xFF\x4F\xFF\x51"))
    return MediaFormat::kJpeg2000;
  if (starts_with(d, "\xFF\x0A") || starts_with(d, std::string_view("\x00\x00\x00\x0CJXL ", 8)))
    return MediaFormat::kJpegXl;
  if (starts_with(d, std::string_view("\x00\x00\x01\x00", 4))) return MediaFormat::kIco;
  if (starts_with(d, "%PDF")) return MediaFormat::kPdf;
  if (starts_with(d, "<svg") || starts_with(d, "<?xml")) return MediaFormat::kSvg;
  // MXF: the header partition pack's key (SMPTE 377M), at the start or after a run-in of up to
  // 64 KiB (FFmpeg's demuxer skips it). Looked for last (no magic above matches an MXF file's
  // first bytes, 06 0E 2B 34), and only in the first 64 KiB.
  {
    static constexpr std::string_view kMxfHeader(
        "\x06\x0E\x2B\x34\x02\x05\x01\x01\x0D\x01\x02\x01\x01\x02", 14);
    const std::size_t n = std::min<std::size_t>(d.size(), 65536 + kMxfHeader.size());
    const std::string_view head(reinterpret_cast<const char*>(d.data()), n);
    if (head.find(kMxfHeader) != std::string_view::npos) return MediaFormat::kMxf;
  }
  // Last, where nothing else matched: MPEG-TS and MPEG-PS that do not start where they should.
  if (ts_packets_after_a_cut(d)) return MediaFormat::kMpegTs;
  if (ps_pack_after_junk(d)) return MediaFormat::kMpegPs;
  return MediaFormat::kUnknown;
}

MediaFormat sniff_media_format(std::span<const uint8_t> d) {
  const MediaFormat f = sniff_format(d);
  if (f != MediaFormat::kUnknown) return f;
  const ContainerProber p = g_container_prober.load();
  return p && p(d) ? MediaFormat::kOtherVideo : f;
}

namespace {
uint32_t be32(const uint8_t* p) {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | uint32_t(p[3]);
}
uint32_t le32_at(const uint8_t* p) {
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}

// GIF: image descriptors counted by walking the blocks (extensions and image data skipped by
// their sub-block lengths) up to the trailer or the end of the data.
int64_t gif_frames(std::span<const uint8_t> d) {
  if (d.size() < 13) return 0;
  std::size_t at = 13;
  if (d[10] & 0x80) at += 3u << ((d[10] & 7) + 1);  // global colour table
  auto skip_sub_blocks = [&]() {
    while (at < d.size()) {
      const std::size_t n = d[at++];
      if (n == 0) return true;
      at += n;
    }
    return false;
  };
  int64_t frames = 0;
  while (at < d.size()) {
    const uint8_t b = d[at++];
    if (b == 0x3B) break;  // trailer
    if (b == 0x21) {       // extension: label, sub-blocks
      if (at >= d.size()) break;
      ++at;
      if (!skip_sub_blocks()) break;
    } else if (b == 0x2C) {  // image descriptor, local colour table, LZW code size, data
      if (at + 9 > d.size()) break;
      const uint8_t flags = d[at + 8];
      at += 9;
      if (flags & 0x80) at += 3u << ((flags & 7) + 1);
      ++at;
      ++frames;
      if (!skip_sub_blocks()) break;
    } else {
      break;
    }
  }
  return frames;
}

// APNG: the acTL chunk's frame count (before the first IDAT).
int64_t png_frames(std::span<const uint8_t> d) {
  std::size_t at = 8;
  while (at + 12 <= d.size()) {
    const uint32_t len = be32(d.data() + at);
    const std::string_view type(reinterpret_cast<const char*>(d.data() + at + 4), 4);
    if (type == "acTL" && len >= 8 && at + 16 <= d.size()) return be32(d.data() + at + 8);
    if (type == "IDAT" || type == "IEND") break;
    if (len > d.size() - at - 12) break;
    at += 12 + std::size_t(len);
  }
  return 0;
}

// Animated WebP: its ANMF (frame) chunks.
int64_t webp_frames(std::span<const uint8_t> d) {
  int64_t frames = 0;
  std::size_t at = 12;
  while (at + 8 <= d.size()) {
    const std::string_view type(reinterpret_cast<const char*>(d.data() + at), 4);
    const uint32_t len = le32_at(d.data() + at + 4);
    if (type == "ANMF") ++frames;
    if (len > d.size() - at - 8) break;
    at += 8 + std::size_t(len) + (len & 1);
  }
  return frames;
}
}  // namespace

int64_t animated_image_frames(std::span<const uint8_t> data) {
  int64_t n = 0;
  switch (sniff_format(data)) {
    case MediaFormat::kGif:
      n = gif_frames(data);
      break;
    case MediaFormat::kPng:
      n = png_frames(data);
      break;
    case MediaFormat::kWebp:
      n = webp_frames(data);
      break;
    default:
      break;
  }
  return n > 1 ? n : 0;
}

bool is_image_format(MediaFormat f) {
  switch (f) {
    case MediaFormat::kJpeg:
    case MediaFormat::kPng:
    case MediaFormat::kWebp:
    case MediaFormat::kGif:
    case MediaFormat::kBmp:
    case MediaFormat::kTiff: return true;
    default: return false;
  }
}

bool is_video_format(MediaFormat f) {
  switch (f) {
    case MediaFormat::kMp4:
    case MediaFormat::kMatroska:
    case MediaFormat::kAvi:
    case MediaFormat::kMpegTs:
    case MediaFormat::kFlv:
    case MediaFormat::kMpegPs:
    case MediaFormat::kOgg:
    case MediaFormat::kAsf:
    case MediaFormat::kIvf:
    case MediaFormat::kY4m:
    case MediaFormat::kNut:
    case MediaFormat::kMxf:
    case MediaFormat::kH264:
    case MediaFormat::kHevc:
    case MediaFormat::kMpeg4:
    case MediaFormat::kOtherVideo:
      return true;
    default: return false;
  }
}

namespace {
// The range of the matching command-line options (--max-file-bytes, --max-pixels): 1 to 2^40.
// strtoull alone took "-1" for 2^64 - 1 (no limit at all) and "0" for a limit nothing passes.
uint64_t env_u64(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  constexpr unsigned long long kMax = 1ull << 40;
  const auto bad = [&] {
    return InvalidArgument(std::string(name) + " must be a whole number from 1 to " +
                           std::to_string(kMax) + ", got '" + v + "'");
  };
  if (!std::isdigit(static_cast<unsigned char>(v[0]))) throw bad();
  char* end = nullptr;
  errno = 0;
  const unsigned long long x = std::strtoull(v, &end, 10);
  if (end == v || *end != '\0' || errno == ERANGE || x < 1 || x > kMax) throw bad();
  return x;
}
}  // namespace

DecodeLimits decode_limits_from_env() {
  DecodeLimits l;
  l.max_file_bytes = env_u64("HASHMATCH_MAX_FILE_BYTES", l.max_file_bytes);
  l.max_pixels = env_u64("HASHMATCH_MAX_PIXELS", l.max_pixels);
  return l;
}

void check_dimensions(int width, int height, const DecodeLimits& limits, std::string_view what) {
  if (width <= 0 || height <= 0) {
    throw MediaError("corrupt", std::string(what) + ": invalid dimensions " + std::to_string(width) +
                                    "x" + std::to_string(height));
  }
  const uint64_t pixels = uint64_t(width) * uint64_t(height);
  if (width > limits.max_dimension || height > limits.max_dimension || pixels > limits.max_pixels) {
    throw MediaError("too_many_pixels",
                     std::string(what) + " of " + std::to_string(width) + "x" +
                         std::to_string(height) + " pixels exceeds the limit of " +
                         std::to_string(limits.max_pixels) + " pixels (max side " +
                         std::to_string(limits.max_dimension) + "); refused before decoding");
  }
}

namespace {
[[noreturn]] void throw_not_image(MediaFormat f, std::span<const uint8_t> data) {
  if (f == MediaFormat::kEmpty) throw MediaError("empty", "empty file");
  if (f == MediaFormat::kUnknown) {
    throw MediaError("unsupported", "not an image or video format hashmatch recognises");
  }
  if (is_video_format(f)) {
    throw MediaError("unsupported", "video (" + std::string(media_format_name(f)) +
                                        ") where an image was expected");
  }
  throw MediaError("unsupported",
                   "unsupported image format: " + std::string(media_format_name(f)));
}
}  // namespace

ImageHeader probe_image(std::span<const uint8_t> data, const DecodeLimits& limits) {
  if (data.size() > limits.max_file_bytes) {
    throw MediaError("too_large", "file of " + std::to_string(data.size()) +
                                      " bytes exceeds the limit of " +
                                      std::to_string(limits.max_file_bytes) + " bytes");
  }
  const MediaFormat f = sniff_format(data);
  ImageHeader h;
  h.format = f;
  switch (f) {
    case MediaFormat::kJpeg: detail::probe_jpeg(data, &h.width, &h.height); break;
    case MediaFormat::kPng: detail::probe_png(data, &h.width, &h.height); break;
    case MediaFormat::kWebp: detail::probe_webp(data, &h.width, &h.height); break;
    case MediaFormat::kGif: detail::probe_gif(data, &h.width, &h.height); break;
    case MediaFormat::kBmp: detail::probe_bmp(data, &h.width, &h.height); break;
    case MediaFormat::kTiff: detail::probe_tiff(data, &h.width, &h.height); break;
    default: throw_not_image(f, data);
  }
  check_dimensions(h.width, h.height, limits, media_format_name(f));
  return h;
}

Image decode_image(std::span<const uint8_t> data, const DecodeLimits& limits) {
  const ImageHeader h = probe_image(data, limits);
  Image img;
  switch (h.format) {
    case MediaFormat::kJpeg: img = detail::decode_jpeg(data, limits); break;
    case MediaFormat::kPng: img = detail::decode_png(data, limits); break;
    case MediaFormat::kWebp: img = detail::decode_webp(data, limits); break;
    case MediaFormat::kGif: img = detail::decode_gif(data, limits); break;
    case MediaFormat::kBmp: img = detail::decode_bmp(data, limits); break;
    case MediaFormat::kTiff: img = detail::decode_tiff(data, limits); break;
    default: throw_not_image(h.format, data);
  }
  check_dimensions(img.width, img.height, limits, media_format_name(h.format));
  return img;
}

}  // namespace hashmatch
