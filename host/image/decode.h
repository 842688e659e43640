// Image decoding: format detection by content, header-first limits, per-format decoders.
//
// Pixels follow Pillow's Image.convert("RGB") on the decoders the reference lists were made with
// (libjpeg-turbo ISLOW IDCT with fancy upsampling, libpng, libwebp, giflib, libtiff; BMP through
// FFmpeg's libavcodec): alpha dropped (not composited), grey kept as one channel (hashed as is),
// palette resolved, CMYK converted as Pillow does, EXIF orientation not applied, first frame of an
// animation. Every failure is a MediaError with a short reason token and a clear message.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "host/image/image.h"

namespace hashmatch {

enum class MediaFormat {
  kUnknown,
  kEmpty,
  // images
  kJpeg,
  kPng,
  kWebp,
  kGif,
  kBmp,
  kTiff,
  kHeif,
  kAvif,
  kJpeg2000,
  kJpegXl,
  kIco,
  kPdf,
  kSvg,  // recognised, not decoded (unsupported)
  // video containers (decoded by video/)
  kMp4,
  kMatroska,
  kAvi,
  kMpegTs,
  kFlv,
  kMpegPs,
  kOgg,
  kAsf,
  kIvf,
  kY4m,
  kNut,
  kMxf,
  kH264,
  kHevc,
  kMpeg4,       // elementary streams (Annex B H.264 / HEVC, MPEG-4 part 2)
  kOtherVideo,  // another container FFmpeg's demuxers recognise (set_container_prober)
};

std::string_view media_format_name(MediaFormat f);
// Detects the format from the first bytes (16 or more recommended; fewer is fine for short files).
MediaFormat sniff_format(std::span<const uint8_t> head);
bool is_image_format(MediaFormat f);  // one hashmatch decodes as an image
bool is_video_format(MediaFormat f);
// Containers no magic number above tells (DV, RealMedia, GXF, WTV, SWF, AV1 OBU, raw H.263 ...)
// but FFmpeg's demuxers read: when sniff_format matched nothing, sniff_media_format asks this
// prober (video/ registers one) and says kOtherVideo where it is sure. Null: none (the default).
using ContainerProber = bool (*)(std::span<const uint8_t> head);
void set_container_prober(ContainerProber prober);
// sniff_format, then the prober: what decides a file's route (video, image, neither), called once
// where the route is chosen (read_media_file, the server's pipeline). Not sniff_format itself:
// FFmpeg's probe reads up to 1 MiB through every demuxer (~25 ms for bytes nothing recognises),
// and the image decoders sniff again.
MediaFormat sniff_media_format(std::span<const uint8_t> head);

// The frames of an animated GIF, APNG or animated WebP (read from its structure, nothing decoded):
// 0 for a still image or another format. PDQ hashes the first frame only (as the reference
// pdqhash does); the count lets a result say so.
int64_t animated_image_frames(std::span<const uint8_t> data);

struct DecodeLimits {
  uint64_t max_file_bytes = 256ull << 20;    // media bytes held in memory for decoding
  // A video file larger than this is decoded from its file (streamed, 64 KiB reads) instead of
  // from a copy in memory: memory stays bounded for long videos, at the cost of reading the file
  // a second time after the digests (from the page cache, usually).
  uint64_t max_video_bytes_in_memory = 32ull << 20;
  uint64_t max_pixels = 100'000'000;         // width * height, checked from the header
  int max_dimension = 65'500;                // either side
};
// Limits with HASHMATCH_MAX_FILE_BYTES / HASHMATCH_MAX_PIXELS applied over the defaults.
DecodeLimits decode_limits_from_env();

struct ImageHeader {
  MediaFormat format = MediaFormat::kUnknown;
  int width = 0;
  int height = 0;
};

// Reads only the header (dimensions) and applies the limits: throws MediaError "too_many_pixels"
// for a decompression bomb before anything is decoded.
ImageHeader probe_image(std::span<const uint8_t> data, const DecodeLimits& limits);

// Decodes the whole image (probe_image first). Throws MediaError.
Image decode_image(std::span<const uint8_t> data, const DecodeLimits& limits);

// Checks width x height against the limits; throws MediaError "too_many_pixels" / "corrupt".
void check_dimensions(int width, int height, const DecodeLimits& limits, std::string_view what);

}  // namespace hashmatch
