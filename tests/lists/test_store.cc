// ListStore: persistence across reopen, removal, generations, and crash safety (a child process
// killed with SIGKILL in the middle of an import leaves nothing or everything of that import).
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "host/common/error.h"
#include "host/lists/list_store.h"
#include "tests/lists/lists_testutil.h"
#include "tests/testutil/testutil.h"

namespace hashmatch {
namespace {

using test::entry;
using test::pdq_value;
using test::random_hash;

TEST(ListStore, ReopenKeepsListsEntriesAndLabels) {
  test::TempDir dir;
  const std::string db = (dir / "lists.db").string();
  std::mt19937_64 rng(test::fresh_seed("ReopenKeepsListsEntriesAndLabels"));
  std::vector<NewEntry> added;
  {
    ListStore s(db);
    s.create_list("ncmec", 24);
    for (int i = 0; i < 50; ++i) {
      NewEntry e = entry(pdq_value(random_hash(rng)), "rec" + std::to_string(i), "A1");
      e.labels.source = "ncmec:42";
      e.labels.tags = {"image", "tag with space"};
      added.push_back(e);
    }
    // A record with two fingerprints shares its id.
    added.push_back(entry(HashValue::parse(HashAlgo::kMd5, test::random_hex(rng, 32)), "multi"));
    added.push_back(entry(HashValue::parse(HashAlgo::kSha1, test::random_hex(rng, 40)), "multi"));
    EXPECT_EQ(s.add_entries("ncmec", added), static_cast<int64_t>(added.size()));
  }
  ListStore s(db, /*create=*/false);
  const ListInfo l = s.get_list("ncmec");
  EXPECT_EQ(l.threshold, 24);
  const auto got = test::all_entries(s, "ncmec");
  ASSERT_EQ(got.size(), added.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].hash, added[i].hash) << i;
    EXPECT_EQ(got[i].id, added[i].id) << i;
    EXPECT_EQ(got[i].labels, added[i].labels) << i;
    EXPECT_GT(got[i].added_at, 0);
  }
  const ListStats st = s.stats("ncmec");
  EXPECT_EQ(st.entries, static_cast<int64_t>(added.size()));
  EXPECT_EQ(st.records, 51);
  EXPECT_EQ(st.by_algo[static_cast<int>(HashAlgo::kPdq)], 50);
  EXPECT_EQ(st.by_algo[static_cast<int>(HashAlgo::kMd5)], 1);
  EXPECT_EQ(st.by_algo[static_cast<int>(HashAlgo::kSha1)], 1);
}

// A reader opening the database while another process holds the write lock (an import in
// progress) opens it and reads the committed lists at once: opening took the write lock to
// create the schema, so every `match` and `list stats` waited behind an import, and failed
// ("database is locked") after 30 s.
TEST(ListStore, OpeningForReadingDoesNotWaitForAWriter) {
  test::TempDir dir;
  const std::string db = (dir / "lists.db").string();
  std::mt19937_64 rng(test::fresh_seed("OpeningForReadingDoesNotWaitForAWriter"));
  {
    ListStore s(db);
    s.create_list("L");
    s.add_entries("L", {entry(pdq_value(random_hash(rng)), "one")});
  }
  sqlite3* writer = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &writer), SQLITE_OK);
  ASSERT_EQ(
      sqlite3_exec(writer, "BEGIN IMMEDIATE; DELETE FROM entries;", nullptr, nullptr, nullptr),
      SQLITE_OK);
  {
    // Waiting for the lock would end in "database is locked" (an IoError) after 30 s.
    ListStore reader(db, /*create=*/false);
    EXPECT_EQ(reader.stats("L").entries, 1);  // the committed state
  }
  sqlite3_exec(writer, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(writer);
}

