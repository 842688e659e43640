// Listed videos in the hash-list database (host/lists/list_store.h): each video is stored as its
// vPDQ frame hashes, under an id, in a named list, beside the list's other entries. Its exact
// digests (when known) go into the list as ordinary md5/sha1/sha256 entries with the same id, so
// `hashmatch match` finds byte-identical copies as for any file.
//
// Tables (same SQLite file, created by ListStore; a dropped list takes its videos with it, and
// ListStore::remove_id / remove_all and an import's deletion records remove them by id):
//   vpdq_videos(row, list_id -> lists.id ON DELETE CASCADE, video_id, frames, added_at, category,
//               source, tags, UNIQUE(list_id, video_id))
//   vpdq_frames(video_row -> vpdq_videos.row ON DELETE CASCADE, frame, quality, hash BLOB(32),
//               timestamp_us)
// Every change is one transaction and advances the list's generation and the store's version, so
// matchers that poll ListStore::version() reload.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "host/common/digest.h"
#include "host/lists/list_store.h"
#include "host/match/matcher.h"
#include "video/vpdq.h"
#include "video/vpdq_match.h"

namespace hashmatch::video {

struct StoredVideo {
  std::string list;
  std::string id;
  Labels labels;
  int64_t added_at = 0;
  std::vector<VpdqFrame> frames;  // by frame number
};

class VpdqStore {
 public:
  // Uses `store`'s connection (one thread at a time, as ListStore).
  explicit VpdqStore(ListStore& store);

  // Adds a video (replacing one with the same id in that list) in one transaction; the list is
  // created when missing. `digests`: also stored as md5/sha1/sha256 entries with this id; the
  // id's earlier entries are replaced by them, or removed when there are none. Throws
  // InvalidArgument for an empty id, no frames, or a frame number given twice. Timestamps are
  // stored as microseconds, clamped to 0..kMaxVpdqTimestamp (vpdq_io.h; NaN as 0).
  void add_video(const std::string& list, const std::string& id, std::span<const VpdqFrame> frames,
                 const Labels& labels = {}, const ExactDigests* digests = nullptr);
  // Removes the video and its digest entries (ListStore::remove_id, one transaction); returns 1
  // when the video existed, else 0 and nothing is removed (an id without a listed video may be an
  // image record's). `entries`, when given, receives the number of digest entries removed.
  int64_t remove_video(const std::string& list, const std::string& id, int64_t* entries = nullptr);
  int64_t count_videos(const std::string& list);
  // The ids of a list's videos (frames not loaded); empty for a list that does not exist.
  std::vector<std::string> video_ids(const std::string& list);
  // Every stored video of `lists` (all lists when empty), frames loaded, in (list, id) order.
  void for_each_video(const std::vector<std::string>& lists,
                      const std::function<void(const StoredVideo&)>& fn);

 private:
  ListStore& store_;
};

// One stored video a query matched (vPDQ's rule, see video/vpdq_match.h).
struct VideoListMatch {
  std::string list;
  std::string id;
  Labels labels;
  int64_t added_at = 0;
  VideoMatchResult result;
};

// An immutable index over the stored videos of some lists: their matchable frames (deduplicated,
// quality-filtered) in one PDQ matcher (host/match: CPU brute/MIH, or the GPU), so a query video is
// compared with every listed video in one range search.
class VideoIndex {
 public:
  // Indexes the frames `opts` makes matchable (opts.unique_frames, opts.quality_threshold); the
  // other options are the defaults of match().
  VideoIndex(VpdqStore& store, const std::vector<std::string>& lists,
             const VideoMatchOptions& opts = {}, const MatcherOptions& mopts = {});

  // Every stored video the query matches (match == true), best q% first; with `all`, also the
  // stored videos that share at least one frame but fall short of the thresholds.
  std::vector<VideoListMatch> match(std::span<const VpdqFrame> query, bool all = false) const;
  // The same under other options for this query, exactly as an index built with them would answer
  // (the server's per-request threshold and reloaded quality): any distance threshold (the range
  // search is exact at every one), strictness and percentages; a quality threshold at or above the
  // index's (frames below it were not indexed). Throws InvalidArgument for a lower quality
  // threshold or another unique_frames.
  std::vector<VideoListMatch> match(std::span<const VpdqFrame> query, const VideoMatchOptions& opts,
                                    bool all = false) const;

  std::size_t videos() const { return videos_.size(); }
  // The indexed videos of these lists (every list when empty).
  std::size_t videos(const std::vector<std::string>& lists) const;
  std::size_t frames() const { return owner_.size(); }
  const VideoMatchOptions& options() const { return opts_; }

 private:
  struct Meta {
    std::string list, id;
    Labels labels;
    int64_t added_at = 0;
    std::size_t first = 0;   // its first indexed frame (a video's frames are consecutive)
    std::size_t frames = 0;  // matchable frames
  };
  VideoMatchOptions opts_;
  std::vector<Meta> videos_;
  std::vector<uint32_t> owner_;  // indexed frame -> video
  std::vector<int> quality_;     // indexed frame -> its PDQ quality
  std::unique_ptr<PdqMatcher> matcher_;
};

}  // namespace hashmatch::video
