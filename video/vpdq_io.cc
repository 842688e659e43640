#include "video/vpdq_io.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <ostream>
#include <sstream>

#include "host/common/error.h"

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

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

[[noreturn]] void bad_line(std::string_view source, std::size_t line, const std::string& why) {
  throw InvalidArgument(std::string(source) + ":" + std::to_string(line) + ": " + why);
}

}  // namespace

std::vector<VpdqFrame> parse_vpdq(std::string_view text, std::string_view source) {
  std::vector<VpdqFrame> out;
  std::size_t line_no = 0;
  while (!text.empty()) {
    const std::size_t nl = text.find('\n');
    std::string_view line = trim(text.substr(0, nl));
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
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
        bad_line(source, line_no, std::string("bad ") + what + " '" + std::string(s) + "'");
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
      const std::string ts(fields[3]);
      char* end = nullptr;
      f.timestamp = std::strtod(ts.c_str(), &end);
      if (ts.empty() || *end || !std::isfinite(f.timestamp) || f.timestamp < 0) {
        bad_line(source, line_no, "bad timestamp '" + ts + "'");
      }
    }
    out.push_back(f);
  }
  return out;
}

std::vector<VpdqFrame> read_vpdq_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError("cannot read " + path.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  return parse_vpdq(ss.str(), path.string());
}

}  // namespace hashmatch::video
