#include "host/media/hash_media.h"

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <mutex>

#include "host/common/error.h"
#include "host/media/media_file.h"

namespace hashmatch {
namespace {

std::mutex g_video_mu;
VideoHashFn g_video_hasher;

VideoHashFn video_hasher() {
  std::lock_guard<std::mutex> lk(g_video_mu);
  return g_video_hasher;
}

void set_error(MediaHashResult* out, std::string reason, std::string message) {
  out->error = std::move(message);
  out->error_reason = std::move(reason);
}

}  // namespace

void set_video_hasher(VideoHashFn fn) {
  std::lock_guard<std::mutex> lk(g_video_mu);
  g_video_hasher = std::move(fn);
}

std::optional<Image> decode_image_bytes(std::span<const uint8_t> bytes, const HashOptions& opts,
                                        MediaHashResult* out) {
  try {
    out->format = sniff_format(bytes);
    Image img = decode_image(bytes, opts.limits);
    out->width = img.width;
    out->height = img.height;
    // An animated image: PDQ hashes its first frame (as the reference does); said, so that an
    // analyst knows the other frames were not looked at.
    if (const int64_t frames = animated_image_frames(bytes); frames > 1) {
      out->extra["frames"] = frames;
      out->extra["note"] =
          "animated image of " + std::to_string(frames) + " frames: the first frame is hashed";
    }
    return img;
  } catch (const MediaError& e) {
    set_error(out, e.reason(), e.what());
  } catch (const std::bad_alloc&) {
    set_error(out, "out_of_memory", "out of memory while decoding");
  } catch (const std::exception& e) {
    set_error(out, "internal", e.what());
  }
  return std::nullopt;
}

void hash_image_bytes(std::span<const uint8_t> bytes, const HashOptions& opts,
                      pdq::PdqHasher& hasher, MediaHashResult* out) {
  std::optional<Image> img = decode_image_bytes(bytes, opts, out);
  if (!img) return;
  try {
    if (opts.dihedral) {
      out->pdq = hasher.hash_dihedral(*img);
    } else {
      const pdq::PdqHash h = hasher.hash(*img);
      pdq::PdqDihedral d;
      d.hashes[0] = h.hash;
      d.quality = h.quality;
      out->pdq = d;
    }
  } catch (const std::bad_alloc&) {
    set_error(out, "out_of_memory", "out of memory while decoding");
  } catch (const std::exception& e) {
    set_error(out, "internal", e.what());
  }
}

namespace {

// Reads the file and handles everything but images; returns the bytes of an image to decode.
bool read_for_hashing(const std::string& path, const HashOptions& opts, MediaHashResult* r,
                      MediaFile* mf) {
  r->path = path;
  try {
    *mf = read_media_file(path, opts.limits);
  } catch (const IoError& e) {
    set_error(r, "io", e.what());
    return false;
  } catch (const std::exception& e) {
    set_error(r, "io", e.what());
    return false;
  }
  r->size = mf->size;
  r->digests = mf->digests;
  r->have_digests = true;
  r->format = mf->format;
  if (is_video_format(mf->format)) {
    if (VideoHashFn fn = video_hasher()) {
      try {
        fn(path, mf->bytes, opts, r);
      } catch (const MediaError& e) {
        set_error(r, e.reason(), e.what());
      } catch (const std::exception& e) {
        set_error(r, "internal", e.what());
      }
    } else {
      set_error(r, "unsupported", "video (" + std::string(media_format_name(mf->format)) +
                                      "): this build has no video hasher");
    }
    return false;
  }
  if (mf->too_large) {
    set_error(r, "too_large", "file of " + std::to_string(mf->size) +
                                  " bytes exceeds the media limit of " +
                                  std::to_string(opts.limits.max_file_bytes) +
                                  " bytes (exact hashes computed, PDQ not)");
    return false;
  }
  return true;
}

}  // namespace

MediaHashResult hash_media_file(const std::string& path, const HashOptions& opts,
                                pdq::PdqHasher& hasher) {
  MediaHashResult r;
  MediaFile mf;
  if (read_for_hashing(path, opts, &r, &mf)) hash_image_bytes(mf.bytes, opts, hasher, &r);
  return r;
}

MediaHashResult decode_media_file(const std::string& path, const HashOptions& opts,
                                  std::optional<Image>* image) {
  MediaHashResult r;
  MediaFile mf;
  image->reset();
  if (read_for_hashing(path, opts, &r, &mf)) *image = decode_image_bytes(mf.bytes, opts, &r);
  return r;
}

namespace {

// The reference prints a timestamp with "%.3f"; the JSON number is the double of that very text
// (the exact value rounded once, as the reference does).
double three_decimals(double x) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3f", x);
  return std::strtod(buf, nullptr);
}

template <class Json>
void write_json_line_impl(const Json& j, const std::vector<VideoFrameHash>* frames,
                          std::string* out) {
  auto dump = [](const Json& v) { return v.dump(-1, ' ', false, Json::error_handler_t::replace); };
  auto write_frames = [&] {
    *out += "\"vpdq\":[";
    // Keys in the order nlohmann::json dumps an object: frame, pdq, quality, timestamp.
    bool first = true;
    for (const VideoFrameHash& f : *frames) {
      if (!first) *out += ',';
      first = false;
      *out += "{\"frame\":";
      *out += std::to_string(f.frame_number);
      *out += ",\"pdq\":\"";
      *out += f.hash.to_hex();
      *out += "\",\"quality\":";
      *out += std::to_string(f.quality);
      *out += ",\"timestamp\":";
      *out += Json(three_decimals(f.timestamp)).dump();
      *out += '}';
    }
    *out += ']';
  };
  // ~125 bytes a frame ({"frame":N,"pdq":"<64 hex>","quality":Q,"timestamp":T}): reserved, so
  // that a long video's line does not grow by doubling to twice its size.
  if (frames) out->reserve(out->size() + frames->size() * 128 + 4096);
  if (!j.is_object()) {  // nothing to put the frames into
    *out += dump(j);
    return;
  }
  *out += '{';
  bool first = true, placed = frames == nullptr;
  const std::string* prev = nullptr;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& key = it.key();
    if (!placed && (key > "vpdq" || (prev && key < *prev))) {
      if (!first) *out += ',';
      write_frames();
      first = false;
      placed = true;
    }
    if (!first) *out += ',';
    first = false;
    *out += dump(Json(key));
    *out += ':';
    *out += dump(it.value());
    prev = &key;
  }
  if (!placed) {
    if (!first) *out += ',';
    write_frames();
  }
  *out += '}';
}

}  // namespace

