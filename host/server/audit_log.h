// Append-only audit log of list changes: one JSON object per line with the time (UTC, ms), who
// (the token's name), from where, the request id, the action and what changed. Each record is
// written with a single write(2) on an O_APPEND descriptor and flushed to disk (fdatasync) before
// the change is acknowledged. The file is created with mode 0600.
#pragma once

#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

namespace hashmatch::server {

struct Actor {
  std::string who;     // token name ("anonymous" without a token file)
  std::string remote;  // client address
  std::string request_id;
};

class AuditLog {
 public:
  // Opens (creating) the file. Throws IoError.
  explicit AuditLog(std::string path);
  ~AuditLog();
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  // Adds time, who, remote, request_id and action to `what` and appends it. Throws IoError.
  void append(const Actor& actor, const std::string& action, nlohmann::json what);
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int fd_ = -1;
  std::mutex mu_;
};

// "2026-11-23T12:00:00.123Z"
std::string utc_now_iso();

}  // namespace hashmatch::server
