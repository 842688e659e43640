#include "host/scan/output.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "host/common/error.h"
#include "host/common/file_io.h"

namespace hashmatch::scan {
namespace {

constexpr std::size_t kBufferBytes = 1 << 20;

}  // namespace

OutputFile::OutputFile(const std::string& path, uint64_t keep_bytes) : path_(path) {
  buf_.reserve(kBufferBytes);
  if (path.empty() || path == "-") {
    stdout_ = true;
    fd_ = STDOUT_FILENO;
    path_ = "-";
    if (keep_bytes != 0) throw InvalidArgument("standard output cannot be resumed");
    return;
  }
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw IoError("cannot open output '" + path + "': " + errno_text());
  struct stat st {};
  if (::fstat(fd_, &st) != 0) {
    const std::string e = errno_text();
    ::close(fd_);
    throw IoError("cannot stat output '" + path + "': " + e);
  }
  if (!S_ISREG(st.st_mode)) {
    // A pipe, FIFO, terminal or /dev/stdout: written as it is, never truncated nor resumed.
    if (keep_bytes != 0) {
      ::close(fd_);
      throw InvalidArgument("output '" + path + "' is not a regular file: it cannot be resumed");
    }
    stream_ = true;
    return;
  }
  if (uint64_t(st.st_size) < keep_bytes) {
    ::close(fd_);
    throw Error("output '" + path + "' has " + std::to_string(st.st_size) +
                " bytes but the checkpoint records " + std::to_string(keep_bytes) +
                ": it was changed or replaced since; start a new scan (new checkpoint)");
  }
  if (::ftruncate(fd_, static_cast<off_t>(keep_bytes)) != 0) {
    const std::string e = errno_text();
    ::close(fd_);
    throw IoError("cannot truncate output '" + path + "': " + e);
  }
  if (::lseek(fd_, static_cast<off_t>(keep_bytes), SEEK_SET) < 0) {
    const std::string e = errno_text();
    ::close(fd_);
    throw IoError("cannot seek output '" + path + "': " + e);
  }
  offset_ = keep_bytes;
}

OutputFile::~OutputFile() {
  try {
    flush();
  } catch (...) {
  }
  if (fd_ >= 0 && !stdout_) ::close(fd_);
}

void OutputFile::write(std::string_view data) {
  if (buf_.size() + data.size() > kBufferBytes) flush();
  if (data.size() >= kBufferBytes) {
    write_all(fd_, data, "output '" + path_ + "'");
  } else {
    buf_.append(data);
  }
  offset_ += data.size();
}

void OutputFile::flush() {
  if (buf_.empty()) return;
  write_all(fd_, buf_, "output '" + path_ + "'");
  buf_.clear();
}

void OutputFile::sync() {
  flush();
  if (::fdatasync(fd_) != 0 && errno != EINVAL && errno != EROFS && !stdout_ && !stream_) {
    throw IoError("cannot sync output '" + path_ + "': " + errno_text());
  }
}

void OutputFile::truncate(uint64_t bytes) {
  if (stdout_ || stream_) throw InvalidArgument("output '" + path_ + "' cannot be truncated");
  flush();
  if (::ftruncate(fd_, static_cast<off_t>(bytes)) != 0 ||
      ::lseek(fd_, static_cast<off_t>(bytes), SEEK_SET) < 0) {
    throw IoError("cannot truncate output '" + path_ + "': " + errno_text());
  }
  offset_ = bytes;
}

std::string OutputFile::read_from(const std::string& path, uint64_t from) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return {};
    throw IoError("cannot open '" + path + "': " + errno_text());
  }
  std::string out;
  char buf[1 << 16];
  off_t pos = static_cast<off_t>(from);
  for (;;) {
    const ssize_t n = ::pread(fd, buf, sizeof buf, pos);
    if (n < 0) {
      if (errno == EINTR) continue;
      const std::string e = errno_text();
      ::close(fd);
      throw IoError("cannot read '" + path + "': " + e);
    }
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
    pos += n;
  }
  ::close(fd);
  return out;
}

}  // namespace hashmatch::scan
