// Progress of a scan on standard error: a bar redrawn in place on a terminal, plain periodic lines
// otherwise (logs, CI), nothing when switched off.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace hashmatch::scan {

enum class ProgressMode { kAuto, kBar, kLines, kOff };
ProgressMode parse_progress_mode(std::string_view s);  // auto | bar | lines | off

struct ProgressSnapshot {
  uint64_t done = 0;         // items done (all sessions)
  uint64_t total = 0;        // items in the scan
  uint64_t session_files = 0;  // items done in this session
  uint64_t session_bytes = 0;
  uint64_t matched = 0;      // files matched (all sessions)
  uint64_t failed = 0;
};

class Progress {
 public:
  // kAuto: a bar when `out` is a terminal (isatty), else lines every `line_interval` seconds.
  Progress(ProgressMode mode, double line_interval_seconds, FILE* out = stderr);
  // Draws when due (bar: 5 times a second; lines: every interval). Cheap when not due.
  void update(const ProgressSnapshot& s);
  // Final state (the bar's line is ended).
  void finish(const ProgressSnapshot& s);
  ProgressMode mode() const { return mode_; }

  // "1:02:03", "4:05", "--" (unknown)
  static std::string format_eta(double seconds);
  // The text of one progress line (no terminal control characters).
  std::string line(const ProgressSnapshot& s, double elapsed_seconds) const;

 private:
  using Clock = std::chrono::steady_clock;
  void draw(const ProgressSnapshot& s);
  ProgressMode mode_;
  double interval_;
  FILE* out_;
  Clock::time_point start_, last_;
  bool drawn_ = false;
};

}  // namespace hashmatch::scan
