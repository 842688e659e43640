#include "host/scan/summary.h"

#include <set>

namespace hashmatch::scan {

void ScanCounters::add(const nlohmann::json& j, bool video) {
  ++files;
  if (auto it = j.find("size"); it != j.end() && it->is_number_integer() && it->get<int64_t>() > 0) {
    bytes += it->get<uint64_t>();
  }
  const bool has_pdq = j.contains("pdq");
  const bool has_vpdq = video || j.contains("vpdq");
  const bool error = j.contains("error");
  // images + videos = hashed, as the human summary puts it ("hashed N (x images, y videos)"): a
  // video that failed (a truncated file: an error, maybe some frames) is a failure, not a video.
  if (!error && has_pdq) ++images;
  if (!error && has_vpdq) ++videos;
  if ((has_pdq || has_vpdq) && !error) ++hashed;
  std::string reason;
  if (error) {
    reason = j.value("error_reason", "unknown");
    // Files that are not media (no recognised format) were still read and matched by their exact
    // digests: counted apart, not as failures.
    if (reason == "unsupported" && !j.contains("format") && j.contains("md5")) {
      ++exact_only;
      reason.clear();
    }
  }
  if (reason.empty() && j.contains("match_error")) reason = "match";
  if (!reason.empty()) {
    ++failed;
    ++failed_by_reason[reason];
  }
  if (auto it = j.find("matches"); it != j.end() && it->is_array() && !it->empty()) {
    ++matched;
    matches += it->size();
    std::set<std::string> lists;
    for (const auto& m : *it) {
      if (m.is_object() && m.contains("list") && m["list"].is_string()) lists.insert(m["list"]);
    }
    for (const std::string& l : lists) ++matched_by_list[l];
  }
}

nlohmann::json ScanCounters::to_json() const {
  return nlohmann::json{{"files", files},
                        {"bytes", bytes},
                        {"hashed", hashed},
                        {"images", images},
                        {"videos", videos},
                        {"exact_only", exact_only},
                        {"matched", matched},
                        {"matches", matches},
                        {"failed", failed},
                        {"failed_by_reason", failed_by_reason},
                        {"matched_by_list", matched_by_list}};
}

ScanCounters ScanCounters::from_json(const nlohmann::json& j) {
  ScanCounters c;
  if (!j.is_object()) return c;
  auto u = [&](const char* k) { return j.contains(k) && j[k].is_number() ? j[k].get<uint64_t>() : 0; };
  c.files = u("files");
  c.bytes = u("bytes");
  c.hashed = u("hashed");
  c.images = u("images");
  c.videos = u("videos");
  c.exact_only = u("exact_only");
  c.matched = u("matched");
  c.matches = u("matches");
  c.failed = u("failed");
  auto m = [&](const char* k, std::map<std::string, uint64_t>& out) {
    if (!j.contains(k) || !j[k].is_object()) return;
    for (auto it = j[k].begin(); it != j[k].end(); ++it) {
      if (it.value().is_number()) out[it.key()] = it.value().get<uint64_t>();
    }
  };
  m("failed_by_reason", c.failed_by_reason);
  m("matched_by_list", c.matched_by_list);
  return c;
}

}  // namespace hashmatch::scan
