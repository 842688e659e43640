#include "host/server/audit_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>

#include "host/common/error.h"

namespace hashmatch::server {

std::string utc_now_iso() {
  const auto now = std::chrono::system_clock::now();
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch());
  const std::time_t t = static_cast<std::time_t>(ms.count() / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms.count() % 1000));
  return buf;
}

AuditLog::AuditLog(std::string path) : path_(std::move(path)) {
  fd_ = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd_ < 0) {
    throw IoError("cannot open the audit log " + path_ + ": " + std::strerror(errno));
  }
}

AuditLog::~AuditLog() {
  if (fd_ >= 0) ::close(fd_);
}

void AuditLog::append(const Actor& actor, const std::string& action, nlohmann::json what) {
  nlohmann::json rec = nlohmann::json::object();
  rec["time"] = utc_now_iso();
  rec["who"] = actor.who;
  rec["remote"] = actor.remote;
  rec["request_id"] = actor.request_id;
  rec["action"] = action;
  for (auto it = what.begin(); it != what.end(); ++it) rec[it.key()] = it.value();
  const std::string line =
      rec.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  std::lock_guard<std::mutex> lk(mu_);
  std::size_t off = 0;
  while (off < line.size()) {
    const ssize_t n = ::write(fd_, line.data() + off, line.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw IoError("cannot write the audit log " + path_ + ": " + std::strerror(errno));
    }
    off += static_cast<std::size_t>(n);
  }
  if (::fdatasync(fd_) != 0) {
    throw IoError("cannot flush the audit log " + path_ + ": " + std::strerror(errno));
  }
}

}  // namespace hashmatch::server