// An import of many ids needs no temporary directory (from a hunt: the ids were kept in a TEMP
// table, which SQLite spills to a file past a few thousand rows; with no writable temporary
// directory, as on a read-only root filesystem, imports of 50,000 ids failed with "disk I/O
// error": 200,000 here). sqlite3_temp_directory points SQLite's temporary files at a directory that
// is not there.
TEST(ListStore, AnImportOfManyIdsNeedsNoTemporaryDirectory) {
  test::TempDir dir;
  const std::string db = (dir / "lists.db").string();
  std::mt19937_64 rng(test::fresh_seed("AnImportOfManyIdsNeedsNoTemporaryDirectory"));
  std::vector<NewEntry> entries;
  for (int i = 0; i < 200000; ++i) {
    entries.push_back(entry(pdq_value(random_hash(rng)), "record-" + std::to_string(i)));
  }
  char* saved = sqlite3_temp_directory;
  sqlite3_temp_directory = sqlite3_mprintf("%s", (dir / "no-such-directory").c_str());
  ListStore s(db);
  int64_t added = 0;
  EXPECT_NO_THROW(added = s.add_entries("L", entries));
  EXPECT_NO_THROW(added += s.add_entries("L", entries));  // again: every id replaced
  sqlite3_free(sqlite3_temp_directory);
  sqlite3_temp_directory = saved;
  EXPECT_EQ(added, 400000);
  EXPECT_EQ(s.stats("L").entries, 200000);
}

TEST(ListStore, RemoveGenerationsAndVersion) {
  test::TempDir dir;
  ListStore s((dir / "l.db").string());
  std::mt19937_64 rng(test::fresh_seed("RemoveGenerationsAndVersion"));
  const int64_t v0 = s.version();
  s.create_list("a");
  s.create_list("b");
  EXPECT_THROW(s.create_list("a"), InvalidArgument);
  EXPECT_THROW(s.create_list("bad name"), InvalidArgument);
  EXPECT_THROW(s.create_list(""), InvalidArgument);
  EXPECT_THROW(s.set_threshold("a", 257), InvalidArgument);
  EXPECT_THROW(s.set_threshold("a", -1), InvalidArgument);
  const int64_t g_b = s.get_list("b").generation;
  s.add_entries("a",
                {entry(pdq_value(random_hash(rng)), "x"), entry(pdq_value(random_hash(rng)), "y"),
                 entry(HashValue::parse(HashAlgo::kMd5, test::random_hex(rng, 32)), "x")});
  EXPECT_GT(s.version(), v0);
  EXPECT_EQ(s.get_list("b").generation, g_b);  // untouched list keeps its generation
  const int64_t g_a = s.get_list("a").generation;
  EXPECT_EQ(s.remove_id("a", "x"), 2);  // both fingerprints of record x
  EXPECT_EQ(s.remove_id("a", "nope"), 0);
  EXPECT_GT(s.get_list("a").generation, g_a);
  EXPECT_EQ(s.stats("a").entries, 1);
  EXPECT_EQ(s.remove_all("a"), 1);
  EXPECT_EQ(s.stats("a").entries, 0);
  EXPECT_TRUE(s.find_list("a"));  // the list stays
  s.drop_list("a");
  EXPECT_FALSE(s.find_list("a"));
  EXPECT_THROW(s.stats("a"), InvalidArgument);
  EXPECT_THROW(ListStore((dir / "missing.db").string(), /*create=*/false), IoError);
}

TEST(ListStore, ReimportReplacesRecordAndKeepsAddedTime) {
  test::TempDir dir;
  ListStore s((dir / "l.db").string());
  std::mt19937_64 rng(test::fresh_seed("ReimportReplacesRecord"));
  const HashValue md5 = HashValue::parse(HashAlgo::kMd5, test::random_hex(rng, 32));
  const HashValue sha1 = HashValue::parse(HashAlgo::kSha1, test::random_hex(rng, 40));
  {
    auto imp = s.begin_import("l", "first", "api");
    imp->add_record({entry(md5, "7", "1"), entry(sha1, "7", "1")}, "record 1");
    imp->commit();
  }
  const int64_t added = test::all_entries(s, "l")[0].added_at;
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  auto imp = s.begin_import("l", "second", "api");
  imp->add_record({entry(md5, "7", "2")}, "record 1");  // the record now has only its MD5
  const ImportSummary sum = imp->commit();
  EXPECT_EQ(sum.imported, 1);
  EXPECT_EQ(sum.removed, 1);  // the SHA-1 the new record dropped
  const auto got = test::all_entries(s, "l");
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].hash, md5);
  EXPECT_EQ(got[0].labels.category, "2");
  EXPECT_EQ(got[0].added_at, added);  // same hash: first added time kept
}

