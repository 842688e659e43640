#include "host/media/hash_media.h"

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

nlohmann::json to_json(const MediaHashResult& r, bool dihedral) {
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
  if (!r.ok()) {
    j["error"] = r.error;
    j["error_reason"] = r.error_reason;
  }
  return j;
}

}  // namespace hashmatch
