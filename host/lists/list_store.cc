#include "host/lists/list_store.h"

#include <sqlite3.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstring>
#include <ctime>

#include "host/common/error.h"
#include "host/common/sqlite_util.h"

namespace hashmatch {
namespace {

using sql::ReadTxn;
using sql::Stmt;
using sql::WriteTxn;

constexpr int kSchemaVersion = 1;

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS meta(
  key   TEXT PRIMARY KEY,
  value INTEGER NOT NULL);
INSERT OR IGNORE INTO meta(key, value) VALUES('schema', 1), ('version', 0);
CREATE TABLE IF NOT EXISTS lists(
  id         INTEGER PRIMARY KEY,
  name       TEXT NOT NULL UNIQUE,
  threshold  INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  generation INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS imports(
  id         INTEGER PRIMARY KEY,
  list_id    INTEGER NOT NULL REFERENCES lists(id) ON DELETE CASCADE,
  source     TEXT NOT NULL,
  format     TEXT NOT NULL,
  started_at INTEGER NOT NULL,
  records    INTEGER NOT NULL DEFAULT 0,
  imported   INTEGER NOT NULL DEFAULT 0,
  removed    INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS entries(
  id        INTEGER PRIMARY KEY,
  list_id   INTEGER NOT NULL REFERENCES lists(id) ON DELETE CASCADE,
  algo      INTEGER NOT NULL,
  hash      BLOB NOT NULL,
  ext_id    TEXT NOT NULL,
  category  TEXT NOT NULL DEFAULT '',
  source    TEXT NOT NULL DEFAULT '',
  tags      TEXT NOT NULL DEFAULT '',
  added_at  INTEGER NOT NULL,
  import_id INTEGER NOT NULL DEFAULT 0,
  origin    TEXT NOT NULL DEFAULT '',
  UNIQUE(list_id, ext_id, algo));
CREATE TABLE IF NOT EXISTS vpdq_videos(
  row       INTEGER PRIMARY KEY,
  list_id   INTEGER NOT NULL REFERENCES lists(id) ON DELETE CASCADE,
  video_id  TEXT NOT NULL,
  frames    INTEGER NOT NULL,
  added_at  INTEGER NOT NULL,
  category  TEXT NOT NULL DEFAULT '',
  source    TEXT NOT NULL DEFAULT '',
  tags      TEXT NOT NULL DEFAULT '',
  UNIQUE(list_id, video_id));
CREATE TABLE IF NOT EXISTS vpdq_frames(
  video_row INTEGER NOT NULL REFERENCES vpdq_videos(row) ON DELETE CASCADE,
  frame     INTEGER NOT NULL,
  quality   INTEGER NOT NULL,
  hash      BLOB NOT NULL,
  timestamp_us INTEGER NOT NULL,
  PRIMARY KEY(video_row, frame)) WITHOUT ROWID;
)sql";

int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

HashValue value_from_blob(int64_t algo, std::string_view blob) {
  if (algo < 0 || algo >= kNumHashAlgos)
    throw IoError("corrupt list database: algorithm " + std::to_string(algo));
  HashValue v;
  v.algo = static_cast<HashAlgo>(algo);
  if (blob.size() != v.size())
    throw IoError("corrupt list database: hash of " + std::to_string(blob.size()) + " bytes");
  std::memcpy(v.bytes.data(), blob.data(), blob.size());
  return v;
}

void check_threshold(int t) {
  if (t < 0 || t > Hash256::kBits) {
    throw InvalidArgument("threshold must be in 0..256, got " + std::to_string(t));
  }
}

}  // namespace

std::string clean_label(std::string_view t) {
  std::string out;
  for (char c : t) out += (static_cast<unsigned char>(c) < 0x20) ? ' ' : c;
  while (!out.empty() && out.back() == ' ') out.pop_back();
  std::size_t b = 0;
  while (b < out.size() && out[b] == ' ') ++b;
  return out.substr(b);
}

std::string join_tags(const std::vector<std::string>& tags) {
  std::string out;
  for (const std::string& tag : tags) {
    // ';' and '|' separate tags in the CSV form (export, import): a tag given with one is those
    // tags here already, so that what is stored is what an export and import give back.
    std::string_view rest = tag;
    while (true) {
      const std::size_t e = rest.find_first_of(";|");
      std::string c = clean_label(rest.substr(0, e));
      if (!c.empty()) {
        if (!out.empty()) out += '\n';
        out += c;
      }
      if (e == std::string_view::npos) break;
      rest.remove_prefix(e + 1);
    }
  }
  return out;
}

std::vector<std::string> split_tags(std::string_view s) {
  std::vector<std::string> out;
  std::size_t b = 0;
  while (b < s.size()) {
    std::size_t e = s.find('\n', b);
    if (e == std::string_view::npos) e = s.size();
    if (e > b) out.emplace_back(s.substr(b, e - b));
    b = e + 1;
  }
  return out;
}

bool valid_list_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  if (!std::isalnum(static_cast<unsigned char>(name[0]))) return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != '.')
      return false;
  }
  return true;
}

