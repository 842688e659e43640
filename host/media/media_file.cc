#include "host/media/media_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>

#include "host/common/error.h"

namespace hashmatch {
namespace {

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

MediaFile read_media_file(const std::filesystem::path& path, const DecodeLimits& limits) {
  MediaFile mf;
  mf.path = path.string();
  Fd f;
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer, for ever if none
  // comes. Regular files ignore the flag; a FIFO is read as a stream (its flag cleared below).
  f.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (f.fd < 0) throw IoError("cannot open: " + std::string(std::strerror(errno)));
  struct stat st {};
  if (::fstat(f.fd, &st) != 0) throw IoError("cannot stat: " + std::string(std::strerror(errno)));
  const bool fifo = S_ISFIFO(st.st_mode);
  if (!S_ISREG(st.st_mode) && !fifo) {
    throw IoError(S_ISDIR(st.st_mode)    ? "not a regular file (a directory)"
                  : S_ISCHR(st.st_mode)  ? "not a regular file (a character device)"
                  : S_ISBLK(st.st_mode)  ? "not a regular file (a block device)"
                  : S_ISSOCK(st.st_mode) ? "not a regular file (a socket)"
                                         : "not a regular file");
  }
  if (fifo) {
    // A FIFO (or a pipe: `<(command)`): read to its end as a file is, waiting for data while a
    // writer holds it open. With no writer it reads as empty at once.
    const int fl = ::fcntl(f.fd, F_GETFL);
    if (fl < 0 || ::fcntl(f.fd, F_SETFL, fl & ~O_NONBLOCK) != 0) {
      throw IoError("cannot read the FIFO: " + std::string(std::strerror(errno)));
    }
  }
  // A regular file may hold more than its size says (procfs and sysfs files say 0; a file being
  // appended to grows): reading stops this far past the size instead of following it for ever.
  const uint64_t size = uint64_t(st.st_size);
  const uint64_t read_cap =
      fifo || limits.max_file_bytes > UINT64_MAX - size ? UINT64_MAX : size + limits.max_file_bytes;
  bool keep = size <= limits.max_file_bytes;
  bool streamed_video = false;  // decoded from the file: no bytes kept at all
  MultiDigest digest;
  constexpr std::size_t kChunk = 1 << 20;
  std::vector<uint8_t> chunk(kChunk);
  uint64_t total = 0;
  for (;;) {
    const ssize_t n = ::read(f.fd, chunk.data(), kChunk);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw IoError("read error: " + std::string(std::strerror(errno)));
    }
    if (n == 0) break;
    digest.update(chunk.data(), static_cast<std::size_t>(n));
    if (total == 0) {
      mf.format = sniff_media_format({chunk.data(), static_cast<std::size_t>(n)});
      streamed_video = is_video_format(mf.format) && size > limits.max_video_bytes_in_memory;
      if (streamed_video) keep = false;
      if (keep) mf.bytes.reserve(static_cast<std::size_t>(st.st_size));
    }
    total += static_cast<uint64_t>(n);
    if (total > read_cap) {
      throw IoError("the file grows while it is read: more than " +
                    std::to_string(limits.max_file_bytes) + " bytes past its size of " +
                    std::to_string(st.st_size) + " (not read to its end)");
    }
    // Only a file within the limit is kept (one known to be larger was copied up to the limit,
    // with the vector's growth on top, and then thrown away).
    if (keep) mf.bytes.insert(mf.bytes.end(), chunk.begin(), chunk.begin() + n);
    if (total > limits.max_file_bytes && keep) {
      // The file grew past the limit while being read: stop keeping bytes.
      keep = false;
      mf.bytes.clear();
      mf.bytes.shrink_to_fit();
    }
  }
  if (!keep && !streamed_video && total > 0 && total <= limits.max_file_bytes) {
    // Larger than the limit when it was opened, within it when read to its end: it shrank.
    throw IoError("the file changed while it was read (" + std::to_string(st.st_size) + " bytes, then " +
                  std::to_string(total) + ")");
  }
  if (total == 0) mf.format = MediaFormat::kEmpty;
  mf.size = total;
  mf.too_large = total > limits.max_file_bytes;
  mf.digests = digest.finish();
  return mf;
}

std::vector<std::string> expand_paths(const std::vector<std::string>& inputs,
                                      std::vector<std::pair<std::string, std::string>>* errors) {
  namespace fs = std::filesystem;
  std::vector<std::string> out;
  for (const std::string& in : inputs) {
    if (in == "-") {  // standard input: a pipe or a redirected file, read as a FIFO or a file is
      out.push_back("/dev/stdin");
      continue;
    }
    std::error_code ec;
    const fs::file_status st = fs::status(in, ec);
    if (ec || !fs::exists(st)) {
      errors->emplace_back(in, "no such file or directory");
      continue;
    }
    if (!fs::is_directory(st)) {
      out.push_back(in);
      continue;
    }
    std::vector<std::string> found;
    fs::recursive_directory_iterator it(in, fs::directory_options::skip_permission_denied, ec), end;
    if (ec) {
      errors->emplace_back(in, "cannot read directory: " + ec.message());
      continue;
    }
    for (; it != end; it.increment(ec)) {
      if (ec) {
        errors->emplace_back(in, "error while walking: " + ec.message());
        break;
      }
      std::error_code fec;
      if (it->is_regular_file(fec)) {
        found.push_back(it->path().string());
      } else if (it->is_symlink(fec) && !fs::exists(it->path(), fec)) {
        // As `scan` records it; other special files (FIFOs, devices, sockets, links to
        // directories) are passed over in a walk, as there.
        errors->emplace_back(it->path().string(), "broken symbolic link");
      }
    }
    std::sort(found.begin(), found.end());
    out.insert(out.end(), found.begin(), found.end());
  }
  return out;
}

}  // namespace hashmatch
