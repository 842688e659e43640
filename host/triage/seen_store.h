// "Seen before" memory: clusters from earlier scans that matched no list, kept in the same SQLite
// database as the hash lists (tables seen_clusters and seen_hashes), with arrival counts and
// first/last-seen times. The 50th arrival of the same new picture is then reported as "seen 49
// times since <date>" rather than as new again. Expires by age or count; exportable as a hash list
// (ThreatExchange signal lines) to import with `hashmatch list import`.
//
// Thread/process safety: every method runs in its own transaction (WAL, busy timeout), so several
// scans may share one database.
#pragma once

#include <cstdint>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "host/common/hash256.h"

struct sqlite3;

namespace hashmatch::triage {

// What identifies one new cluster of this scan: a few member PDQ hashes and MD5s.
struct SeenKey {
  std::vector<Hash256> pdq;      // members' PDQ hashes (quality-filtered), a bounded sample
  std::vector<std::string> md5;  // members' MD5s, a bounded sample
  int64_t arrivals = 1;          // items of this scan in the cluster
  int representative_quality = 0;
};

struct SeenLookup {
  bool seen_before = false;
  int64_t previous_arrivals = 0;  // arrivals before this scan's
  std::string first_seen;         // ISO-8601 UTC of the first arrival
  int64_t memory_id = 0;          // row id in seen_clusters
};

class SeenStore {
 public:
  // Opens (creating the tables when missing) the database at `db_path`. Throws IoError.
  explicit SeenStore(const std::string& db_path);
  ~SeenStore();
  SeenStore(const SeenStore&) = delete;
  SeenStore& operator=(const SeenStore&) = delete;

  // Looks every key up (PDQ within `threshold` of any remembered member hash, or an identical
  // MD5), then records this arrival: known ones get their count and last-seen updated (and new
  // member hashes, up to a bound), unknown ones are inserted. One transaction. Result i is key i.
  std::vector<SeenLookup> observe(const std::vector<SeenKey>& keys, const std::string& now,
                                  int threshold);

  // Removes clusters last seen more than `max_age_days` before `now` (0: no age limit) and,
  // beyond `max_entries` (0: no limit), the least recently seen. Returns how many were removed.
  int64_t expire(const std::string& now, int64_t max_age_days, int64_t max_entries);

  // ThreatExchange signal lines: "pdq <hex>" and "md5 <hex>" for every remembered hash.
  int64_t export_signals(std::ostream& out) const;

  int64_t clusters() const;

 private:
  sqlite3* db_ = nullptr;
};

// Current UTC time as ISO-8601 ("2026-11-23T05:40:00Z").
std::string utc_now_iso();

}  // namespace hashmatch::triage
