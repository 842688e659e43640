#include "host/triage/seen_store.h"

#include <sqlite3.h>

#include <algorithm>
#include <ctime>
#include <unordered_map>

#include "host/common/error.h"
#include "host/common/sqlite_util.h"
#include "host/match/matcher.h"

namespace hashmatch::triage {
namespace {

constexpr int kMaxHashesPerCluster = 32;

using sql::exec;
using sql::Stmt;
using sql::WriteTxn;

// Days since 1970-01-01 of an ISO-8601 date prefix (for age arithmetic without time zones).
int64_t iso_days(const std::string& iso) {
  int y = 0, m = 0, d = 0;
  if (std::sscanf(iso.c_str(), "%d-%d-%d", &y, &m, &d) != 3) return 0;
  // Howard Hinnant's days_from_civil.
  y -= m <= 2;
  const int era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return int64_t(era) * 146097 + int64_t(doe) - 719468;
}

void create_schema(sqlite3* db) {
  exec(db,
       "CREATE TABLE IF NOT EXISTS seen_clusters ("
       " id INTEGER PRIMARY KEY, arrivals INTEGER NOT NULL, first_seen TEXT NOT NULL,"
       " last_seen TEXT NOT NULL, quality INTEGER NOT NULL DEFAULT 0);"
       "CREATE TABLE IF NOT EXISTS seen_hashes ("
       " cluster_id INTEGER NOT NULL REFERENCES seen_clusters(id) ON DELETE CASCADE,"
       " algo TEXT NOT NULL, hash TEXT NOT NULL, UNIQUE(cluster_id, algo, hash));"
       "CREATE INDEX IF NOT EXISTS seen_hashes_md5 ON seen_hashes(algo, hash);"
       "CREATE INDEX IF NOT EXISTS seen_clusters_last ON seen_clusters(last_seen);");
}

}  // namespace

std::string utc_now_iso() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

SeenStore::SeenStore(const std::string& db_path) {
  if (sqlite3_open_v2(db_path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) !=
      SQLITE_OK) {
    const std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
    throw IoError("cannot open database " + db_path + ": " + msg);
  }
  sqlite3_busy_timeout(db_, 10000);
  exec(db_, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;");
  create_schema(db_);
  exec(db_, "PRAGMA foreign_keys=ON;");
}

SeenStore::~SeenStore() { sqlite3_close(db_); }

std::vector<SeenLookup> SeenStore::observe(const std::vector<SeenKey>& keys, const std::string& now,
                                           int threshold) {
  WriteTxn txn(db_);
  // Remembered hashes: PDQ into a matcher, MD5 into a map.
  std::vector<Hash256> pdq;
  std::vector<int64_t> pdq_cluster;
  std::unordered_map<std::string, int64_t> md5_cluster;
  {
    Stmt s(db_, "SELECT cluster_id, algo, hash FROM seen_hashes");
    while (s.step()) {
      const std::string algo = s.col_text(1);
      if (algo == "pdq") {
        Hash256 h;
        if (Hash256::try_from_hex(s.col_text(2), &h)) {
          pdq.push_back(h);
          pdq_cluster.push_back(s.col_int(0));
        }
      } else if (algo == "md5") {
        md5_cluster.emplace(s.col_text(2), s.col_int(0));
      }
    }
  }
  std::vector<SeenLookup> out(keys.size());
  std::unique_ptr<PdqMatcher> m;
  if (!pdq.empty()) {
    MatcherOptions mo;
    mo.backend = Backend::kCpu;
    mo.expected_threshold = threshold;
    m = make_pdq_matcher(pdq, mo);
  }
  Stmt get(db_, "SELECT arrivals, first_seen FROM seen_clusters WHERE id = ?");
  Stmt upd(db_, "UPDATE seen_clusters SET arrivals = arrivals + ?, last_seen = ?,"
                " quality = max(quality, ?) WHERE id = ?");
  Stmt ins(db_, "INSERT INTO seen_clusters(arrivals, first_seen, last_seen, quality)"
                " VALUES (?, ?, ?, ?)");
  Stmt count(db_, "SELECT count(*) FROM seen_hashes WHERE cluster_id = ?");
  Stmt add(db_, "INSERT OR IGNORE INTO seen_hashes(cluster_id, algo, hash) VALUES (?, ?, ?)");
  struct Before {
    bool seen = false;
    int64_t arrivals = 0;
    std::string first_seen;
  };
  std::unordered_map<int64_t, Before> before;  // remembered clusters met in this call
  for (std::size_t k = 0; k < keys.size(); ++k) {
    const SeenKey& key = keys[k];
    int64_t found = 0;
    for (const std::string& md5 : key.md5) {
      if (auto it = md5_cluster.find(md5); it != md5_cluster.end()) {
        found = it->second;
        break;
      }
    }
    if (!found && m && !key.pdq.empty()) {
      std::vector<PdqHit> hits;
      m->range_search(key.pdq, threshold, hits);
      if (!hits.empty()) {
        // Deterministic choice: the closest remembered hash, then the lowest cluster id.
        auto best = std::min_element(hits.begin(), hits.end(), [&](const PdqHit& a, const PdqHit& b) {
          return std::pair(a.distance, pdq_cluster[a.index]) < std::pair(b.distance, pdq_cluster[b.index]);
        });
        found = pdq_cluster[best->index];
      }
    }
    SeenLookup& r = out[k];
    if (found) {
      // As the memory was before this call: two clusters of one run that match the same
      // remembered one both report its earlier arrivals, not each other's.
      auto [it, first] = before.try_emplace(found);
      if (first) {
        get.bind(1, found);
        if (get.step()) it->second = {true, get.col_int(0), get.col_text(1)};
        get.reset();
      }
      r.seen_before = it->second.seen;
      r.previous_arrivals = it->second.arrivals;
      r.first_seen = it->second.first_seen;
      upd.bind(1, key.arrivals).bind(2, now).bind(3, int64_t(key.representative_quality)).bind(4, found);
      upd.run();
    } else {
      ins.bind(1, key.arrivals).bind(2, now).bind(3, now).bind(4, int64_t(key.representative_quality));
      ins.run();
      found = sqlite3_last_insert_rowid(db_);
      r.first_seen = now;
    }
    r.memory_id = found;
    count.bind(1, found);
    count.step();
    int64_t have = count.col_int(0);
    count.reset();
    for (const Hash256& h : key.pdq) {
      if (have >= kMaxHashesPerCluster) break;
      add.bind(1, found).bind(2, std::string("pdq")).bind(3, h.to_hex());
      add.run();
      if (sqlite3_changes(db_)) ++have;
    }
    for (const std::string& md5 : key.md5) {
      if (have >= kMaxHashesPerCluster) break;
      add.bind(1, found).bind(2, std::string("md5")).bind(3, md5);
      add.run();
      if (sqlite3_changes(db_)) {
        ++have;
        md5_cluster.emplace(md5, found);
      }
    }
    // Keys of one call come from distinct clusters of one scan (not near-duplicates of each
    // other), so the index built above stays valid for the rest of the call.
  }
  txn.commit();
  return out;
}

int64_t SeenStore::expire(const std::string& now, int64_t max_age_days, int64_t max_entries) {
  WriteTxn txn(db_);
  int64_t removed = 0;
  if (max_age_days > 0) {
    const int64_t today = iso_days(now);
    std::vector<int64_t> old;
    Stmt s(db_, "SELECT id, last_seen FROM seen_clusters");
    while (s.step()) {
      if (today - iso_days(s.col_text(1)) > max_age_days) old.push_back(s.col_int(0));
    }
    Stmt del(db_, "DELETE FROM seen_clusters WHERE id = ?");
    for (int64_t id : old) {
      del.bind(1, id);
      del.run();
    }
    removed += static_cast<int64_t>(old.size());
  }
  if (max_entries > 0) {
    Stmt del(db_, "DELETE FROM seen_clusters WHERE id IN (SELECT id FROM seen_clusters"
                  " ORDER BY last_seen DESC, id DESC LIMIT -1 OFFSET ?)");
    del.bind(1, max_entries);
    del.run();
    removed += sqlite3_changes(db_);
  }
  txn.commit();
  return removed;
}

int64_t SeenStore::export_signals(std::ostream& out) const {
  Stmt s(db_, "SELECT algo, hash FROM seen_hashes ORDER BY cluster_id, algo, hash");
  int64_t n = 0;
  while (s.step()) {
    out << s.col_text(0) << ' ' << s.col_text(1) << '\n';
    ++n;
  }
  return n;
}

int64_t SeenStore::clusters() const {
  Stmt s(db_, "SELECT count(*) FROM seen_clusters");
  s.step();
  return s.col_int(0);
}

// ---------------------------------------------------------------------------------------------
// SeenMemory

SeenMemory::SeenMemory(const std::string& db_path, int threshold, bool read_only)
    : threshold_(threshold), read_only_(read_only) {
  const int flags = read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
  if (sqlite3_open_v2(db_path.c_str(), &db_, flags | SQLITE_OPEN_FULLMUTEX, nullptr) != SQLITE_OK) {
    const std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
    throw IoError("cannot open the seen-before memory " + db_path + ": " + msg);
  }
  try {
    sqlite3_busy_timeout(db_, 10000);
    if (!read_only) {
      exec(db_, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;");
      create_schema(db_);
      exec(db_, "PRAGMA foreign_keys=ON;");
    }
    std::lock_guard<std::mutex> lock(mu_);
    reload_locked();
  } catch (...) {
    sqlite3_close(db_);
    db_ = nullptr;
    throw;
  }
}

SeenMemory::~SeenMemory() { sqlite3_close(db_); }

bool SeenMemory::changed_elsewhere_locked() {
  Stmt s(db_, "PRAGMA data_version");
  s.step();
  return s.col_int(0) != data_version_;
}

void SeenMemory::reload_locked() {
  {
    Stmt v(db_, "PRAGMA data_version");
    v.step();
    data_version_ = v.col_int(0);
  }
  pdq_.clear();
  pdq_cluster_.clear();
  md5_.clear();
  hashes_of_.clear();
  index_.reset();
  indexed_ = 0;
  {
    Stmt t(db_, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'seen_hashes'");
    t.step();
    have_tables_ = t.col_int(0) > 0;
  }
  if (!have_tables_) return;
  Stmt s(db_, "SELECT cluster_id, algo, hash FROM seen_hashes");
  while (s.step()) {
    const int64_t cluster = s.col_int(0);
    const std::string algo = s.col_text(1);
    if (algo == "pdq") {
      Hash256 h;
      if (!Hash256::try_from_hex(s.col_text(2), &h)) continue;
      pdq_.push_back(h);
      pdq_cluster_.push_back(cluster);
    } else if (algo == "md5") {
      // Several clusters may hold one MD5 (two scans' clusters); the lowest id answers.
      auto [it, fresh] = md5_.emplace(s.col_text(2), cluster);
      if (!fresh) it->second = std::min(it->second, cluster);
    } else {
      continue;
    }
    ++hashes_of_[cluster];
  }
  rebuild_index_locked();
}

void SeenMemory::rebuild_index_locked() {
  // The index covers everything once the directly scanned tail grows past a quarter of it (and a
  // few thousand hashes): lookups stay sub-linear, rebuilds amortised.
  const std::size_t tail = pdq_.size() - indexed_;
  if (tail <= std::max<std::size_t>(2048, indexed_ / 4)) return;
  MatcherOptions mo;
  mo.backend = Backend::kCpu;
  mo.expected_threshold = threshold_;
  mo.threads = 1;
  index_ = make_pdq_matcher(pdq_, mo);
  indexed_ = pdq_.size();
}

int64_t SeenMemory::lookup_locked(const SeenItem& item) const {
  if (!item.md5.empty()) {
    if (auto it = md5_.find(item.md5); it != md5_.end()) return it->second;
  }
  if (!item.pdq) return 0;
  std::pair<int, int64_t> best{threshold_ + 1, 0};
  if (index_) {
    std::vector<PdqHit> hits;
    index_->range_search(std::span<const Hash256>(&*item.pdq, 1), threshold_, hits);
    for (const PdqHit& h : hits) best = std::min(best, std::pair<int, int64_t>(h.distance, pdq_cluster_[h.index]));
  }
  for (std::size_t i = indexed_; i < pdq_.size(); ++i) {
    const int d = hamming_distance(*item.pdq, pdq_[i]);
    if (pdq_match(d, threshold_)) best = std::min(best, std::pair<int, int64_t>(d, pdq_cluster_[i]));
  }
  return best.second;
}

SeenAnswer SeenMemory::observe(const SeenItem& item, const std::string& now) {
  SeenAnswer a;
  if (!item.pdq && item.md5.empty()) return a;
  std::lock_guard<std::mutex> lock(mu_);
  auto fill = [&](int64_t id) {
    Stmt get(db_, "SELECT arrivals, first_seen, last_seen FROM seen_clusters WHERE id = ?");
    get.bind(1, id);
    if (!get.step()) return false;
    a.seen_before = true;
    a.count = get.col_int(0);
    a.first_seen = get.col_text(1);
    a.last_seen = get.col_text(2);
    a.cluster = id;
    return true;
  };
  if (read_only_) {
    if (changed_elsewhere_locked()) reload_locked();
    if (!have_tables_) return a;
    if (const int64_t id = lookup_locked(item)) fill(id);
    return a;
  }
  WriteTxn txn(db_);
  std::vector<std::pair<std::string, std::string>> added;  // (algo, hash) of this arrival
  int64_t id = 0;
  try {
    // Under the write lock: what another process committed is seen before deciding.
    if (changed_elsewhere_locked()) reload_locked();
    id = lookup_locked(item);
    if (id && fill(id)) {
      Stmt upd(db_, "UPDATE seen_clusters SET arrivals = arrivals + 1, last_seen = ? WHERE id = ?");
      upd.bind(1, now).bind(2, id);
      upd.run();
    } else {
      Stmt ins(db_, "INSERT INTO seen_clusters(arrivals, first_seen, last_seen, quality) VALUES (1, ?, ?, 0)");
      ins.bind(1, now).bind(2, now);
      ins.run();
      id = sqlite3_last_insert_rowid(db_);
    }
    int64_t have = hashes_of_.count(id) ? hashes_of_[id] : 0;
    Stmt add(db_, "INSERT OR IGNORE INTO seen_hashes(cluster_id, algo, hash) VALUES (?, ?, ?)");
    auto try_add = [&](const std::string& algo, const std::string& hex) {
      if (have >= kMaxHashesPerCluster) return;
      add.bind(1, id).bind(2, algo).bind(3, hex);
      add.run();
      if (sqlite3_changes(db_)) {
        ++have;
        added.emplace_back(algo, hex);
      }
    };
    if (item.pdq) try_add("pdq", item.pdq->to_hex());
    if (!item.md5.empty()) try_add("md5", item.md5);
    txn.commit();
  } catch (...) {  // txn rolls back
    data_version_ = -1;  // reload on the next call: the in-memory view is not trusted now
    throw;
  }
  // Committed: the in-memory view follows.
  for (const auto& [algo, hex] : added) {
    if (algo == "pdq") {
      pdq_.push_back(*item.pdq);
      pdq_cluster_.push_back(id);
    } else {
      md5_.emplace(hex, id);
    }
    ++hashes_of_[id];
  }
  rebuild_index_locked();
  return a;
}

int64_t SeenMemory::clusters() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!have_tables_) return 0;
  Stmt s(db_, "SELECT count(*) FROM seen_clusters");
  s.step();
  return s.col_int(0);
}

}  // namespace hashmatch::triage
