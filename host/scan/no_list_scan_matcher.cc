// Builds without host/lists: scanning works (hashes only); --db is refused with a clear message.
#include "host/common/error.h"
#include "host/scan/list_scan_matcher.h"

namespace hashmatch::scan {

bool list_matching_available() { return false; }

std::unique_ptr<ScanMatcher> make_list_scan_matcher(const ListScanOptions&) {
  throw InvalidArgument("this build has no hash-list support (host/lists): --db cannot be used");
}

}  // namespace hashmatch::scan
