#include "host/scan/checkpoint.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "host/common/error.h"
#include "host/common/file_io.h"
#include "host/common/json_bytes.h"
#include "host/scan/output.h"

namespace hashmatch::scan {
namespace {

constexpr const char* kFormat = "hashmatch-scan-checkpoint";
constexpr int kVersion = 1;

std::string dump(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// Paths are arbitrary bytes: stored as bytes_to_json gives them (host/common/json_bytes.h), so
// that they come back byte for byte.
std::string path_from_json(const nlohmann::json& j) {
  std::optional<std::string> p = bytes_from_json(j);
  if (!p) throw Error("not a path");
  return std::move(*p);
}

std::string now_utc() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace

bool file_exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

Checkpoint::Checkpoint(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}

Checkpoint::~Checkpoint() {
  if (fd_ >= 0) ::close(fd_);
}

std::unique_ptr<Checkpoint> Checkpoint::create(const std::string& path, const nlohmann::json& config,
                                               const ItemList& items) {
  replace_file(path, ".tmp", "checkpoint ", [&](int fd, const std::string& tmp) {
    nlohmann::json head{{"format", kFormat},  {"version", kVersion}, {"created", now_utc()},
                        {"items", items.size()}, {"config", config}};
    std::string buf = dump(head) + "\n";
    for (std::size_t i = 0; i < items.size(); ++i) {
      const std::string_view err = items.error(i);
      if (err.empty()) {
        buf += dump(bytes_to_json(items.path(i)));
      } else {
        buf += dump(nlohmann::json::array({bytes_to_json(items.path(i)), std::string(err)}));
      }
      buf += '\n';
      if (buf.size() > (1u << 20)) {
        write_all(fd, buf, "checkpoint '" + tmp + "'");
        buf.clear();
      }
    }
    buf += dump(nlohmann::json{{"end_items", items.size()}}) + "\n";
    write_all(fd, buf, "checkpoint '" + tmp + "'");
  });
  const int afd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (afd < 0) throw IoError("cannot open checkpoint '" + path + "': " + errno_text());
  return std::unique_ptr<Checkpoint>(new Checkpoint(path, afd));
}

std::unique_ptr<Checkpoint> Checkpoint::open(const std::string& path, nlohmann::json* config,
                                             ItemList* items, std::optional<CheckpointCommit>* last) {
  const std::string text = OutputFile::read_from(path, 0);
  // Not a usage error (exit code 2) but a fatal one (1): the command may be right, the file not.
  auto bad = [&](const std::string& why) {
    return Error("checkpoint '" + path + "' is not usable: " + why +
                 " (remove it to start the scan afresh)");
  };
  std::size_t pos = 0;
  auto next_line = [&](std::string_view* line) -> bool {
    if (pos >= text.size()) return false;
    const std::size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) return false;  // a torn line (no newline) does not count
    *line = std::string_view(text).substr(pos, nl - pos);
    pos = nl + 1;
    return true;
  };
  std::string_view line;
  nlohmann::json head;
  if (!next_line(&line)) throw bad(text.empty() ? "empty" : "its header line is torn");
  try {
    head = nlohmann::json::parse(line);
  } catch (const std::exception&) {
    throw bad("first line is not a checkpoint header");
  }
  if (!head.is_object() || head.value("format", "") != kFormat) throw bad("not a scan checkpoint");
  if (head.value("version", 0) != kVersion) {
    throw bad("version " + std::to_string(head.value("version", 0)) + " (this build reads " +
              std::to_string(kVersion) + ")");
  }
  const uint64_t n = head.at("items").get<uint64_t>();
  *config = head.at("config");
  *items = ItemList();
  for (uint64_t i = 0; i < n; ++i) {
    if (!next_line(&line)) throw bad("item list incomplete");
    try {
      const nlohmann::json j = nlohmann::json::parse(line);
      if (j.is_array()) {
        items->add(path_from_json(j.at(0)), j.at(1).get<std::string>());
      } else {
        items->add(path_from_json(j));
      }
    } catch (const std::exception&) {
      throw bad("item " + std::to_string(i) + " unreadable");
    }
  }
  if (!next_line(&line)) throw bad("item list not terminated");
  try {
    if (nlohmann::json::parse(line).at("end_items").get<uint64_t>() != n) throw bad("item count");
  } catch (const Error&) {
    throw;
  } catch (const std::exception&) {
    throw bad("item list not terminated");
  }
  std::size_t good_end = pos;
  last->reset();
  uint64_t commits = 0;
  while (pos < text.size()) {
    if (!next_line(&line)) break;
    try {
      const nlohmann::json j = nlohmann::json::parse(line);
      CheckpointCommit c;
      c.done = j.at("done").get<uint64_t>();
      c.offset = j.at("offset").get<uint64_t>();
      c.elapsed = j.at("elapsed").get<double>();
      c.summary = j.at("summary");
      if (c.done > n) continue;
      *last = std::move(c);
      good_end = pos;
      ++commits;
    } catch (const std::exception&) {
      // a damaged line: ignored; whatever follows it is judged on its own
    }
  }
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd < 0) throw IoError("cannot open checkpoint '" + path + "': " + errno_text());
  if (good_end < text.size()) {
    if (::ftruncate(fd, static_cast<off_t>(good_end)) != 0 || ::fdatasync(fd) != 0) {
      const std::string e = errno_text();
      ::close(fd);
      throw IoError("cannot cut the torn tail of checkpoint '" + path + "': " + e);
    }
  }
  auto cp = std::unique_ptr<Checkpoint>(new Checkpoint(path, fd));
  cp->commits_ = commits;
  return cp;
}

void Checkpoint::commit(const CheckpointCommit& c) {
  const nlohmann::json j{{"done", c.done}, {"offset", c.offset}, {"elapsed", c.elapsed},
                         {"summary", c.summary}};
  write_all(fd_, dump(j) + "\n", "checkpoint '" + path_ + "'");
  if (::fdatasync(fd_) != 0) throw IoError("cannot sync checkpoint '" + path_ + "': " + errno_text());
  ++commits_;
}

}  // namespace hashmatch::scan
