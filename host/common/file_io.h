// POSIX file writing with the error handling every durable output here needs: whole writes
// (EINTR retried), directory fsync after a rename, and files replaced whole or not at all. Used
// by the scan output and checkpoint (host/scan/) and the cluster report and queue (host/triage/).
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace hashmatch {

// strerror(errno), taken at once (before anything else can change errno).
std::string errno_text();

// Writes all of `data` to `fd`, retrying short writes and EINTR. Throws IoError "cannot write
// <what>: <reason>".
void write_all(int fd, std::string_view data, const std::string& what);

// fsync of the directory holding `path` (after a rename in it; EINVAL, a file system that cannot
// sync directories, is not an error). Throws IoError.
void sync_directory_of(const std::string& path);

// Replaces `path` whole (through symbolic links: the file a link names, the link staying):
// `write(fd, tmp)` fills `tmp` = path + tmp_suffix, which is fsynced, renamed over `path`, and the
// directory fsynced. On any error (IoError "cannot create|sync|rename
// <what>'<tmp>' ...", or what `write` throws) the temporary file is removed and `path` is left as
// it was. `what` prefixes the file names in messages ("checkpoint " or empty).
void replace_file(const std::string& path, const std::string& tmp_suffix, const std::string& what,
                  const std::function<void(int fd, const std::string& tmp)>& write);

}  // namespace hashmatch
