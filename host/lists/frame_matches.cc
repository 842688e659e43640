#include "host/lists/frame_matches.h"

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

std::vector<FrameEntryMatch> frame_entry_matches(std::span<const std::vector<ListMatch>> results) {
  std::map<std::pair<std::string, std::string>, FrameEntryMatch> per_entry;
  for (const auto& ms : results) {
    std::set<std::pair<std::string, std::string>> counted;  // an entry once per frame
    for (const ListMatch& m : ms) {
      auto key = std::make_pair(m.list, m.id);
      FrameEntryMatch& a = per_entry[key];
      if (a.frames_matched == 0 || m.distance < a.best.distance) a.best = m;
      if (counted.insert(std::move(key)).second) ++a.frames_matched;
    }
  }
  std::vector<FrameEntryMatch> out;
  out.reserve(per_entry.size());
  for (auto& [key, a] : per_entry) out.push_back(std::move(a));
  return out;
}

}  // namespace hashmatch