std::string format_utc(int64_t t) {
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// ---------------------------------------------------------------------------------------------
// ListStore

ListStore::ListStore(const std::string& path, bool create, int cache_mib) : path_(path) {
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
  if (create) flags |= SQLITE_OPEN_CREATE;
  if (sqlite3_open_v2(path.c_str(), &db_, flags, nullptr) != SQLITE_OK) {
    std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
    throw IoError("cannot open list database " + path + ": " + msg);
  }
  try {
    sqlite3_busy_timeout(db_, 30000);
    sqlite3_extended_result_codes(db_, 1);
    sql::exec(db_, "PRAGMA journal_mode=WAL");
    sql::exec(db_, "PRAGMA synchronous=FULL");
    const std::string cache = "PRAGMA cache_size=-" + std::to_string(std::max(1, cache_mib) * 1024);
    sql::exec(db_, cache.c_str());  // 64 MiB: large imports touch random index pages
    sql::exec(db_, "PRAGMA foreign_keys=ON");
    if (!schema_in_place()) {
      // Only a new (or older) database takes the write lock here: a reader opening one that is
      // ready must not wait behind an import that holds it (WAL readers never wait for a writer).
      WriteTxn txn(db_);
      sql::exec(db_, kSchema);
      Stmt s(db_, "SELECT value FROM meta WHERE key='schema'");
      if (s.step() && s.col_int(0) != kSchemaVersion) {
        throw IoError(path + ": list database schema " + std::to_string(s.col_int(0)) +
                      " is not supported by this build (" + std::to_string(kSchemaVersion) + ")");
      }
      s.reset();
      txn.commit();
    }
  } catch (const std::exception& e) {
    sqlite3_close(db_);
    db_ = nullptr;
    throw IoError("cannot open list database " + path + ": " + e.what());
  }
}

bool ListStore::schema_in_place() {
  // Every table of kSchema there, and the schema version this build writes.
  Stmt t(db_,
         "SELECT count(*) FROM sqlite_master WHERE type='table' AND name IN "
         "('meta','lists','imports','entries','vpdq_videos','vpdq_frames')");
  if (!t.step() || t.col_int(0) != 6) return false;
  Stmt v(db_, "SELECT count(*) FROM meta WHERE (key='schema' AND value=?) OR key='version'");
  v.bind(1, int64_t{kSchemaVersion});
  return v.step() && v.col_int(0) == 2;
}

ListStore::~ListStore() {
  if (db_) sqlite3_close_v2(db_);
}

void ListStore::exec(const char* s) { sql::exec(db_, s); }

void ListStore::bump_generation(int64_t list_id) {
  Stmt(db_, "UPDATE lists SET generation = generation + 1 WHERE id = ?").bind(1, list_id).run();
  exec("UPDATE meta SET value = value + 1 WHERE key = 'version'");
}

ListInfo ListStore::create_list(const std::string& name, int threshold) {
  if (!valid_list_name(name)) {
    throw InvalidArgument("invalid list name '" + name +
                          "': use 1-64 letters, digits, '_', '-' or '.', starting with a letter "
                          "or digit");
  }
  check_threshold(threshold);
  WriteTxn txn(db_);
  {
    Stmt q(db_, "SELECT 1 FROM lists WHERE name = ?");
    if (q.bind(1, name).step()) throw InvalidArgument("list '" + name + "' already exists");
  }
  const int64_t now = now_seconds();
  Stmt ins(db_, "INSERT INTO lists(name, threshold, created_at, generation) VALUES(?, ?, ?, 1)");
  ins.bind(1, name).bind(2, threshold).bind(3, now).run();
  const int64_t id = sqlite3_last_insert_rowid(db_);
  exec("UPDATE meta SET value = value + 1 WHERE key = 'version'");
  txn.commit();
  return ListInfo{id, name, threshold, now, 1};
}

ListInfo ListStore::ensure_list(const std::string& name) {
  if (auto l = find_list(name)) return *l;
  return create_list(name);
}

void ListStore::set_threshold(const std::string& name, int threshold) {
  check_threshold(threshold);
  WriteTxn txn(db_);
  const ListInfo l = get_list(name);
  Stmt(db_, "UPDATE lists SET threshold = ? WHERE id = ?").bind(1, threshold).bind(2, l.id).run();
  bump_generation(l.id);
  txn.commit();
}

std::optional<ListInfo> ListStore::find_list(const std::string& name) {
  Stmt q(db_, "SELECT id, name, threshold, created_at, generation FROM lists WHERE name = ?");
  if (!q.bind(1, name).step()) return std::nullopt;
  return ListInfo{q.col_int(0), q.col_text(1), static_cast<int>(q.col_int(2)), q.col_int(3),
                  q.col_int(4)};
}

ListInfo ListStore::get_list(const std::string& name) {
  auto l = find_list(name);
  if (!l) throw InvalidArgument("no list named '" + name + "' in " + path_);
  return *l;
}

std::vector<ListInfo> ListStore::lists() {
  std::vector<ListInfo> out;
  Stmt q(db_, "SELECT id, name, threshold, created_at, generation FROM lists ORDER BY name");
  while (q.step()) {
    out.push_back(ListInfo{q.col_int(0), q.col_text(1), static_cast<int>(q.col_int(2)),
                           q.col_int(3), q.col_int(4)});
  }
  return out;
}

void ListStore::drop_list(const std::string& name) {
  WriteTxn txn(db_);
  const ListInfo l = get_list(name);
  Stmt(db_, "DELETE FROM entries WHERE list_id = ?").bind(1, l.id).run();
  Stmt(db_, "DELETE FROM imports WHERE list_id = ?").bind(1, l.id).run();
  Stmt(db_, "DELETE FROM lists WHERE id = ?").bind(1, l.id).run();
  exec("UPDATE meta SET value = value + 1 WHERE key = 'version'");
  txn.commit();
}

int64_t ListStore::add_entries(const std::string& list, const std::vector<NewEntry>& entries) {
  auto session = begin_import(list, "api", "api");
  for (std::size_t i = 0; i < entries.size(); ++i) {
    session->count_record();
    session->add(entries[i], "entry " + std::to_string(i + 1));
  }
  return session->commit().imported;
}

int64_t ListStore::remove_id(const std::string& list, const std::string& id, int64_t* videos) {
  WriteTxn txn(db_);
  const ListInfo l = get_list(list);
  Stmt(db_, "DELETE FROM entries WHERE list_id = ? AND ext_id = ?").bind(1, l.id).bind(2, id).run();
  const int64_t entries = sqlite3_changes(db_);
  Stmt(db_, "DELETE FROM vpdq_videos WHERE list_id = ? AND video_id = ?")
      .bind(1, l.id)
      .bind(2, id)
      .run();
  const int64_t v = sqlite3_changes(db_);  // its frames go by ON DELETE CASCADE
  if (entries + v > 0) bump_generation(l.id);
  txn.commit();
  if (videos) *videos = v;
  return entries + v;
}

int64_t ListStore::remove_all(const std::string& list) {
  WriteTxn txn(db_);
  const ListInfo l = get_list(list);
  Stmt(db_, "DELETE FROM entries WHERE list_id = ?").bind(1, l.id).run();
  const int64_t entries = sqlite3_changes(db_);
  Stmt(db_, "DELETE FROM vpdq_videos WHERE list_id = ?").bind(1, l.id).run();
  const int64_t videos = sqlite3_changes(db_);
  bump_generation(l.id);
  txn.commit();
  return entries + videos;
}

ListStats ListStore::stats(const std::string& list) {
  ReadTxn txn(db_);
  ListStats s;
  s.info = get_list(list);
  Stmt q(db_, "SELECT algo, count(*), max(added_at) FROM entries WHERE list_id = ? GROUP BY algo");
  q.bind(1, s.info.id);
  while (q.step()) {
    const int64_t a = q.col_int(0);
    if (a >= 0 && a < kNumHashAlgos) s.by_algo[a] = q.col_int(1);
    s.entries += q.col_int(1);
    s.last_added = std::max(s.last_added, q.col_int(2));
  }
  Stmt v(db_,
         "SELECT count(*), coalesce(sum(frames), 0), coalesce(max(added_at), 0) "
         "FROM vpdq_videos WHERE list_id = ?");
  if (v.bind(1, s.info.id).step()) {
    s.videos = v.col_int(0);
    s.video_frames = v.col_int(1);
    s.last_added = std::max(s.last_added, v.col_int(2));
  }
  // A video's digests are entries of its id: an id counts once.
  Stmt r(db_,
         "SELECT count(*) FROM (SELECT ext_id FROM entries WHERE list_id = ?1 "
         "UNION SELECT video_id FROM vpdq_videos WHERE list_id = ?1)");
  if (r.bind(1, s.info.id).step()) s.records = r.col_int(0);
  return s;
}

std::vector<ListStats> ListStore::stats_all() {
  ReadTxn txn(db_);
  std::vector<ListStats> out;
  for (const ListInfo& l : lists()) out.push_back(stats(l.name));
  return out;
}

void ListStore::for_each_entry(const std::string& list,
                               const std::function<void(const StoredEntry&)>& fn) {
  ReadTxn txn(db_);
  const ListInfo l = get_list(list);
  Stmt q(db_,
         "SELECT id, algo, hash, ext_id, category, source, tags, added_at, origin FROM entries "
         "WHERE list_id = ? ORDER BY id");
  q.bind(1, l.id);
  StoredEntry e;
  while (q.step()) {
    e.row = q.col_int(0);
    e.hash = value_from_blob(q.col_int(1), q.col_blob(2));
    e.id = q.col_text(3);
    e.labels.category = q.col_text(4);
    e.labels.source = q.col_text(5);
    e.labels.tags = split_tags(q.col_text(6));
    e.added_at = q.col_int(7);
    e.origin = q.col_text(8);
    fn(e);
  }
}

int64_t ListStore::version() {
  Stmt q(db_, "SELECT value FROM meta WHERE key = 'version'");
  return q.step() ? q.col_int(0) : 0;
}

void ListStore::read_snapshot(const std::function<void()>& fn) {
  ReadTxn txn(db_);
  fn();
}

std::unique_ptr<ImportSession> ListStore::begin_import(const std::string& list,
                                                       const std::string& source,
                                                       const std::string& format) {
  if (in_import_) throw Error("an import is already open on this ListStore");
  exec("BEGIN IMMEDIATE");
  try {
    std::optional<ListInfo> l = find_list(list);
    if (!l) {
      if (!valid_list_name(list)) {
        throw InvalidArgument("invalid list name '" + list +
                              "': use 1-64 letters, digits, '_', '-' or '.', starting with a "
                              "letter or digit");
      }
      const int64_t now = now_seconds();
      Stmt ins(db_,
               "INSERT INTO lists(name, threshold, created_at, generation) VALUES(?, ?, ?, 1)");
      ins.bind(1, list).bind(2, kDefaultPdqThreshold).bind(3, now).run();
      l = ListInfo{sqlite3_last_insert_rowid(db_), list, kDefaultPdqThreshold, now, 1};
      exec("UPDATE meta SET value = value + 1 WHERE key = 'version'");
    }
    Stmt ins(db_, "INSERT INTO imports(list_id, source, format, started_at) VALUES(?, ?, ?, ?)");
    ins.bind(1, l->id).bind(2, source).bind(3, format).bind(4, now_seconds()).run();
    const int64_t import_id = sqlite3_last_insert_rowid(db_);
    auto session =
        std::unique_ptr<ImportSession>(new ImportSession(*this, l->id, l->name, import_id, format));
    in_import_ = true;
    return session;
  } catch (...) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

// ---------------------------------------------------------------------------------------------
// ImportSession

struct ImportSession::Stmts {
  explicit Stmts(sqlite3* db)
      : upsert(db,
               "INSERT INTO entries(list_id, algo, hash, ext_id, category, source, tags, added_at, "
               "import_id, origin) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) "
               "ON CONFLICT(list_id, ext_id, algo) DO UPDATE SET "
               "added_at = CASE WHEN entries.hash = excluded.hash THEN entries.added_at "
               "ELSE excluded.added_at END, "
               "hash = excluded.hash, category = excluded.category, source = excluded.source, "
               "tags = excluded.tags, import_id = excluded.import_id, origin = excluded.origin "
               "WHERE entries.import_id <> excluded.import_id"),
        find(db, "SELECT origin FROM entries WHERE list_id = ?1 AND ext_id = ?2 AND algo = ?3"),
        remove(db, "DELETE FROM entries WHERE list_id = ?1 AND ext_id = ?2"),
        remove_video(db, "DELETE FROM vpdq_videos WHERE list_id = ?1 AND video_id = ?2"),
        note_id(db, "INSERT OR IGNORE INTO import_ids(ext_id) VALUES(?1)") {}
  Stmt upsert, find, remove, remove_video, note_id;
};

ImportSession::ImportSession(ListStore& store, int64_t list_id, const std::string& list,
                             int64_t import_id, const std::string& format)
    : store_(store), list_id_(list_id), import_id_(import_id), now_(now_seconds()) {
  summary_.list = list;
  summary_.format = format;
  // The explicit ids this import gives: a scratch table of the database itself, made and dropped
  // inside the import's transaction (a rollback takes it away too). Not a TEMP table: past a few
  // thousand ids SQLite spills those to a file in a temporary directory, and an import failed
  // where none was writable (a read-only root filesystem); nor a set in memory (millions of ids).
  sql::exec(store_.db_,
            "CREATE TABLE IF NOT EXISTS import_ids(ext_id TEXT PRIMARY KEY) WITHOUT ROWID; "
            "DELETE FROM import_ids");
  st_ = std::make_unique<Stmts>(store_.db_);
}

ImportSession::~ImportSession() {
  st_.reset();
  if (!done_) sqlite3_exec(store_.db_, "ROLLBACK", nullptr, nullptr, nullptr);
  store_.in_import_ = false;
}

void ImportSession::add_record(const std::vector<NewEntry>& entries, const std::string& origin) {
  if (done_) throw Error("import already finished");
  if (entries.empty()) return;
  sqlite3* db = store_.db_;
  const std::string& first_id = entries[0].id;
  for (const NewEntry& e : entries) {
    if (e.id != first_id) throw Error("add_record: entries of one record must share their id");
  }
  // A record with an explicit id replaces that id's entries from earlier imports: the
  // fingerprints this import does not give again are dropped at commit(), so that an id's
  // fingerprints may come in several rows (as `list export` writes them) and keep their added_at.
  if (!first_id.empty()) st_->note_id.bind(1, first_id).run();
  for (const NewEntry& e : entries) {
    const std::string id = e.id.empty() ? e.hash.to_hex() : e.id;
    const int algo = static_cast<int>(e.hash.algo);
    auto& u = st_->upsert;
    u.bind(1, list_id_).bind(2, algo).bind_blob(3, e.hash.bytes.data(), e.hash.size());
    u.bind(4, id).bind(5, clean_label(e.labels.category)).bind(6, clean_label(e.labels.source));
    u.bind(7, join_tags(e.labels.tags)).bind(8, now_).bind(9, import_id_).bind(10, origin);
    u.run();
    if (sqlite3_changes(db) == 1) {
      ++summary_.imported;
      continue;
    }
    // The same (id, algorithm) was already written by this import.
    if (e.id.empty()) {
      ++summary_.duplicates;  // a repeated hash line: merged
      continue;
    }
    std::string first;
    st_->find.bind(1, list_id_).bind(2, id).bind(3, algo);
    if (st_->find.step()) first = st_->find.col_text(0);
    st_->find.reset();
    throw InvalidArgument(origin + ": duplicate id '" + id + "' for " +
                          std::string(algo_name(e.hash.algo)) +
                          (first.empty() ? std::string() : " (first at " + first + ")"));
  }
}

int64_t ImportSession::remove_id(const std::string& id) {
  if (done_) throw Error("import already finished");
  st_->remove.bind(1, list_id_).bind(2, id).run();
  int64_t n = sqlite3_changes(store_.db_);
  st_->remove_video.bind(1, list_id_).bind(2, id).run();
  n += sqlite3_changes(store_.db_);
  summary_.removed += n;
  return n;
}

ImportSummary ImportSession::commit() {
  if (done_) throw Error("import already finished");
  st_.reset();
  sqlite3* db = store_.db_;
  Stmt(db,
       "DELETE FROM entries WHERE list_id = ?1 AND import_id <> ?2 AND "
       "ext_id IN (SELECT ext_id FROM import_ids)")
      .bind(1, list_id_)
      .bind(2, import_id_)
      .run();
  summary_.removed += sqlite3_changes(db);
  sql::exec(db, "DROP TABLE import_ids");
  Stmt(db, "UPDATE imports SET records = ?, imported = ?, removed = ? WHERE id = ?")
      .bind(1, summary_.records)
      .bind(2, summary_.imported)
      .bind(3, summary_.removed)
      .bind(4, import_id_)
      .run();
  store_.bump_generation(list_id_);
  sql::exec(db, "COMMIT");
  done_ = true;
  store_.in_import_ = false;
  return summary_;
}

}  // namespace hashmatch
