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
  f.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (f.fd < 0) throw IoError("cannot open: " + std::string(std::strerror(errno)));
  struct stat st {};
  if (::fstat(f.fd, &st) != 0) throw IoError("cannot stat: " + std::string(std::strerror(errno)));
  if (!S_ISREG(st.st_mode)) throw IoError("not a regular file");
  bool keep = uint64_t(st.st_size) <= limits.max_file_bytes;
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
      mf.format = sniff_format({chunk.data(), static_cast<std::size_t>(n)});
      streamed_video = is_video_format(mf.format) &&
                       uint64_t(st.st_size) > limits.max_video_bytes_in_memory;
      if (streamed_video) keep = false;
      if (keep) mf.bytes.reserve(static_cast<std::size_t>(st.st_size));
    }
    total += static_cast<uint64_t>(n);
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
      if (it->is_regular_file(fec)) found.push_back(it->path().string());
    }
    std::sort(found.begin(), found.end());
    out.insert(out.end(), found.begin(), found.end());
  }
  return out;
}

}  // namespace hashmatch