nlohmann::json vpdq_frames_to_json(std::span<const VideoFrameHash> frames) {
  nlohmann::json arr = nlohmann::json::array();
  for (const VideoFrameHash& f : frames) {
    arr.push_back({{"frame", f.frame_number},
                   {"quality", f.quality},
                   {"pdq", f.hash.to_hex()},
                   {"timestamp", three_decimals(f.timestamp)}});
  }
  return arr;
}

void write_json_line(const nlohmann::json& j, const std::vector<VideoFrameHash>* frames,
                     std::string* out) {
  write_json_line_impl(j, frames, out);
}

void write_json_line(const nlohmann::ordered_json& j, const std::vector<VideoFrameHash>* frames,
                     std::string* out) {
  write_json_line_impl(j, frames, out);
}

nlohmann::json to_json(const MediaHashResult& r, bool dihedral, bool with_frames) {
  nlohmann::json j;
  j["path"] = r.path;
  j["size"] = r.size;
  if (r.have_digests) {
    j["md5"] = r.digests.md5;
    j["sha1"] = r.digests.sha1;
    j["sha256"] = r.digests.sha256;
  }
  if (r.format != MediaFormat::kUnknown) j["format"] = std::string(media_format_name(r.format));
  if (r.width > 0) {
    j["width"] = r.width;
    j["height"] = r.height;
  }
  if (r.pdq) {
    j["pdq"] = r.pdq->hashes[0].to_hex();
    j["pdq_quality"] = r.pdq->quality;
    if (dihedral) {
      nlohmann::json arr = nlohmann::json::array();
      for (const Hash256& h : r.pdq->hashes) arr.push_back(h.to_hex());
      j["pdq_dihedral"] = std::move(arr);
    }
  }
  for (auto it = r.extra.begin(); it != r.extra.end(); ++it) j[it.key()] = it.value();
  if (r.vpdq && with_frames) j["vpdq"] = vpdq_frames_to_json(*r.vpdq);
  if (!r.ok()) {
    j["error"] = r.error;
    j["error_reason"] = r.error_reason;
  }
  return j;
}

}  // namespace hashmatch
