#include "host/common/file_io.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "host/common/error.h"

namespace hashmatch {

std::string errno_text() { return std::strerror(errno); }

void write_all(int fd, std::string_view data, const std::string& what) {
  const char* p = data.data();
  std::size_t n = data.size();
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      throw IoError("cannot write " + what + ": " + errno_text());
    }
    p += w;
    n -= static_cast<std::size_t>(w);
  }
}

void sync_directory_of(const std::string& path) {
  std::filesystem::path dir = std::filesystem::path(path).parent_path();
  if (dir.empty()) dir = ".";
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw IoError("cannot open directory '" + dir.string() + "': " + errno_text());
  const int rc = ::fsync(fd);
  const int err = errno;
  const std::string e = rc != 0 ? errno_text() : "";
  ::close(fd);
  if (rc != 0 && err != EINVAL) throw IoError("cannot sync directory '" + dir.string() + "': " + e);
}

void replace_file(const std::string& link_or_path, const std::string& tmp_suffix,
                  const std::string& what,
                  const std::function<void(int fd, const std::string& tmp)>& write) {
  // A symbolic link is followed, link by link, to the file it names (which may not exist yet):
  // that file is replaced and the link stays (renaming over the link replaced it by a file and
  // left its target as it was).
  std::filesystem::path target = link_or_path;
  std::error_code ec;
  for (int hops = 0; hops < 40 && std::filesystem::is_symlink(target, ec); ++hops) {
    const std::filesystem::path t = std::filesystem::read_symlink(target, ec);
    if (ec) break;
    target = t.is_absolute() ? t : target.parent_path() / t;
  }
  const std::string path = target.string();
  const std::string tmp = path + tmp_suffix;
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw IoError("cannot create " + what + "'" + tmp + "': " + errno_text());
  try {
    write(fd, tmp);
    if (::fsync(fd) != 0) throw IoError("cannot sync " + what + "'" + tmp + "': " + errno_text());
  } catch (...) {
    ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string e = errno_text();
    ::unlink(tmp.c_str());
    throw IoError("cannot rename " + what + "'" + tmp + "' to '" + path + "': " + e);
  }
  sync_directory_of(path);
}

}  // namespace hashmatch
