#include "host/lists/frame_matches.h"

#include <map>
#include <set>
#include <string>
#include <utility>

namespace hashmatch {

std::vector<PdqQuery> video_frame_queries(const nlohmann::json& vpdq, int min_quality) {
  std::vector<PdqQuery> queries;
  if (!vpdq.is_array()) return queries;
  std::set<Hash256> seen;
  for (const auto& f : vpdq) {
    if (!f.is_object() || f.value("quality", 0) < min_quality) continue;
    Hash256 h;
    if (!Hash256::try_from_hex(f.value("pdq", ""), &h) || !seen.insert(h).second) continue;
    queries.push_back(PdqQuery::original(h));
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
