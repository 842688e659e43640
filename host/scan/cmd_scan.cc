// hashmatch scan: bulk backlog rescan against hash lists, resumable and shardable.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <set>
#include <string>

#include "host/cli/args.h"
#include "host/cli/commands.h"
#include "host/common/error.h"
#include "host/common/parallel.h"
#include "host/scan/commands.h"
#include "host/scan/list_scan_matcher.h"
#include "host/scan/pdq_stage.h"
#include "host/scan/scanner.h"
#ifdef HM_SCAN_WITH_TRIAGE
#include "host/triage/cluster_cli.h"
#endif

namespace hashmatch::cli {
namespace {

constexpr const char* kUsage =
    "usage: hashmatch scan [--db PATH [--list NAME]...] [--output FILE] [--checkpoint FILE]\n"
    "                      [--shard i/n] [options] (PATH... | --manifest FILE)\n"
    "  Hashes every file under PATHs (directories walked, sorted) or named in a manifest (one "
    "path\n"
    "  per line, '-' for standard input), images and videos recognised by content, and matches\n"
    "  them against the hash lists of the database (default: all lists). One JSON line per file,\n"
    "  in a deterministic order: path, size, md5, sha1, sha256, pdq, pdq_quality (vpdq for\n"
    "  videos), matches [{list, id, algo, hash, distance, variant, labels, added}], or error and\n"
    "  error_reason. A summary (files, bytes, matched, failed by reason, throughput) goes to\n"
    "  standard error, last as one JSON line {\"summary\": ...}, and to the summary file.\n"
    "  Exit code: 0 scan complete (per-file failures are in the results), 130 interrupted\n"
    "  (resumable with a checkpoint), 1 fatal error (an unusable checkpoint or another scan's, an\n"
    "  output changed since, I/O), 2 usage error. docs/scan.md has the details.\n"
    "inputs and outputs:\n"
    "  --manifest FILE        paths to scan, one per line (repeatable; '-': standard input)\n"
    "  --output FILE          result lines (default: standard output)\n"
    "  --summary FILE         summary JSON (default: OUTPUT.summary.json when --output is a file)\n"
    "  --checkpoint FILE      resumable scan: created on the first run; running the same command\n"
    "                         again continues after the last finished file (needs --output, a\n"
    "                         regular file other than the checkpoint)\n"
    "  --checkpoint-interval S  seconds between checkpoint commits (default 1)\n"
    "  --shard i/n            only the items of shard i (0-based) of n: a stable hash of each\n"
    "                         path relative to its input decides (docs/scan.md)\n"
    "matching:\n"
    "  --db PATH              hash-list database (hashmatch list ...); without it: hashes only\n"
    "  --list NAME            match against this list (repeatable; default: all lists)\n"
    "  --threshold T          PDQ threshold for every list instead of each list's own (0..256)\n"
    "  --min-quality Q        PDQ/vPDQ hashes of lower quality are not matched (default 50)\n"
    "  --dihedral             also match the 8 rotations/flips of each image (pdq_dihedral)\n"
    "hashing:\n"
    "  --backend B            auto (GPU when there is one, default), cpu or cuda: PDQ hashing and\n"
    "                         the PDQ matcher\n"
    "  --jpeg-decoder D       cpu (libjpeg-turbo, bit-exact with reference lists; default) or gpu\n"
    "                         (nvJPEG: faster, hashes may differ by a few bits)\n"
    "  --batch N              images per GPU batch (default 256)\n"
    "  --jobs N               decode workers (default: all cores, or HASHMATCH_THREADS)\n"
    "  --window N             files between dispatch and output (default max(1024, 64 x jobs))\n"
    "  --pdq-prescale N       0 (default, full resolution) or 512 (reference CLI pipeline)\n"
    "  --max-file-bytes N     images larger than this get exact hashes only (default 256 MiB;\n"
    "                         videos are streamed from their file whatever their size)\n"
    "  --max-pixels N         images with more pixels are refused from their header\n"
    "videos (vPDQ; as `hashmatch hash`):\n"
    "  --vpdq-seconds-per-hash S, --vpdq-every-frame, --vpdq-size N, --vpdq-keyframes-only,\n"
    "  --vpdq-rotate, --video-decoder auto|cpu|cuda, --video-pdq auto|cpu|cuda,\n"
    "  --video-threads N, --video-time-budget S, --video-max-seconds S\n"
    "progress:\n"
    "  --progress M           auto (bar on a terminal, lines otherwise; default), bar, lines, off\n"
    "  --progress-interval S  seconds between progress lines (default 10)\n"
    "  --quiet                no progress and no human-readable summary (the JSON line stays)\n";

std::atomic<bool> g_stop{false};

extern "C" void on_signal(int sig) {
  // The first SIGINT or SIGTERM stops the scan; the next of either kind takes the default action
  // (ends the process at once). SA_RESETHAND would reset only the handler of the signal received,
  // so a SIGTERM after Ctrl-C would have waited for the files in flight too.
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  sigaction(SIGINT, &dfl, nullptr);
  sigaction(SIGTERM, &dfl, nullptr);
  g_stop.store(true);
  const char msg[] =
      "\nhashmatch scan: stopping after the files in flight (again to abort at once)\n";
  ssize_t rc = ::write(STDERR_FILENO, msg, sizeof msg - 1);
  (void)rc;
  (void)sig;
}

void install_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  // Neither signal interrupts the handler of the other (it resets both).
  sigaddset(&sa.sa_mask, SIGINT);
  sigaddset(&sa.sa_mask, SIGTERM);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

std::string human_bytes(double b) {
  const char* units[] = {"B", "KB", "MB", "GB", "TB"};
  int u = 0;
  while (b >= 1000 && u < 4) {
    b /= 1000;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u ? "%.2f %s" : "%.0f %s", b, units[u]);
  return buf;
}

void print_human_summary(const scan::ScanReport& r, const scan::ScanOptions& o,
                         const std::string& summary_path) {
  const auto& c = r.counters;
  const double secs = r.session_seconds > 0 ? r.session_seconds : 1e-9;
  std::fprintf(stderr, "\nscan %s: %llu of %llu files%s\n",
               r.complete ? "complete" : "interrupted", (unsigned long long)r.done,
               (unsigned long long)r.items, o.shard.all() ? "" : (" (shard " + o.shard.to_string() + ")").c_str());
  std::fprintf(stderr, "  this run: %llu files, %s in %.2f s: %.1f files/s, %.1f MB/s (%s)\n",
               (unsigned long long)r.session_files, human_bytes(double(r.session_bytes)).c_str(),
               r.session_seconds, double(r.session_files) / secs,
               double(r.session_bytes) / 1e6 / secs,
               r.pdq_stage.empty() ? o.pdq_backend.c_str() : r.pdq_stage.c_str());
  if (r.resumed) {
    std::fprintf(stderr, "  resumed at file %llu (%llu result lines salvaged after the last commit)\n",
                 (unsigned long long)r.resumed_from, (unsigned long long)r.salvaged);
  }
  std::fprintf(stderr, "  total: %llu files, %s; hashed %llu (%llu images, %llu videos), %llu exact only\n",
               (unsigned long long)c.files, human_bytes(double(c.bytes)).c_str(),
               (unsigned long long)c.hashed, (unsigned long long)c.images,
               (unsigned long long)c.videos, (unsigned long long)c.exact_only);
  std::string by_list;
  for (const auto& [l, n] : c.matched_by_list) {
    by_list += (by_list.empty() ? "" : ", ") + l + " " + std::to_string(n);
  }
  std::fprintf(stderr, "  matched: %llu files, %llu matches%s%s%s\n", (unsigned long long)c.matched,
               (unsigned long long)c.matches, by_list.empty() ? "" : " (", by_list.c_str(),
               by_list.empty() ? "" : ")");
  std::string reasons;
  for (const auto& [k, n] : c.failed_by_reason) {
    reasons += (reasons.empty() ? "" : ", ") + k + " " + std::to_string(n);
  }
  std::fprintf(stderr, "  failed: %llu%s%s%s\n", (unsigned long long)c.failed,
               reasons.empty() ? "" : " (", reasons.c_str(), reasons.empty() ? "" : ")");
  std::fprintf(stderr, "  output: %s%s%s\n", o.output.empty() ? "-" : o.output.c_str(),
               summary_path.empty() ? "" : "  summary: ", summary_path.c_str());
  if (r.finish.is_object()) {
    const auto& f = r.finish;
    std::fprintf(stderr, "  clusters: %llu files, %llu unique clusters: %llu known, %llu new",
                 (unsigned long long)f.value("files", 0ull),
                 (unsigned long long)f.value("unique_clusters", 0ull),
                 (unsigned long long)f.value("known_clusters", 0ull),
                 (unsigned long long)f.value("new_clusters", 0ull));
    if (f.contains("new_clusters_seen_before")) {
      std::fprintf(stderr, " (%llu seen before)",
                   (unsigned long long)f.value("new_clusters_seen_before", 0ull));
    }
    std::fprintf(stderr, "; %llu not clustered (bad or unhashable)\n",
                 (unsigned long long)f.value("unclustered", 0ull));
  } else if (r.finish_pending) {
    std::fprintf(stderr, "  clusters: pending (the scan is incomplete)\n");
  }
  if (!r.complete && !o.checkpoint.empty()) {
    std::fprintf(stderr, "  run the same command again to resume (checkpoint %s)\n",
                 o.checkpoint.c_str());
  }
}

}  // namespace

int cmd_scan(const std::vector<std::string>& argv) {
  std::set<std::string> values = {
      "db",          "list",         "output",         "summary",   "checkpoint",
      "checkpoint-interval", "shard", "manifest",      "threshold", "min-quality",
      "backend",     "jpeg-decoder", "batch",          "jobs",      "pdq-prescale",
      "max-file-bytes", "max-pixels", "progress",      "progress-interval", "window"};
  std::set<std::string> flags = {"dihedral", "quiet", "help"};
  add_video_option_names(&values, &flags);
#ifdef HM_SCAN_WITH_TRIAGE
  triage::add_cluster_option_names(triage::ClusterCommand::kScan, &values, &flags);
  const char* cluster_usage = triage::cluster_options_usage(triage::ClusterCommand::kScan);
#else
  const char* cluster_usage = "";
#endif
  Args args(argv, values, flags);
  if (args.flag("help")) {
    std::printf("%sclustering (docs/triage.md):\n%s", kUsage, cluster_usage);
    return 0;
  }
  // First: a signal during start-up (opening lists, walking) must stop the scan cleanly too.
  install_handlers();
  scan::ScanOptions o;
  o.paths = args.positional();
  o.manifests = args.get_all("manifest");
  if (o.paths.empty() && o.manifests.empty()) {
    std::fprintf(stderr, "%s", kUsage);
    return 2;
  }
  if (auto s = args.get("shard")) o.shard = scan::parse_shard(*s);
  o.output = args.get_or("output", "-");
  o.checkpoint = args.get_or("checkpoint", "");
  o.hash.limits = decode_limits_from_env();
  o.hash.limits.max_file_bytes = static_cast<uint64_t>(args.get_int(
      "max-file-bytes", static_cast<long long>(o.hash.limits.max_file_bytes), 1, 1ll << 40));
  o.hash.limits.max_pixels = static_cast<uint64_t>(
      args.get_int("max-pixels", static_cast<long long>(o.hash.limits.max_pixels), 1, 1ll << 40));
  o.hash.pdq_prescale = static_cast<int>(args.get_int("pdq-prescale", 0, 0, 1 << 16));
  if (o.hash.pdq_prescale != 0 && o.hash.pdq_prescale < 64) {
    throw InvalidArgument("--pdq-prescale must be 0 or at least 64");
  }
  o.hash.dihedral = args.flag("dihedral");
  parse_video_options(args, &o.hash.video);
  o.jobs = static_cast<int>(args.get_int("jobs", default_jobs(), 1, 4096));
  o.window = static_cast<std::size_t>(args.get_int("window", 0, 0, 1 << 24));
  const bool quiet = args.flag("quiet");
  o.progress = quiet ? scan::ProgressMode::kOff
                     : scan::parse_progress_mode(args.get_or("progress", "auto"));
  auto get_double = [&](const char* name, double fallback, double lo, double hi) {
    const auto v = args.get(name);
    if (!v) return fallback;
    char* end = nullptr;
    const double x = std::strtod(v->c_str(), &end);
    if (v->empty() || *end || !(x >= lo && x <= hi)) {
      throw InvalidArgument(std::string("--") + name + " must be a number in [" +
                            std::to_string(lo) + ", " + std::to_string(hi) + "]");
    }
    return x;
  };
  o.progress_interval = get_double("progress-interval", 10.0, 0.1, 86400);
  o.checkpoint_interval = get_double("checkpoint-interval", 1.0, 0.01, 3600);

  scan::PdqStageOptions so;
  so.backend = args.get_or("backend", "auto");
  so.jpeg_decoder = args.get_or("jpeg-decoder", "cpu");
  so.batch = static_cast<int>(args.get_int("batch", 256, 1, 65536));
  so.prescale = o.hash.pdq_prescale;

  std::unique_ptr<scan::ScanMatcher> matcher;
  const auto db = args.get("db");
  if (!db && !args.get_all("list").empty()) throw InvalidArgument("--list needs --db");
  scan::ListScanOptions lo;
  if (db) {
    lo.db = *db;
    lo.lists = args.get_all("list");
    if (args.get("threshold")) lo.threshold = static_cast<int>(args.get_int("threshold", 31, 0, 256));
    lo.min_quality = static_cast<int>(args.get_int("min-quality", 50, 0, 100));
    lo.backend = so.backend;
    lo.threads = o.jobs;
  }
  // What changes the results is part of the checkpoint's identity.
  o.result_config = {{"db", db ? *db : ""},
                     {"lists", lo.lists},
                     {"threshold", lo.threshold ? *lo.threshold : -1},
                     {"min_quality", lo.min_quality},
                     {"jpeg_decoder", so.jpeg_decoder},
                     {"vpdq_seconds_per_hash", o.hash.video.seconds_per_hash},
                     {"vpdq_size", o.hash.video.size},
                     {"vpdq_keyframes_only", o.hash.video.keyframes_only},
                     {"vpdq_rotate", o.hash.video.apply_rotation},
                     // Videos cut at the limit, and the GPU PDQ sink (not vPDQ-exact). Not the
                     // decoder (the same frames) nor the time budget (an operational limit: the
                     // videos that ran out are recorded failures, rescanned on their own).
                     {"video_max_seconds", o.hash.video.max_duration_seconds},
                     {"video_pdq", o.hash.video.pdq}};
  std::string summary_path = args.get_or("summary", "");
  if (summary_path.empty() && o.output != "-") {
    // Next to an output file; not next to a pipe or device (/dev/stdout.summary.json).
    struct stat st {};
    if (::stat(o.output.c_str(), &st) != 0 || S_ISREG(st.st_mode)) {
      summary_path = o.output + ".summary.json";
    }
  }

  std::string why;
  // --cluster: the finishing step clusters the whole output (every session's lines) in place.
  // Standard output cannot be rewritten: the lines go to a temporary file first, and to standard
  // output once clustered.
  const bool cluster = args.flag("cluster");
  std::string cluster_tmp;
  std::string cluster_stream;  // a pipe, FIFO or device output, written once clustered
#ifdef HM_SCAN_WITH_TRIAGE
  if (cluster) {
    const triage::ClusterRunOptions copts =
        triage::parse_cluster_options(args, triage::ClusterCommand::kScan);
    if (o.output == "-" && !o.checkpoint.empty()) {
      throw InvalidArgument("--checkpoint needs --output FILE (standard output cannot be resumed)");
    }
    // A pipe, FIFO or device (/dev/stdout, >(gzip > x.gz)) cannot be read back and rewritten
    // either: as standard output, the lines go to a temporary file and then to it, clustered
    // (reading a FIFO back hung the scan for ever). A symbolic link to a file is rewritten at its
    // target (replace_file follows it).
    struct stat out_st {};
    if (o.output != "-" && ::stat(o.output.c_str(), &out_st) == 0 && !S_ISREG(out_st.st_mode)) {
      if (!o.checkpoint.empty()) {
        throw InvalidArgument("--checkpoint needs --output FILE, a regular file");
      }
      cluster_stream = o.output;
    }
    if (o.output == "-" || !cluster_stream.empty()) {
      const char* dir = std::getenv("TMPDIR");
      std::string tmpl = std::string(dir && *dir ? dir : "/tmp") + "/hashmatch-scan-XXXXXX";
      const int fd = ::mkstemp(tmpl.data());
      if (fd < 0) throw IoError("cannot create a temporary file in " + tmpl);
      ::close(fd);
      o.output = cluster_tmp = tmpl;
    }
    o.finish = [copts](const std::string& output) {
      return triage::cluster_scan_output(output, copts);
    };
  } else {
    for (const char* name : {"report", "queue", "cluster-threshold", "memory-db",
                             "memory-max-age-days", "memory-max-entries"}) {
      if (args.get(name)) throw InvalidArgument(std::string("--") + name + " needs --cluster");
    }
  }
#else
  if (cluster) throw InvalidArgument("--cluster: this build has no triage module");
#endif
  std::unique_ptr<scan::BatchPdqStage> stage = scan::make_pdq_stage(so, &why);
  o.pdq_backend = why;
  double matcher_load_seconds = 0;
  if (db) {
    const auto t0 = std::chrono::steady_clock::now();
    matcher = scan::make_list_scan_matcher(lo);
    matcher_load_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }

  o.stop = &g_stop;
  scan::ScanReport rep;
  try {
    rep = scan::run_scan(o, matcher.get(), stage.get());
#ifdef HM_SCAN_WITH_TRIAGE
    if (rep.finish_recorded && (args.get("report") || args.get("queue"))) {
      // The scan was complete and clustered before this run: nothing was clustered again, so no
      // report or queue was written (it exited 0 without saying so).
      std::fprintf(stderr,
                   "hashmatch scan: the scan was already complete and clustered: --report/--queue "
                   "not written (hashmatch cluster %s --report FILE --queue FILE writes them)\n",
                   o.output.c_str());
    }
#endif
    if (!cluster_tmp.empty()) {
      // The clustered lines to standard output, or to the pipe, FIFO or device.
      std::ifstream in(cluster_tmp, std::ios::binary);
      if (!in) throw IoError("cannot read the temporary file " + cluster_tmp);
      if (cluster_stream.empty()) {
        std::cout << in.rdbuf();
        std::cout.flush();
      } else {
        std::ofstream stream(cluster_stream, std::ios::binary);
        if (!stream) throw IoError("cannot write " + cluster_stream);
        stream << in.rdbuf();
        if (!stream.flush()) throw IoError("cannot write " + cluster_stream);
      }
    }
    if (!cluster_tmp.empty()) {
      ::unlink(cluster_tmp.c_str());
      o.output = cluster_stream.empty() ? "-" : cluster_stream;
    }
  } catch (...) {
    if (!cluster_tmp.empty()) ::unlink(cluster_tmp.c_str());
    throw;
  }
  nlohmann::json summary = rep.to_json(o);
  if (db) summary["summary"]["matcher_load_seconds"] = matcher_load_seconds;
  if (cluster) {
    nlohmann::json& s = summary["summary"];
    if (rep.finish.is_object()) {
      // files / unique_clusters / known_clusters / new_clusters next to the scan's own counters
      // (its `files` counts the same result lines), the whole clustering summary under "cluster".
      for (const char* k : {"unique_clusters", "known_clusters", "new_clusters"}) {
        if (rep.finish.contains(k)) s[k] = rep.finish[k];
      }
      s["cluster"] = rep.finish;
    } else {
      s["cluster"] = {{"pending", true},
                      {"reason", "the scan is incomplete: resume it to cluster every result"}};
    }
  }
  if (!summary_path.empty()) scan::write_summary_file(summary_path, summary);
  if (!quiet) print_human_summary(rep, o, summary_path);
  std::fprintf(stderr, "%s\n",
               summary.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  return rep.complete ? 0 : 130;
}

}  // namespace hashmatch::cli