TEST(ListStore, DuplicateIdInOneImportRollsBack) {
  test::TempDir dir;
  ListStore s((dir / "l.db").string());
  std::mt19937_64 rng(test::fresh_seed("DuplicateIdInOneImportRollsBack"));
  {
    auto imp = s.begin_import("l", "t", "api");
    imp->add(entry(pdq_value(random_hash(rng)), "dup"), "line 1");
    imp->add(entry(pdq_value(random_hash(rng)), "other"), "line 2");
    try {
      imp->add(entry(pdq_value(random_hash(rng)), "dup"), "line 3");
      FAIL() << "duplicate id accepted";
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find("line 3"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("first at line 1"), std::string::npos) << e.what();
    }
  }                                // destroyed without commit: rolled back
  EXPECT_FALSE(s.find_list("l"));  // even the list creation was part of the import
  // Repeated hashes without ids merge instead.
  auto imp = s.begin_import("l", "t", "api");
  const HashValue v = pdq_value(random_hash(rng));
  imp->add(entry(v), "line 1");
  imp->add(entry(v), "line 2");
  const ImportSummary sum = imp->commit();
  EXPECT_EQ(sum.imported, 1);
  EXPECT_EQ(sum.duplicates, 1);
  EXPECT_EQ(test::all_entries(s, "l")[0].id, v.to_hex());
}

// The child imports `n` entries in one import; it reports progress through a pipe (one byte per
// 1000 entries, then 'C' after the commit returned) and then waits to be killed.
pid_t start_importer(const std::string& db, int n, uint64_t seed, int* read_fd) {
  int fds[2];
  if (pipe(fds) != 0) return -1;
  const pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    try {
      std::mt19937_64 rng(seed);
      ListStore s(db);
      auto imp = s.begin_import("l", "child", "api");
      for (int i = 0; i < n; ++i) {
        imp->add(entry(pdq_value(random_hash(rng)), std::to_string(seed) + "-" + std::to_string(i)),
                 "entry");
        if (i % 1000 == 999) (void)!write(fds[1], "p", 1);
      }
      imp->commit();
      (void)!write(fds[1], "C", 1);
    } catch (...) {
      (void)!write(fds[1], "E", 1);
      _exit(3);
    }
    for (;;) pause();
  }
  close(fds[1]);
  *read_fd = fds[0];
  return pid;
}

int64_t count_entries(const std::string& db) {
  ListStore s(db);
  if (!s.find_list("l")) return 0;
  return s.stats("l").entries;
}

TEST(ListStore, KillDuringImportLeavesNothingOrEverything) {
  test::TempDir dir;
  const std::string db = (dir / "kill.db").string();
  const uint64_t seed = test::fresh_seed("KillDuringImport");
  std::mt19937_64 rng(seed);
  constexpr int kBase = 100, kChild = 20000;
  {
    ListStore s(db);
    std::vector<NewEntry> base;
    for (int i = 0; i < kBase; ++i)
      base.push_back(entry(pdq_value(random_hash(rng)), test::numbered("b", i)));
    s.add_entries("l", base);
  }
  auto kill_after = [&](int progress_bytes, char until) {
    int fd = -1;
    const pid_t pid = start_importer(db, kChild, rng(), &fd);
    EXPECT_GT(pid, 0);
    char c = 0;
    int seen = 0;
    while (read(fd, &c, 1) == 1) {
      if (c == 'E') break;
      if (c == until || (until == 'p' && ++seen >= progress_bytes)) break;
    }
    EXPECT_NE(c, 'E') << "the child import failed";
    kill(pid, SIGKILL);
    int st = 0;
    waitpid(pid, &st, 0);
    close(fd);
    EXPECT_TRUE(WIFSIGNALED(st));
  };
  // Killed in the middle (the commit has not started): nothing of that import.
  kill_after(1 + static_cast<int>(rng() % 15), 'p');
  EXPECT_EQ(count_entries(db), kBase);
  // Killed after the commit was acknowledged: everything.
  kill_after(0, 'C');
  EXPECT_EQ(count_entries(db), kBase + kChild);
  // Killed at random moments (possibly inside the commit): nothing or everything.
  {
    ListStore s(db);
    s.remove_all("l");
  }
  for (int trial = 0; trial < 3; ++trial) {
    int fd = -1;
    const int64_t before = count_entries(db);
    const pid_t pid = start_importer(db, kChild, rng(), &fd);
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % 400000));
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    close(fd);
    const int64_t after = count_entries(db);
    EXPECT_TRUE(after == before || after == before + kChild)
        << "trial " << trial << ": " << before << " -> " << after;
  }
}

}  // namespace
}  // namespace hashmatch
