#include "host/triage/cluster_cli.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "host/common/error.h"
#include "host/common/file_io.h"
#include "host/match/matcher.h"
#ifdef HM_VIDEO
#include "video/vpdq_match.h"
#endif

namespace hashmatch::triage {
namespace {

constexpr const char* kSharedUsage =
    "  --report FILE           cluster report (JSON): size, representative, members, known,\n"
    "                          lists, labels, first/last seen, seen_before\n"
    "  --queue FILE            the new-material queue (JSON lines): new clusters, largest\n"
    "                          spread first, then quality; paths and hashes only\n"
    "  --cluster-threshold T   PDQ near-duplicate threshold (default 31, inclusive)\n"
    "  --memory-db PATH        enable the seen-before memory in this database (typically the\n"
    "                          hash-list database)\n"
    "  --memory-max-age-days N forget clusters not seen for N days (default: never)\n"
    "  --memory-max-entries N  keep at most N remembered clusters (default: no limit)\n";

const std::string kClusterUsage = std::string(kSharedUsage) +
    "  --threshold T           same as --cluster-threshold\n"
    "  --db PATH               same as --memory-db\n"
    "  --dihedral              also join through any dihedral variant (needs pdq_dihedral)\n"
    "  --min-quality Q         PDQ hashes below Q join by MD5 only (default 50)\n"
    "  --backend auto|cpu|cuda matcher for the all-pairs join (default auto)\n";

const std::string kScanUsage =
    std::string("  --cluster               cluster the results when the scan completes: every line gains\n"
                "                          `cluster`; the summary gains unique/known/new clusters\n") +
    kSharedUsage +
    "  (--dihedral, --min-quality and --backend apply to the clustering too; --threshold and --db\n"
    "  stay the list-matching threshold and the hash-list database)\n";

// Replaces `path` with `text` whole (host/common/file_io.h).
void replace_file(const std::string& path, const std::string& text) {
  hashmatch::replace_file(path, ".cluster.tmp", "",
                          [&](int fd, const std::string& tmp) { write_all(fd, text, "'" + tmp + "'"); });
}

}  // namespace

void add_cluster_option_names(ClusterCommand cmd, std::set<std::string>* values,
                              std::set<std::string>* flags) {
  values->insert({"report", "queue", "cluster-threshold", "memory-db", "memory-max-age-days",
                  "memory-max-entries", "min-quality", "backend"});
  flags->insert("dihedral");
  if (cmd == ClusterCommand::kCluster) {
    values->insert({"threshold", "db"});
  } else {
    flags->insert("cluster");
  }
}

const char* cluster_options_usage(ClusterCommand cmd) {
  return cmd == ClusterCommand::kCluster ? kClusterUsage.c_str() : kScanUsage.c_str();
}

ClusterRunOptions parse_cluster_options(const cli::Args& args, ClusterCommand cmd) {
  auto aliased = [&](const char* name, const char* alias) -> std::optional<std::string> {
    const auto a = args.get(name);
    const auto b = cmd == ClusterCommand::kCluster ? args.get(alias) : std::nullopt;
    if (a && b) {
      throw InvalidArgument(std::string("give --") + name + " or --" + alias + ", not both");
    }
    return a ? a : b;
  };
  ClusterRunOptions o;
  ClusterOptions& c = o.triage.cluster;
  c.threshold = kDefaultPdqThreshold;
  if (const auto t = aliased("cluster-threshold", "threshold")) {
    char* end = nullptr;
    const long v = std::strtol(t->c_str(), &end, 10);
    if (t->empty() || *end || v < 0 || v > 256) {
      throw InvalidArgument("--cluster-threshold must be an integer in [0, 256]");
    }
    c.threshold = static_cast<int>(v);
  }
  c.video_distance = c.threshold;
  c.dihedral = args.flag("dihedral");
  c.min_quality = static_cast<int>(args.get_int("min-quality", 50, 0, 100));
  c.matcher.backend = parse_backend(args.get_or("backend", "auto"));
  o.triage.db_path = aliased("memory-db", "db").value_or("");
  o.triage.memory_max_age_days = args.get_int("memory-max-age-days", 0, 0, 1'000'000);
  o.triage.memory_max_entries = args.get_int("memory-max-entries", 0, 0, 1ll << 40);
  o.report = args.get_or("report", "");
  o.queue = args.get_or("queue", "");
  return o;
}

nlohmann::json cluster_lines(std::vector<nlohmann::json>& lines, const ClusterRunOptions& opts,
                             const std::string& now) {
  std::vector<TriageItem> items;
  items.reserve(lines.size());
  for (const nlohmann::json& j : lines) items.push_back(item_from_json(j, now));
  return cluster_lines(lines, std::move(items), opts, now);
}

nlohmann::json cluster_lines(std::vector<nlohmann::json>& lines, std::vector<TriageItem> items,
                             const ClusterRunOptions& opts, const std::string& now) {
  VideoPairMatch video_match;
#ifdef HM_VIDEO
  // vPDQ's video-level rule over the videos' matchable frames (already deduplicated and
  // quality-filtered when the lines were read).
  video::VideoMatchOptions vopts;
  vopts.distance_threshold = opts.triage.cluster.video_distance;
  vopts.unique_frames = false;
  vopts.quality_threshold = 0;
  video_match = [&](std::size_t a, std::size_t b) {
    return video::match_hash_sets(items[a].video_frames, items[b].video_frames, vopts).match;
  };
#endif
  TriageOptions topts = opts.triage;
  if (topts.now.empty()) topts.now = now;
  // The report and the queue are opened before the memory records this run's arrivals: a path
  // that cannot be written fails the run before it counts anything (every retry counted them
  // again).
  std::ofstream r, q;
  if (!opts.report.empty()) {
    r.open(opts.report);
    if (!r) throw IoError("cannot write " + opts.report);
  }
  if (!opts.queue.empty()) {
    q.open(opts.queue);
    if (!q) throw IoError("cannot write " + opts.queue);
  }
  const TriageOutput t = run_triage(items, topts, video_match);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const int c = t.clusters.cluster_of[i];
    lines[i]["cluster"] = c >= 0 ? nlohmann::json(c) : nlohmann::json(nullptr);
    if (c >= 0 && c < static_cast<int>(t.seen.size()) && t.seen[c] && t.seen[c]->seen_before) {
      lines[i]["seen_before"] = {{"count", t.seen[c]->previous_arrivals}, {"since", t.seen[c]->since}};
    } else {
      lines[i].erase("seen_before");  // an earlier clustering's, now stale
    }
  }
  if (!opts.report.empty()) {
    write_report(r, t, items);
    if (!r.flush()) throw IoError("cannot write " + opts.report);
  }
  if (!opts.queue.empty()) {
    write_queue(q, t, items);
    if (!q.flush()) throw IoError("cannot write " + opts.queue);
  }
  return t.summary(items.size());
}

nlohmann::json cluster_scan_output(const std::string& path, const ClusterRunOptions& opts) {
  std::ifstream in(path);
  if (!in) throw IoError("cannot read the scan output '" + path + "' to cluster it");
  std::vector<nlohmann::json> lines;
  std::string line;
  std::size_t lineno = 0;
  bool all_clustered = true;
  while (std::getline(in, line)) {
    ++lineno;
    if (line.empty()) continue;
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("path")) {
      throw InvalidArgument(path + ":" + std::to_string(lineno) +
                            ": not a scan result line; the output was changed since the scan");
    }
    all_clustered = all_clustered && j.contains("cluster");
    lines.push_back(std::move(j));
  }
  ClusterRunOptions o = opts;
  const bool again = all_clustered && !lines.empty();
  if (again) o.triage.db_path.clear();
  nlohmann::json s = cluster_lines(lines, o, utc_now_iso());
  if (again) s["memory_already_updated"] = true;
  std::string text;
  for (const nlohmann::json& j : lines) {
    text += j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    text += '\n';
  }
  replace_file(path, text);
  return s;
}

}  // namespace hashmatch::triage
