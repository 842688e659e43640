#include "host/lists/frame_matches.h"

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <utility>

namespace hashmatch {

std::vector<PdqQuery> video_frame_queries(std::span<const VideoFrameHash> frames, int min_quality) {
  std::vector<PdqQuery> queries;
  std::set<Hash256> seen;
  for (const VideoFrameHash& f : frames) {
    if (f.quality < min_quality || !seen.insert(f.hash).second) continue;
    queries.push_back(PdqQuery::original(f.hash));
  }
  return queries;
}

namespace {

using PerEntry = std::map<std::pair<std::string, std::string>, FrameEntryMatch>;

void fold(PerEntry& per_entry, std::span<const std::vector<ListMatch>> results) {
  for (const auto& ms : results) {
    std::set<std::pair<std::string, std::string>> counted;  // an entry once per frame
    for (const ListMatch& m : ms) {
      auto key = std::make_pair(m.list, m.id);
      FrameEntryMatch& a = per_entry[key];
      if (a.frames_matched == 0 || m.distance < a.best.distance) a.best = m;
      if (counted.insert(std::move(key)).second) ++a.frames_matched;
    }
  }
}

std::vector<FrameEntryMatch> flatten(PerEntry& per_entry) {
  std::vector<FrameEntryMatch> out;
  out.reserve(per_entry.size());
  for (auto& [key, a] : per_entry) out.push_back(std::move(a));
  return out;
}

}  // namespace

std::vector<FrameEntryMatch> frame_entry_matches(std::span<const std::vector<ListMatch>> results) {
  PerEntry per_entry;
  fold(per_entry, results);
  return flatten(per_entry);
}

VideoFrameMatches match_video_frames(const ListSnapshot& snap,
                                     std::span<const VideoFrameHash> frames, int min_quality,
                                     const QueryOptions& opts, std::size_t chunk) {
  // The distinct hashes, sorted: a match does not depend on which frame asked (frames are
  // searched as they are), so their order does not change the answer.
  std::vector<Hash256> hashes;
  for (const VideoFrameHash& f : frames) {
    if (f.quality >= min_quality) hashes.push_back(f.hash);
  }
  std::sort(hashes.begin(), hashes.end());
  hashes.erase(std::unique(hashes.begin(), hashes.end()), hashes.end());
  hashes.shrink_to_fit();
  VideoFrameMatches out;
  out.queries = hashes.size();
  QueryOptions q = opts;
  q.dihedral = false;
  PerEntry per_entry;
  std::vector<PdqQuery> queries;
  chunk = std::max<std::size_t>(chunk, 1);
  for (std::size_t begin = 0; begin < hashes.size(); begin += chunk) {
    const std::size_t end = std::min(hashes.size(), begin + chunk);
    queries.clear();
    for (std::size_t i = begin; i < end; ++i) queries.push_back(PdqQuery::original(hashes[i]));
    const auto res = snap.match_pdq(std::span<const PdqQuery>(queries), q);
    fold(per_entry, res);
  }
  out.entries = flatten(per_entry);
  return out;
}

}  // namespace hashmatch
