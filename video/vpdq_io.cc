#include "video/vpdq_io.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <fstream>
#include <ostream>

#include "host/common/error.h"
#include "host/common/file_io.h"

namespace hashmatch::video {

std::string format_vpdq_line(const VpdqFrame& f) {
  char ts[64];
  std::snprintf(ts, sizeof ts, "%.3f", f.timestamp);
  return std::to_string(f.frame_number) + "," + std::to_string(f.quality) + "," + f.hash.to_hex() +
         "," + ts;
}

void write_vpdq(std::ostream& out, std::span<const VpdqFrame> frames) {
  for (const VpdqFrame& f : frames) out << format_vpdq_line(f) << '\n';
}

void write_vpdq_file(const std::filesystem::path& path, std::span<const VpdqFrame> frames) {
  std::ofstream out(path);
  if (!out) throw IoError("cannot write " + path.string());
  write_vpdq(out, frames);
  out.flush();
  if (!out) throw IoError("error writing " + path.string());
}

namespace {

// The next line of `text`, consumed with its line end: LF, CRLF or a CR alone (old Mac files).
std::string_view next_line(std::string_view& text) {
  const std::size_t e = text.find_first_of("\r\n");
  const std::string_view line = text.substr(0, e);
  if (e == std::string_view::npos) {
    text = {};
  } else {
    text.remove_prefix(e + (text[e] == '\r' && e + 1 < text.size() && text[e + 1] == '\n' ? 2 : 1));
  }
  return line;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Decimal seconds as the reference prints them ("12.345", also "12" or "1e3"): no sign, no hex
// float, no inf or nan (strtod would take all of those).
bool parse_seconds(std::string_view s, double* out) {
  if (s.empty() || !((s[0] >= '0' && s[0] <= '9') || s[0] == '.')) return false;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out, std::chars_format::general);
  return ec == std::errc() && p == s.data() + s.size();
}

// A field as an error message quotes it: at most 40 bytes ("..." after), control bytes and NUL
// as \xHH (a 20 MB field or a NUL must not make the message unreadable).
std::string quoted(std::string_view s) {
  constexpr std::size_t kMax = 40;
  std::string out = "'";
  for (std::size_t i = 0; i < s.size() && i < kMax; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7f) {
      char b[8];
      std::snprintf(b, sizeof b, "\\x%02x", c);
      out += b;
    } else {
      out += static_cast<char>(c);
    }
  }
  out += s.size() > kMax ? "'... (" + std::to_string(s.size()) + " bytes)" : "'";
  return out;
}

[[noreturn]] void bad_line(std::string_view source, std::size_t line, const std::string& why) {
  throw InvalidArgument(std::string(source) + ":" + std::to_string(line) + ": " + why);
}

}  // namespace

std::vector<VpdqFrame> parse_vpdq(std::string_view text, std::string_view source) {
  struct Row {
    VpdqFrame frame;
    std::size_t line = 0;
  };
  std::vector<Row> rows;
  std::size_t line_no = 0;
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);  // a UTF-8 byte order mark
  while (!text.empty()) {
    std::string_view line = trim(next_line(text));
    ++line_no;
    if (line.empty() || line.front() == '#') continue;
    std::string_view fields[4];
    int n = 0;
    for (;;) {
      const std::size_t c = line.find(',');
      if (n == 4) bad_line(source, line_no, "too many fields (expected frame,quality,pdq[,timestamp])");
      fields[n++] = trim(line.substr(0, c));
      if (c == std::string_view::npos) break;
      line.remove_prefix(c + 1);
    }
    if (n != 3 && n != 4) {
      bad_line(source, line_no, "expected frame,quality,pdq[,timestamp], got " +
                                    std::to_string(n) + " field(s)");
    }
    VpdqFrame f;
    auto parse_int = [&](std::string_view s, auto* v, const char* what) {
      const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *v);
      if (ec != std::errc() || p != s.data() + s.size()) {
        bad_line(source, line_no, std::string("bad ") + what + " " + quoted(s));
      }
    };
    parse_int(fields[0], &f.frame_number, "frame number");
    if (f.frame_number < 0) bad_line(source, line_no, "negative frame number");
    parse_int(fields[1], &f.quality, "quality");
    if (f.quality < 0 || f.quality > 100) {
      bad_line(source, line_no, "quality " + std::to_string(f.quality) + " outside 0..100");
    }
    std::string why;
    if (!Hash256::try_from_hex(fields[2], &f.hash, &why)) bad_line(source, line_no, why);
    if (n == 4) {
      if (!parse_seconds(fields[3], &f.timestamp)) {
        bad_line(source, line_no, "bad timestamp " + quoted(fields[3]));
      }
      if (f.timestamp > kMaxVpdqTimestamp) {
        bad_line(source, line_no,
                 "timestamp " + quoted(fields[3]) + " s outside 0.." +
                     std::to_string(static_cast<int64_t>(kMaxVpdqTimestamp)) + " s");
      }
    }
    rows.push_back({f, line_no});
  }
  // By frame number (a file written in another order matches as the same frames from the store
  // would); the line order among equal numbers is kept for the error below.
  std::stable_sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) {
    return a.frame.frame_number < b.frame.frame_number;
  });
  std::vector<VpdqFrame> out;
  out.reserve(rows.size());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    if (i > 0 && rows[i].frame.frame_number == rows[i - 1].frame.frame_number) {
      throw InvalidArgument(std::string(source) + ": frame " +
                            std::to_string(rows[i].frame.frame_number) + " appears twice (lines " +
                            std::to_string(rows[i - 1].line) + " and " +
                            std::to_string(rows[i].line) + ")");
    }
    out.push_back(rows[i].frame);
  }
  return out;
}

std::vector<VpdqFrame> read_vpdq_file(const std::filesystem::path& path) {
  return parse_vpdq(read_vpdq_text(path), path == "-" ? "<stdin>" : path.string());
}

std::string read_vpdq_text(const std::filesystem::path& path) {
  // POSIX reads: a directory or a read error is an IoError, not an empty file. "-": standard input.
  const bool in = path == "-";
  const std::string name = in ? "<stdin>" : path.string();
  struct Fd {
    int fd;
    bool owned;
    ~Fd() {
      if (owned && fd >= 0) ::close(fd);
    }
  } f{in ? STDIN_FILENO : ::open(path.c_str(), O_RDONLY | O_CLOEXEC), !in};
  if (f.fd < 0) throw IoError("cannot read " + name + ": " + errno_text());
  std::string text;
  char buf[1 << 16];
  for (;;) {
    const ssize_t n = ::read(f.fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw IoError("cannot read " + name + ": " + errno_text());
    if (n == 0) break;
    // ~85 bytes a frame: 256 MiB is three million frames (a month at one hash a second). A
    // device or a runaway file named .txt must not fill the memory.
    if (text.size() + static_cast<std::size_t>(n) > kMaxVpdqFileBytes) {
      throw InvalidArgument(name + ": larger than " +
                            std::to_string(kMaxVpdqFileBytes >> 20) + " MiB: not a vPDQ file");
    }
    text.append(buf, static_cast<std::size_t>(n));
  }
  return text;
}

}  // namespace hashmatch::video
