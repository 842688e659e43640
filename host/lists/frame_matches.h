// A video's frames against listed PDQ hashes (images), for `hashmatch match` and `hashmatch scan`:
// the distinct frame hashes of PDQ quality >= min_quality (MediaHashResult::vpdq)
// are searched as PDQ hashes, as they are (no dihedral variants); per list entry, the closest
// match and how many of those frames matched it (frames_matched of the queries' count).
#pragma once

#include <cstddef>
#include <map>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "host/lists/list_matcher.h"
#include "host/media/hash_media.h"

namespace hashmatch {

struct FrameEntryMatch {
  ListMatch best;                  // the closest frame's match
  std::size_t frames_matched = 0;  // queries (distinct frames) that matched this entry
};

// The matches of one video's frame queries (ListSnapshot::match_pdq's answers to one query per
// distinct frame hash), fed in any number of parts (each query in exactly one), then take().
class FrameEntryCounter {
 public:
  void add(std::span<const std::vector<ListMatch>> results);
  std::vector<FrameEntryMatch> take();  // one per list entry, ordered by list and id

 private:
  std::map<std::pair<std::string, std::string>, FrameEntryMatch> per_entry_;
};

// A video's distinct frame hashes of quality >= min_quality, sorted (its queries in any order, at
// 32 bytes a frame instead of a query's ~290: a match does not depend on which frame asked, frames
// being searched as they are).
std::vector<Hash256> distinct_frame_hashes(std::span<const VideoFrameHash> frames, int min_quality);

// A video's frames against the snapshot's PDQ entries, as one query per distinct frame and
// FrameEntryCounter together, but searched `chunk` distinct hashes at a time with the counts
// folded as they come: memory is one chunk's queries and answers (and 32 bytes per distinct
// frame), where one search of every query took ~290 bytes per distinct frame (a query holds room
// for 8 variants), 150 MB for half a million frames. `opts.dihedral` is ignored (frames are
// searched as they are).
struct VideoFrameMatches {
  std::size_t queries = 0;               // distinct frame hashes of quality >= min_quality
  std::vector<FrameEntryMatch> entries;  // one per list entry, ordered by list and id
};
VideoFrameMatches match_video_frames(const ListSnapshot& snap,
                                     std::span<const VideoFrameHash> frames, int min_quality,
                                     const QueryOptions& opts, std::size_t chunk = 16384);

}  // namespace hashmatch
