// Hashing one media item (file or in-memory bytes): exact digests and PDQ of images.
// Videos are recognised here and hashed by video/ (vPDQ) through the registered video hasher.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "host/common/digest.h"
#include "host/common/hash256.h"
#include "host/image/decode.h"
#include "host/pdq/pdq.h"

namespace hashmatch {

// How videos are hashed (vPDQ). Used by video/ through the registered video hasher; the CLI and the
// server fill it from their flags. Defaults follow vPDQ as HMA and pdqhash use it.
struct VideoOptions {
  // A frame is hashed iff frame_number % max(1, (int)(seconds_per_hash * fps)) == 0; 0 hashes every
  // frame (the reference command line's default, `--vpdq-every-frame`).
  double seconds_per_hash = 1.0;
  int size = 0;                  // 0: frames hashed at their own size; N: scaled to N x N (SWS_AREA)
  bool keyframes_only = false;   // decode and hash key frames only (fast triage, not vPDQ-exact)
  bool apply_rotation = false;   // rotate frames by the container's display matrix (vPDQ does not)
  std::string decoder = "auto";  // auto: NVDEC when a GPU answers, else CPU | cpu | cuda
  // Which PDQ hashes NVDEC frames (video/gpu_pdq_sink.h): auto (the GPU PDQ without a copy back
  // when every frame is hashed; else the host path, vPDQ-exact) | cpu | cuda (HASHMATCH_VIDEO_PDQ)
  std::string pdq = "auto";
  int threads = 0;               // CPU decoder threads and hashing threads per video (0: automatic:
                                 // FFmpeg's choice for a video alone, a share beside others)
  double time_budget_seconds = 600;       // wall-clock limit per video (HASHMATCH_VIDEO_TIME_BUDGET)
  // Time the video already waited before its hashing began (the server's video queue): counted
  // against time_budget_seconds, so that a request's wait and decoding together stay within it.
  double waited_seconds = 0;
  double max_duration_seconds = 24 * 3600;  // longer videos are refused (HASHMATCH_VIDEO_MAX_SECONDS)
  uint64_t max_frames = 10'000'000;       // decoded frames per video
  int max_decode_errors = 100;   // packets that fail to decode before the video is given up
};

struct HashOptions {
  DecodeLimits limits;
  VideoOptions video;
  int pdq_prescale = 0;   // 0: full resolution (default); 512: reference CLI pre-resize
  bool dihedral = false;  // compute the 8 dihedral hashes
};

// One hashed frame of a video (vPDQ): its number in decoding order from 0, the PDQ quality and
// hash, and its time in seconds (frame number / fps).
struct VideoFrameHash {
  int64_t frame_number = 0;
  int quality = 0;
  Hash256 hash;
  double timestamp = 0;
};

// Whether a JSON value (nlohmann::json or ordered_json) is a PDQ quality: an integer in 0..100,
// read as 64 bits and checked (4294967346 is not 50, nor is -1 a quality).
template <class Json>
bool is_pdq_quality(const Json& v) {
  return v.is_number_unsigned() ? v.template get<uint64_t>() <= 100
                                : v.is_number_integer() && v.template get<int64_t>() >= 0 &&
                                      v.template get<int64_t>() <= 100;
}

struct MediaHashResult {
  std::string path;
  uint64_t size = 0;
  bool have_digests = false;
  ExactDigests digests;
  MediaFormat format = MediaFormat::kUnknown;
  int width = 0, height = 0;
  std::optional<pdq::PdqDihedral> pdq;  // hashes[0] is the image itself; others with `dihedral`
  // A video's hashed frames (the vPDQ field), set for every video, also one that failed part way
  // (the frames hashed before the problem). Held typed, 56 bytes a frame, and written out as text
  // straight from here (write_json_line): a JSON value would hold ~1.3 KB a frame, too much for a
  // long video hashed frame by frame.
  std::optional<std::vector<VideoFrameHash>> vpdq;
  // Extra fields a media-specific hasher adds to the JSON line (e.g. the `video` object of a
  // video; its frames are in `vpdq`).
  nlohmann::json extra = nlohmann::json::object();
  std::string error;         // empty on success
  std::string error_reason;  // short token: truncated, empty, unsupported, too_large, ...
  bool ok() const { return error.empty(); }
};

// Hashes the image in `bytes` (already read; digests are the caller's). Fills format, size,
// pdq or error. Never throws for bad media.
void hash_image_bytes(std::span<const uint8_t> bytes, const HashOptions& opts, pdq::PdqHasher& hasher,
                      MediaHashResult* out);

// Decodes the image in `bytes` without hashing it: fills format, size (or error) as
// hash_image_bytes does and returns the image for the caller to hash (a batched GPU hasher); empty
// on error. Never throws for bad media.
std::optional<Image> decode_image_bytes(std::span<const uint8_t> bytes, const HashOptions& opts,
                                        MediaHashResult* out);

// As hash_media_file, but an image is only decoded and returned in *image (out.pdq unset) for the
// caller to hash; everything else (digests, videos, errors) is done as there.
MediaHashResult decode_media_file(const std::string& path, const HashOptions& opts,
                                  std::optional<Image>* image);

// Reads and hashes a file: digests always (when readable), PDQ for images. Never throws for bad
// media or unreadable files: the error is recorded in the result.
MediaHashResult hash_media_file(const std::string& path, const HashOptions& opts,
                                pdq::PdqHasher& hasher);

// A hook through which video/ hashes videos found by content (unset: videos get an error).
using VideoHashFn = std::function<void(const std::string& path, std::span<const uint8_t> bytes,
                                       const HashOptions& opts, MediaHashResult* out)>;
void set_video_hasher(VideoHashFn fn);

// The JSON line of `hashmatch hash`: path, size, md5, sha1, sha256, pdq, pdq_quality (or error),
// pdq_dihedral when asked for; a video's `vpdq` array unless with_frames is false.
nlohmann::json to_json(const MediaHashResult& r, bool dihedral, bool with_frames = true);

// The `vpdq` array of a video: [{frame, quality, pdq, timestamp}, ...], timestamps rounded to
// three decimals as the reference prints them.
nlohmann::json vpdq_frames_to_json(std::span<const VideoFrameHash> frames);

// Writes `j` (to_json(r, dihedral, false) with whatever the caller added) as one line of JSON
// text onto *out, without the newline, with `frames` as its `vpdq` member written straight from
// the typed frames: a long video's line never becomes a JSON value. The member goes where a
// sorted object has it (before the first key after "vpdq", or where the sorted keys end and the
// caller's appended ones begin), so that the text is what dumping to_json(r, dihedral) with the
// same additions would give. Invalid UTF-8 in strings is replaced (U+FFFD).
void write_json_line(const nlohmann::json& j, const std::vector<VideoFrameHash>* frames,
                     std::string* out);
void write_json_line(const nlohmann::ordered_json& j, const std::vector<VideoFrameHash>* frames,
                     std::string* out);

}  // namespace hashmatch
