#include "host/scan/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>

#include "host/common/error.h"

namespace hashmatch::scan {

ProgressMode parse_progress_mode(std::string_view s) {
  if (s == "auto") return ProgressMode::kAuto;
  if (s == "bar") return ProgressMode::kBar;
  if (s == "lines") return ProgressMode::kLines;
  if (s == "off" || s == "none") return ProgressMode::kOff;
  throw InvalidArgument("--progress must be auto, bar, lines or off, got '" + std::string(s) + "'");
}

Progress::Progress(ProgressMode mode, double line_interval_seconds, FILE* out)
    : mode_(mode), interval_(line_interval_seconds > 0 ? line_interval_seconds : 10.0), out_(out) {
  if (mode_ == ProgressMode::kAuto) {
    mode_ = ::isatty(::fileno(out_)) ? ProgressMode::kBar : ProgressMode::kLines;
  }
  start_ = last_ = Clock::now();
}

std::string Progress::format_eta(double s) {
  if (!std::isfinite(s) || s < 0 || s > 1e8) return "--";
  const long long t = std::llround(s);
  char buf[32];
  if (t >= 3600) {
    std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", t / 3600, (t / 60) % 60, t % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%lld:%02lld", t / 60, t % 60);
  }
  return buf;
}

std::string Progress::line(const ProgressSnapshot& s, double elapsed) const {
  const double fps = elapsed > 0 ? double(s.session_files) / elapsed : 0;
  const double mbps = elapsed > 0 ? double(s.session_bytes) / 1e6 / elapsed : 0;
  const double pct = s.total ? 100.0 * double(s.done) / double(s.total) : 100.0;
  const double eta = fps > 0 ? double(s.total - std::min(s.done, s.total)) / fps : -1;
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "%llu/%llu files (%.1f%%)  %.1f files/s  %.1f MB/s  %llu matched  %llu failed  ETA %s",
                (unsigned long long)s.done, (unsigned long long)s.total, pct, fps, mbps,
                (unsigned long long)s.matched, (unsigned long long)s.failed,
                s.done >= s.total ? "0:00" : format_eta(eta).c_str());
  return buf;
}

void Progress::draw(const ProgressSnapshot& s) {
  const double elapsed = std::chrono::duration<double>(Clock::now() - start_).count();
  if (mode_ == ProgressMode::kBar) {
    constexpr int kWidth = 24;
    const double frac = s.total ? std::min(1.0, double(s.done) / double(s.total)) : 1.0;
    const int fill = static_cast<int>(frac * kWidth);
    std::string bar(static_cast<std::size_t>(fill), '#');
    bar.append(static_cast<std::size_t>(kWidth - fill), '.');
    std::fprintf(out_, "\r[%s] %s\x1b[K", bar.c_str(), line(s, elapsed).c_str());
  } else {
    std::fprintf(out_, "scan: %s\n", line(s, elapsed).c_str());
  }
  std::fflush(out_);
  drawn_ = true;
}

void Progress::update(const ProgressSnapshot& s) {
  if (mode_ == ProgressMode::kOff) return;
  const auto now = Clock::now();
  const double since = std::chrono::duration<double>(now - last_).count();
  const double due = mode_ == ProgressMode::kBar ? 0.2 : interval_;
  if (since < due) return;
  last_ = now;
  draw(s);
}

void Progress::finish(const ProgressSnapshot& s) {
  if (mode_ == ProgressMode::kOff) return;
  if (mode_ == ProgressMode::kBar) {
    draw(s);
    std::fputc('\n', out_);
    std::fflush(out_);
  } else if (drawn_ || std::chrono::duration<double>(Clock::now() - start_).count() >= 1.0) {
    draw(s);
  }
}

}  // namespace hashmatch::scan
