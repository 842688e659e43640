// Reading one media file: exact digests streamed over every byte, and the bytes kept in memory for
// decoding only up to the configured limit (a larger file still gets its digests); a video above
// DecodeLimits::max_video_bytes_in_memory is left in its file (the video decoder streams it).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "host/common/digest.h"
#include "host/image/decode.h"

namespace hashmatch {

struct MediaFile {
  std::string path;
  uint64_t size = 0;
  ExactDigests digests;
  MediaFormat format = MediaFormat::kUnknown;
  // The file's bytes, when size <= max_file_bytes; empty otherwise (too_large set), and empty
  // for a video larger than max_video_bytes_in_memory (decoded from its file, too_large unset).
  std::vector<uint8_t> bytes;
  bool too_large = false;
};

// Reads `path` in chunks (digests over everything). A FIFO is read as a stream to its end (empty at
// once when no process holds it open for writing; never waited on). Throws IoError when the file
// can't be read, is not a regular file or FIFO, or holds more than max_file_bytes past its size
// (procfs files say 0: not followed for ever).
MediaFile read_media_file(const std::filesystem::path& path, const DecodeLimits& limits);

// Expands files and directories (recursively, entries sorted by name for a deterministic order)
// into regular files. Unreadable directories, missing paths and broken symbolic links inside a
// walk are reported through `errors` as (path, message) pairs; the walk goes on. A walk passes
// over other special files; a named input that is not a directory is passed on as it is, and
// "-" as /dev/stdin (standard input: a pipe, or a file redirected to it).
std::vector<std::string> expand_paths(const std::vector<std::string>& inputs,
                                      std::vector<std::pair<std::string, std::string>>* errors);

}  // namespace hashmatch
