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
#include <mutex>
#include <optional>
#include <ostream>
#include <unordered_map>
#include <string>
#include <vector>

#include "host/common/hash256.h"
#include "host/match/matcher.h"

struct sqlite3;

namespace hashmatch::triage {

// What identifies one new cluster of this scan: a few member PDQ hashes and MD5s.
struct SeenKey {
  std::vector<Hash256> pdq;      // members' PDQ hashes (quality-filtered): all looked up,
  std::vector<std::string> md5;  // members' MD5s                          the first 32 kept
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

// One arriving item, as the server sees it.
struct SeenItem {
  std::optional<Hash256> pdq;  // only when its quality is good enough to match on
  std::string md5;             // lowercase hex; "" when unknown
};

// What the memory knew of an item before its arrival.
struct SeenAnswer {
  bool seen_before = false;
  int64_t count = 0;       // earlier arrivals of the remembered cluster
  std::string first_seen;  // ISO-8601 UTC
  std::string last_seen;   // ISO-8601 UTC (the previous arrival)
  int64_t cluster = 0;     // the remembered cluster's id (seen_clusters.id; stable)
};

// The memory as `hashmatch serve` uses it: one item at a time from many threads, in the same
// tables as SeenStore (so scans, `hashmatch cluster` and the server share one memory). Keeps the
// remembered hashes in memory (an index rebuilt now and then, plus the recent additions), and
// reloads them when another process changed the database (SQLite's data_version). Each observe()
// is one transaction; writes use synchronous=NORMAL (WAL): an arrival survives a crash or restart
// of the process, the last ones may be lost on power failure.
class SeenMemory {
 public:
  // `threshold`: PDQ within it counts as the same picture. `read_only`: look up, never record
  // (the database is then opened read-only and may lack the tables). Throws IoError.
  SeenMemory(const std::string& db_path, int threshold, bool read_only);
  ~SeenMemory();
  SeenMemory(const SeenMemory&) = delete;
  SeenMemory& operator=(const SeenMemory&) = delete;

  // Looks the item up (an identical MD5 first, then the closest remembered PDQ within the
  // threshold, lowest cluster id on ties) and, unless read-only, records this arrival: a known
  // cluster gets count + 1, last_seen = now and the item's hashes (up to the per-cluster bound); an
  // unknown item becomes a new cluster of one. Returns what was known before this arrival.
  // Thread-safe. An item with neither hash is answered "not seen" and not recorded.
  SeenAnswer observe(const SeenItem& item, const std::string& now);

  bool read_only() const { return read_only_; }
  int64_t clusters();

 private:
  void reload_locked();
  void rebuild_index_locked();
  bool changed_elsewhere_locked();
  int64_t lookup_locked(const SeenItem& item) const;
  void add_hash_locked(int64_t cluster, const std::optional<Hash256>& pdq, const std::string& md5);

  std::mutex mu_;
  sqlite3* db_ = nullptr;
  int threshold_;
  bool read_only_;
  bool have_tables_ = false;
  int64_t data_version_ = -1;
  // Remembered PDQ hashes: an index over the first indexed_ of pdq_, the rest scanned directly.
  std::vector<Hash256> pdq_;
  std::vector<int64_t> pdq_cluster_;
  std::size_t indexed_ = 0;
  std::unique_ptr<PdqMatcher> index_;
  std::unordered_map<std::string, int64_t> md5_;
  std::unordered_map<int64_t, int64_t> hashes_of_;  // cluster id -> remembered hashes
};

// Current UTC time as ISO-8601 ("2026-11-23T05:40:00Z").
std::string utc_now_iso();

}  // namespace hashmatch::triage
