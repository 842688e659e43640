// The counters of a scan, accumulated from its result lines (so a resumed scan can recount what a
// checkpoint does not cover from the output itself) and carried in every checkpoint commit.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

namespace hashmatch::scan {

struct ScanCounters {
  uint64_t files = 0;      // result lines
  uint64_t bytes = 0;      // sizes of the files read
  uint64_t hashed = 0;     // files with a perceptual hash (PDQ or vPDQ)
  uint64_t images = 0;     // hashed images (images + videos = hashed; failures are in failed)
  uint64_t videos = 0;     // hashed videos
  uint64_t exact_only = 0; // not media (text, archives...): exact digests only, matched by them
  uint64_t matched = 0;    // files with at least one match
  uint64_t matches = 0;    // matches in total
  uint64_t failed = 0;     // files with an error (hashing or matching)
  std::map<std::string, uint64_t> failed_by_reason;
  std::map<std::string, uint64_t> matched_by_list;  // files with a match in the list

  // Counts one result line (the JSON object written to the output; `video`: a video's line whose
  // vpdq array is not in `line`, as run_scan writes it from the typed frames).
  void add(const nlohmann::json& line, bool video = false);
  nlohmann::json to_json() const;
  static ScanCounters from_json(const nlohmann::json& j);  // tolerant: missing fields are 0
};

}  // namespace hashmatch::scan
