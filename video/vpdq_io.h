// vPDQ hash files: the reference's line format, one hashed frame per line,
//   frameNumber,quality,pdqHex,timestampSeconds
// with the timestamp printed to 3 decimals (vpdq-hash-video's output; vpdq/sample-hashes). The
// reader also takes the 3-field form `frameNumber,quality,pdqHex` (the Python tools write it;
// timestamp 0), blank lines, '#' comment lines, LF, CRLF or CR line ends and a UTF-8 byte order
// mark. Frames come back ordered by frame number, whatever the file's line order.
#pragma once

#include <filesystem>
#include <iosfwd>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "video/vpdq.h"

namespace hashmatch::video {

// The largest timestamp a vPDQ file may give, in seconds (about 317 years). The reference's frame
// numbers are 32-bit ints, so at one frame per second or more its timestamps stay below 2^31 s;
// the store keeps timestamps as 64-bit microseconds, which holds up to about 9.2e12 s.
inline constexpr double kMaxVpdqTimestamp = 1e10;

// The largest vPDQ file read (InvalidArgument beyond): ~85 bytes a frame, three million frames.
inline constexpr std::size_t kMaxVpdqFileBytes = std::size_t(256) << 20;

// "12,100,e6cf...,0.400"
std::string format_vpdq_line(const VpdqFrame& f);

// Writes one line per frame, in the given order.
void write_vpdq(std::ostream& out, std::span<const VpdqFrame> frames);
void write_vpdq_file(const std::filesystem::path& path, std::span<const VpdqFrame> frames);

// Parses vPDQ text into frames ordered by frame number. Throws InvalidArgument naming `source` and
// the line number on a malformed line (wrong field count, bad number, quality outside 0..100, bad
// hex, a timestamp that is not decimal seconds in 0..kMaxVpdqTimestamp), and naming both lines
// when a frame number appears twice (hash_video never writes that: its numbers only grow; the
// store keeps one frame per number).
std::vector<VpdqFrame> parse_vpdq(std::string_view text, std::string_view source = "<vpdq>");
// The same from a file ("-": standard input, named <stdin>); IoError when it cannot be read
// (missing, a directory, a read error),
// InvalidArgument past kMaxVpdqFileBytes (a device such as /dev/zero named .txt).
std::vector<VpdqFrame> read_vpdq_file(const std::filesystem::path& path);
// The text of such a file, with the same checks (for a caller that also reads its comments).
std::string read_vpdq_text(const std::filesystem::path& path);

}  // namespace hashmatch::video
