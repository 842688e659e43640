#include "host/lists/frame_matches.h"

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <utility>

namespace hashmatch {

void FrameEntryCounter::add(std::span<const std::vector<ListMatch>> results) {
  for (const auto& ms : results) {
    std::set<std::pair<std::string, std::string>> counted;  // an entry once per frame
    for (const ListMatch& m : ms) {
      auto key = std::make_pair(m.list, m.id);
      FrameEntryMatch& a = per_entry_[key];
      if (a.frames_matched == 0 || m.distance < a.best.distance) a.best = m;
      if (counted.insert(std::move(key)).second) ++a.frames_matched;
    }
  }
}

std::vector<FrameEntryMatch> FrameEntryCounter::take() {
  std::vector<FrameEntryMatch> out;
  out.reserve(per_entry_.size());
  for (auto& [key, a] : per_entry_) out.push_back(std::move(a));
  per_entry_.clear();
  return out;
}

std::vector<Hash256> distinct_frame_hashes(std::span<const VideoFrameHash> frames,
                                           int min_quality) {
  std::vector<Hash256> hashes;
  for (const VideoFrameHash& f : frames) {
    if (f.quality >= min_quality) hashes.push_back(f.hash);
  }
  std::sort(hashes.begin(), hashes.end());
  hashes.erase(std::unique(hashes.begin(), hashes.end()), hashes.end());
  hashes.shrink_to_fit();
  return hashes;
}

VideoFrameMatches match_video_frames(const ListSnapshot& snap,
                                     std::span<const VideoFrameHash> frames, int min_quality,
                                     const QueryOptions& opts, std::size_t chunk) {
  const std::vector<Hash256> hashes = distinct_frame_hashes(frames, min_quality);
  VideoFrameMatches out;
  out.queries = hashes.size();
  QueryOptions q = opts;
  q.dihedral = false;
  FrameEntryCounter counter;
  std::vector<PdqQuery> queries;
  chunk = std::max<std::size_t>(chunk, 1);
  for (std::size_t begin = 0; begin < hashes.size(); begin += chunk) {
    const std::size_t end = std::min(hashes.size(), begin + chunk);
    queries.clear();
    for (std::size_t i = begin; i < end; ++i) queries.push_back(PdqQuery::original(hashes[i]));
    counter.add(snap.match_pdq(std::span<const PdqQuery>(queries), q));
  }
  out.entries = counter.take();
  return out;
}

}  // namespace hashmatch
