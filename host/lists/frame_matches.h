// A video's frames against listed PDQ hashes (images), for `hashmatch match` and `hashmatch scan`:
// the distinct frame hashes of PDQ quality >= min_quality (MediaHashResult::vpdq)
// are searched as PDQ hashes, as they are (no dihedral variants); per list entry, the closest
// match and how many of those frames matched it (frames_matched of the queries' count).
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <span>
#include <vector>

#include "host/lists/list_matcher.h"
#include "host/media/hash_media.h"

namespace hashmatch {

// One query per distinct frame hash of quality >= min_quality, in the frames' order.
std::vector<PdqQuery> video_frame_queries(std::span<const VideoFrameHash> frames, int min_quality);

struct FrameEntryMatch {
  ListMatch best;                  // the closest frame's match
  std::size_t frames_matched = 0;  // queries (distinct frames) that matched this entry
};

// The matches of one video's frame queries (ListSnapshot::match_pdq's answer to
// video_frame_queries), one per list entry, ordered by list and id.
std::vector<FrameEntryMatch> frame_entry_matches(std::span<const std::vector<ListMatch>> results);

}  // namespace hashmatch
