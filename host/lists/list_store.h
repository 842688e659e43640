// Durable storage of named hash lists in one SQLite database.
//
// Data model (docs/lists.md has the full account):
//   list   name (e.g. "ncmec", "industry", "internal"), PDQ match threshold (default 31,
//          inclusive: a match is distance <= threshold), creation time, and a generation counter
//          that grows with every committed change to the list.
//   entry  one fingerprint: algorithm (pdq | md5 | sha1 | sha256) and hash, an external id, labels
//          (category, source, free tags) and the time it was added. A record with several
//          fingerprints (an NCMEC entry, a VICS media item) gives several entries sharing its id.
//          Within a list, (id, algorithm) is unique.
//   video  a listed video: its vPDQ frame hashes under an id (tables vpdq_videos, vpdq_frames,
//          created here and written by video/vpdq_store.h). Removing an id removes its video too.
//
// Durability: WAL journal, synchronous=FULL, every change in one transaction. A change is
// acknowledged when its call returns; acknowledged changes survive a crash, kill -9 or power
// loss, and an interrupted change leaves nothing behind (SQLite's atomic commit).
//
// Thread-safety: a ListStore (one SQLite connection) is used by one thread at a time. Any number
// of ListStore objects, in any number of threads or processes, may open the same database: readers
// see a consistent snapshot while one writer commits (others wait up to the busy timeout).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "host/lists/hash_value.h"

struct sqlite3;
struct sqlite3_stmt;

namespace hashmatch {

// Labels of an entry. Empty strings mean "not given".
struct Labels {
  std::string category;           // e.g. NCMEC classification "A1", VICS category "1"
  std::string source;             // who supplied the entry ("ncmec:42", "vics", a file name...)
  std::vector<std::string> tags;  // free tags ("victim_identified", "video", ...)
  friend bool operator==(const Labels&, const Labels&) = default;
};

// How the stores keep labels (the hash lists and the vPDQ frame store): control characters become
// spaces and surrounding spaces go (clean_label, also for category and source); tags are stored
// joined by '\n', empty ones dropped, a tag with ';' or '|' split there as the CSV form splits
// it (join_tags), and split back (split_tags).
std::string clean_label(std::string_view s);
std::string join_tags(const std::vector<std::string>& tags);
std::vector<std::string> split_tags(std::string_view joined);

struct ListInfo {
  int64_t id = 0;
  std::string name;
  int threshold = kDefaultPdqThreshold;
  int64_t created_at = 0;  // unix seconds
  int64_t generation = 0;  // grows with every committed change to the list
};

struct ListStats {
  ListInfo info;
  int64_t entries = 0;
  int64_t records = 0;                  // distinct ids (of entries and listed videos)
  int64_t by_algo[kNumHashAlgos] = {};  // indexed by HashAlgo
  int64_t videos = 0;                   // listed videos (vPDQ frame hashes, video/vpdq_store.h)
  int64_t video_frames = 0;             // their frame hashes
  int64_t last_added = 0;               // unix seconds, 0 when empty
};

// An entry to add. `id` empty: the id is the hash's lowercase hex ("generated id").
struct NewEntry {
  HashValue hash;
  std::string id;
  Labels labels;
};

// An entry as stored.
struct StoredEntry {
  int64_t row = 0;  // SQLite rowid (stable while the entry exists)
  HashValue hash;
  std::string id;
  Labels labels;
  int64_t added_at = 0;  // unix seconds
  std::string origin;    // where it was imported from ("line 12", "record 7"), may be empty
};

struct ImportSummary {
  std::string list;
  std::string format;
  int64_t records = 0;     // records (lines, media items, NCMEC entries) read
  int64_t imported = 0;    // entries written (new or updated)
  int64_t removed = 0;     // entries removed (deletion records, fingerprints a record dropped)
  int64_t duplicates = 0;  // repeated hash lines without an id, merged
  int64_t skipped = 0;     // records without a usable fingerprint (VICS media without hashes)
};

class ImportSession;

class ListStore {
 public:
  // SQLite page cache of one connection. Large imports insert ids at random places of the
  // (list, id, algorithm) index; a larger cache saves most of the page reads and writes.
  static constexpr int kDefaultCacheMib = 64;

  // Opens (creating when `create`) the database at `path`. Throws IoError when it cannot.
  // `cache_mib`: the connection's page cache limit (memory stays below it however large a list).
  explicit ListStore(const std::string& path, bool create = true, int cache_mib = kDefaultCacheMib);
  ~ListStore();
  ListStore(const ListStore&) = delete;
  ListStore& operator=(const ListStore&) = delete;

