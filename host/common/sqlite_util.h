// Small RAII helpers over the SQLite C API: statements and transactions (the list store, the
// vPDQ frame store, the seen-before memory). Header-only; users link SQLite::SQLite3.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "host/common/error.h"

namespace hashmatch::sql {

[[noreturn]] inline void fail(sqlite3* db, const std::string& what) {
  throw IoError("sqlite: " + what + ": " + (db ? sqlite3_errmsg(db) : "out of memory"));
}

// One prepared statement; reset between uses. Move-only.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) : db_(db) {
    if (sqlite3_prepare_v2(db, sql, -1, &st_, nullptr) != SQLITE_OK) {
      fail(db, std::string("prepare '") + sql + "'");
    }
  }
  ~Stmt() { sqlite3_finalize(st_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Stmt& bind(int i, int64_t v) {
    check(sqlite3_bind_int64(st_, i, v));
    return *this;
  }
  Stmt& bind(int i, std::string_view v) {
    check(sqlite3_bind_text(st_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT));
    return *this;
  }
  Stmt& bind_blob(int i, const void* p, std::size_t n) {
    check(sqlite3_bind_blob(st_, i, p, static_cast<int>(n), SQLITE_TRANSIENT));
    return *this;
  }
  // One step: true when a row is available, false when done. Throws on error.
  bool step() {
    const int rc = sqlite3_step(st_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    const std::string msg = sqlite3_errmsg(db_);
    sqlite3_reset(st_);
    throw IoError("sqlite: " + std::string(sqlite3_sql(st_)).substr(0, 60) + ": " + msg);
  }
  // Runs to completion (for statements without rows) and resets.
  void run() {
    while (step()) {
    }
    reset();
  }
  void reset() {
    sqlite3_reset(st_);
    sqlite3_clear_bindings(st_);
  }
  int64_t col_int(int i) const { return sqlite3_column_int64(st_, i); }
  std::string col_text(int i) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(st_, i));
    return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(st_, i)))
             : std::string();
  }
  std::string_view col_blob(int i) const {
    const void* p = sqlite3_column_blob(st_, i);
    return p ? std::string_view(static_cast<const char*>(p),
                                static_cast<std::size_t>(sqlite3_column_bytes(st_, i)))
             : std::string_view();
  }

 private:
  void check(int rc) {
    if (rc != SQLITE_OK) fail(db_, "bind");
  }
  sqlite3* db_;
  sqlite3_stmt* st_ = nullptr;
};

inline void exec(sqlite3* db, const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    throw IoError(std::string("sqlite: ") + sql + ": " + msg);
  }
}

// A read transaction unless one is already open on this connection.
class ReadTxn {
 public:
  explicit ReadTxn(sqlite3* db) : db_(db), own_(sqlite3_get_autocommit(db) != 0) {
    if (own_) exec(db_, "BEGIN");
  }
  ~ReadTxn() {
    if (own_) sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr);
  }
  ReadTxn(const ReadTxn&) = delete;
  ReadTxn& operator=(const ReadTxn&) = delete;

 private:
  sqlite3* db_;
  bool own_;
};

// BEGIN IMMEDIATE ... COMMIT, rolled back when the scope is left without commit() (an exception).
class WriteTxn {
 public:
  explicit WriteTxn(sqlite3* db) : db_(db) { exec(db_, "BEGIN IMMEDIATE"); }
  ~WriteTxn() {
    if (!done_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  WriteTxn(const WriteTxn&) = delete;
  WriteTxn& operator=(const WriteTxn&) = delete;
  void commit() {
    exec(db_, "COMMIT");
    done_ = true;
  }

 private:
  sqlite3* db_;
  bool done_ = false;
};

}  // namespace hashmatch::sql
