// ScanMatcher over the hash lists of a ListStore database (host/lists), built when hm_lists is.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "host/scan/scan_matcher.h"

namespace hashmatch::scan {

struct ListScanOptions {
  std::string db;                  // ListStore database
  std::vector<std::string> lists;  // empty: every list in the database
  std::optional<int> threshold;    // PDQ threshold for every list, instead of each list's own
  int min_quality = 50;            // PDQ hashes (and vPDQ frames) of lower quality are not matched
  std::string backend = "auto";    // PDQ matcher: auto | cpu | cuda
  int threads = 0;                 // CPU matcher threads (0: all cores)
  std::size_t frame_chunk = 16384;  // video frame queries searched at once (memory: ~290 B each)
};

// True when this build has hash-list support (host/lists).
bool list_matching_available();

// Opens the database and builds the matcher (snapshot of the lists at this moment). Throws
// InvalidArgument (unknown list, no list support in this build), IoError, CudaError.
std::unique_ptr<ScanMatcher> make_list_scan_matcher(const ListScanOptions& opts);

}  // namespace hashmatch::scan