  const std::string& path() const { return path_; }

  // Creates a list. Throws InvalidArgument when the name is invalid or the list exists.
  ListInfo create_list(const std::string& name, int threshold = kDefaultPdqThreshold);
  // The list, created with the default threshold when missing.
  ListInfo ensure_list(const std::string& name);
  void set_threshold(const std::string& name, int threshold);
  std::optional<ListInfo> find_list(const std::string& name);
  ListInfo get_list(const std::string& name);  // throws InvalidArgument when missing
  std::vector<ListInfo> lists();               // by name
  // Deletes the list and all its entries.
  void drop_list(const std::string& name);

  // Adds entries in one transaction (all or nothing), with import semantics (see ImportSession).
  // Returns the number of entries written.
  int64_t add_entries(const std::string& list, const std::vector<NewEntry>& entries);
  // Removes every entry with this external id and the listed video with this id (vpdq_videos and
  // its frames, video/vpdq_store.h), in one transaction; returns how many entries and videos went
  // (a video counts once). `videos`, when given, receives the number of videos alone (0 or 1).
  int64_t remove_id(const std::string& list, const std::string& id, int64_t* videos = nullptr);
  // Removes every entry and every listed video of the list (the list itself stays), in one
  // transaction; returns how many entries and videos went.
  int64_t remove_all(const std::string& list);

  ListStats stats(const std::string& list);
  std::vector<ListStats> stats_all();

  // Calls fn for every entry of the list in row order, from one consistent read snapshot.
  // Memory stays bounded (one entry at a time). fn must not use this ListStore.
  void for_each_entry(const std::string& list, const std::function<void(const StoredEntry&)>& fn);

  // A number that changes whenever a committed change touched any list (cheap to poll).
  int64_t version();

  // Runs fn inside one read transaction: everything read in it sees the same snapshot.
  void read_snapshot(const std::function<void()>& fn);

  // Starts an import into `list` (created when missing): one write transaction that the session
  // commits or rolls back. `source` and `format` are recorded with the import.
  std::unique_ptr<ImportSession> begin_import(const std::string& list, const std::string& source,
                                              const std::string& format);

  sqlite3* handle() { return db_; }  // for ImportSession and tests

 private:
  friend class ImportSession;
  void exec(const char* sql);
  void bump_generation(int64_t list_id);
  bool schema_in_place();  // the tables and schema version are there (a read, no lock)
  std::string path_;
  sqlite3* db_ = nullptr;
  bool in_import_ = false;
};

// One import: a write transaction held from begin_import() to commit(); destroying the session
// without commit() rolls everything back. Not thread-safe; the store is busy while it is open,
// and the session must not outlive its ListStore.
//
// Semantics, per record, in file order:
//  - add(): an entry with an explicit id replaces that id's entries from earlier imports (a record
//    is re-sent whole, possibly in several rows: fingerprints of the id that this import does not
//    give are dropped at commit(), counted as removed). A
//    second entry with the same (id, algorithm) in the same import is an error naming both
//    origins. Entries without an id get the hash hex as id; repeats of the same hash merge.
//  - remove_id(): removes every entry with that id and the listed video with that id (deletion
//    records); both count as removed (a video once).
//  - an entry that is re-imported unchanged keeps its original added_at.
class ImportSession {
 public:
  ~ImportSession();
  ImportSession(const ImportSession&) = delete;
  ImportSession& operator=(const ImportSession&) = delete;

  // Adds the fingerprints of one record (all with the same id). `origin` names the record for
  // errors and provenance ("line 12"). Throws InvalidArgument on a duplicate.
  void add_record(const std::vector<NewEntry>& entries, const std::string& origin);
  void add(const NewEntry& e, const std::string& origin) { add_record({e}, origin); }
  int64_t remove_id(const std::string& id);
  void count_record() { ++summary_.records; }
  void count_skipped() { ++summary_.skipped; }

  ImportSummary commit();
  const ImportSummary& summary() const { return summary_; }

 private:
  friend class ListStore;
  ImportSession(ListStore& store, int64_t list_id, const std::string& list, int64_t import_id,
                const std::string& format);
  struct Stmts;
  ListStore& store_;
  int64_t list_id_;
  int64_t import_id_;
  int64_t now_;
  bool done_ = false;
  ImportSummary summary_;
  std::unique_ptr<Stmts> st_;
};

// Valid list names: 1..64 characters of [A-Za-z0-9_.-], starting with a letter or digit.
bool valid_list_name(std::string_view name);

// "2024-05-01T12:00:00Z"
std::string format_utc(int64_t unix_seconds);

}  // namespace hashmatch
