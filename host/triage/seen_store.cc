#include "host/triage/seen_store.h"

#include <sqlite3.h>

#include <ctime>
#include <unordered_map>

#include "host/common/error.h"
#include "host/match/matcher.h"

namespace hashmatch::triage {
namespace {

constexpr int kMaxHashesPerCluster = 32;

class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) : db_(db) {
    if (sqlite3_prepare_v2(db, sql, -1, &s_, nullptr) != SQLITE_OK) {
      throw IoError(std::string("seen-before memory: ") + sqlite3_errmsg(db));
    }
  }
  ~Stmt() { sqlite3_finalize(s_); }
  Stmt& bind(int i, int64_t v) {
    sqlite3_bind_int64(s_, i, v);
    return *this;
  }
  Stmt& bind(int i, const std::string& v) {
    sqlite3_bind_text(s_, i, v.c_str(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  bool step() {
    const int rc = sqlite3_step(s_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    throw IoError(std::string("seen-before memory: ") + sqlite3_errmsg(db_));
  }
  void run() {
    step();
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
  void reset() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
  int64_t i64(int c) const { return sqlite3_column_int64(s_, c); }
  std::string text(int c) const {
    const auto* t = sqlite3_column_text(s_, c);
    return t ? reinterpret_cast<const char*>(t) : "";
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* s_ = nullptr;
};

void exec(sqlite3* db, const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    throw IoError("seen-before memory: " + msg);
  }
}

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
  exec(db_,
       "CREATE TABLE IF NOT EXISTS seen_clusters ("
       " id INTEGER PRIMARY KEY, arrivals INTEGER NOT NULL, first_seen TEXT NOT NULL,"
       " last_seen TEXT NOT NULL, quality INTEGER NOT NULL DEFAULT 0);"
       "CREATE TABLE IF NOT EXISTS seen_hashes ("
       " cluster_id INTEGER NOT NULL REFERENCES seen_clusters(id) ON DELETE CASCADE,"
       " algo TEXT NOT NULL, hash TEXT NOT NULL, UNIQUE(cluster_id, algo, hash));"
       "CREATE INDEX IF NOT EXISTS seen_hashes_md5 ON seen_hashes(algo, hash);"
       "CREATE INDEX IF NOT EXISTS seen_clusters_last ON seen_clusters(last_seen);");
  exec(db_, "PRAGMA foreign_keys=ON;");
}

SeenStore::~SeenStore() { sqlite3_close(db_); }

std::vector<SeenLookup> SeenStore::observe(const std::vector<SeenKey>& keys, const std::string& now,
                                           int threshold) {
  exec(db_, "BEGIN IMMEDIATE");
  try {
    // Remembered hashes: PDQ into a matcher, MD5 into a map.
    std::vector<Hash256> pdq;
    std::vector<int64_t> pdq_cluster;
    std::unordered_map<std::string, int64_t> md5_cluster;
    {
      Stmt s(db_, "SELECT cluster_id, algo, hash FROM seen_hashes");
      while (s.step()) {
        const std::string algo = s.text(1);
        if (algo == "pdq") {
          Hash256 h;
          if (Hash256::try_from_hex(s.text(2), &h)) {
            pdq.push_back(h);
            pdq_cluster.push_back(s.i64(0));
          }
        } else if (algo == "md5") {
          md5_cluster.emplace(s.text(2), s.i64(0));
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
        get.bind(1, found);
        if (get.step()) {
          r.seen_before = true;
          r.previous_arrivals = get.i64(0);
          r.first_seen = get.text(1);
        }
        get.reset();
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
      int64_t have = count.i64(0);
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
    exec(db_, "COMMIT");
    return out;
  } catch (...) {
    exec(db_, "ROLLBACK");
    throw;
  }
}

int64_t SeenStore::expire(const std::string& now, int64_t max_age_days, int64_t max_entries) {
  exec(db_, "BEGIN IMMEDIATE");
  try {
    int64_t removed = 0;
    if (max_age_days > 0) {
      const int64_t today = iso_days(now);
      std::vector<int64_t> old;
      Stmt s(db_, "SELECT id, last_seen FROM seen_clusters");
      while (s.step()) {
        if (today - iso_days(s.text(1)) > max_age_days) old.push_back(s.i64(0));
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
    exec(db_, "COMMIT");
    return removed;
  } catch (...) {
    exec(db_, "ROLLBACK");
    throw;
  }
}

int64_t SeenStore::export_signals(std::ostream& out) const {
  Stmt s(db_, "SELECT algo, hash FROM seen_hashes ORDER BY cluster_id, algo, hash");
  int64_t n = 0;
  while (s.step()) {
    out << s.text(0) << ' ' << s.text(1) << '\n';
    ++n;
  }
  return n;
}

int64_t SeenStore::clusters() const {
  Stmt s(db_, "SELECT count(*) FROM seen_clusters");
  s.step();
  return s.i64(0);
}

}  // namespace hashmatch::triage
