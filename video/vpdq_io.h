// vPDQ hash files: the reference's line format, one hashed frame per line,
//   frameNumber,quality,pdqHex,timestampSeconds
// with the timestamp printed to 3 decimals (vpdq-hash-video's output; vpdq/sample-hashes). The
// reader also takes the 3-field form `frameNumber,quality,pdqHex` (the Python tools write it;
// timestamp 0), blank lines, '#' comment lines and CRLF line ends.
#pragma once

#include <filesystem>
#include <iosfwd>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "video/vpdq.h"

namespace hashmatch::video {

// "12,100,e6cf...,0.400"
std::string format_vpdq_line(const VpdqFrame& f);

// Writes one line per frame, in the given order.
void write_vpdq(std::ostream& out, std::span<const VpdqFrame> frames);
void write_vpdq_file(const std::filesystem::path& path, std::span<const VpdqFrame> frames);

// Parses vPDQ text. Throws InvalidArgument naming `source` and the line number on a malformed line
// (wrong field count, bad number, quality outside 0..100, bad hex).
std::vector<VpdqFrame> parse_vpdq(std::string_view text, std::string_view source = "<vpdq>");
std::vector<VpdqFrame> read_vpdq_file(const std::filesystem::path& path);  // + IoError

}  // namespace hashmatch::video
