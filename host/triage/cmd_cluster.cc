// `hashmatch cluster RESULTS.jsonl`: near-duplicate clusters over an earlier scan's output.
#include <cstdio>
#include <fstream>
#include <iostream>

#include "host/cli/args.h"
#include "host/common/error.h"
#include "host/triage/commands.h"
#include "host/triage/triage.h"
#ifdef HM_VIDEO
#include "video/vpdq_match.h"
#endif

namespace hashmatch::cli {
namespace {

constexpr const char* kUsage =
    "usage: hashmatch cluster [options] RESULTS.jsonl...\n"
    "  Groups the items of scan/hash result lines with their near-duplicates (PDQ within the\n"
    "  threshold, identical MD5, vPDQ video match) into clusters (exact connected components).\n"
    "  Writes the result lines with a `cluster` id, and the summary (files, unique clusters,\n"
    "  known clusters, new clusters) to stderr.\n"
    "options:\n"
    "  --output FILE           annotated result lines (default: stdout)\n"
    "  --report FILE           cluster report (JSON): size, representative, members, known,\n"
    "                          lists, labels, first/last seen, seen_before\n"
    "  --queue FILE            the new-material queue (JSON lines): new clusters, largest\n"
    "                          spread first, then quality; paths and hashes only\n"
    "  --threshold T           PDQ near-duplicate threshold (default 31, inclusive)\n"
    "  --dihedral              also join through any dihedral variant (needs pdq_dihedral)\n"
    "  --min-quality Q         PDQ hashes below Q join by MD5 only (default 50)\n"
    "  --backend auto|cpu|cuda matcher for the all-pairs join (default auto)\n"
    "  --db PATH               enable the seen-before memory in this database\n"
    "  --memory-max-age-days N forget clusters not seen for N days (default: never)\n"
    "  --memory-max-entries N  keep at most N remembered clusters (default: no limit)\n"
    "  --export-seen FILE      write the memory as ThreatExchange signal lines and exit\n";

}  // namespace

int cmd_cluster(const Argv& argv) {
  Args args(argv,
            {"output", "report", "queue", "threshold", "min-quality", "backend", "db",
             "memory-max-age-days", "memory-max-entries", "export-seen"},
            {"dihedral", "help"});
  if (args.flag("help")) {
    std::printf("%s", kUsage);
    return 0;
  }
  triage::TriageOptions opts;
  opts.cluster.threshold = static_cast<int>(args.get_int("threshold", kDefaultPdqThreshold, 0, 256));
  opts.cluster.video_distance = opts.cluster.threshold;
  opts.cluster.dihedral = args.flag("dihedral");
  opts.cluster.min_quality = static_cast<int>(args.get_int("min-quality", 50, 0, 100));
  opts.cluster.matcher.backend = parse_backend(args.get_or("backend", "auto"));
  opts.db_path = args.get_or("db", "");
  opts.memory_max_age_days = args.get_int("memory-max-age-days", 0, 0, 1'000'000);
  opts.memory_max_entries = args.get_int("memory-max-entries", 0, 0, 1ll << 40);
  if (const auto f = args.get("export-seen")) {
    if (opts.db_path.empty()) throw InvalidArgument("--export-seen needs --db");
    std::ofstream out(*f);
    if (!out) throw IoError("cannot write " + *f);
    triage::SeenStore store(opts.db_path);
    const int64_t n = store.export_signals(out);
    std::fprintf(stderr, "exported %lld remembered hashes to %s\n", static_cast<long long>(n), f->c_str());
    return 0;
  }
  if (args.positional().empty()) {
    std::fprintf(stderr, "%s", kUsage);
    return 2;
  }
  // Read every result line (kept as JSON to write them back annotated).
  std::vector<nlohmann::json> lines;
  std::vector<triage::TriageItem> items;
  const std::string now = triage::utc_now_iso();
  std::size_t bad_lines = 0;
  for (const std::string& path : args.positional()) {
    std::ifstream in(path);
    if (!in) throw IoError("cannot read " + path);
    std::string line;
    std::size_t lineno = 0;
    while (std::getline(in, line)) {
      ++lineno;
      if (line.empty()) continue;
      nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_discarded() || !j.is_object()) {
        ++bad_lines;
        std::fprintf(stderr, "%s:%zu: not a JSON object, skipped\n", path.c_str(), lineno);
        continue;
      }
      if (j.contains("summary") && !j.contains("path")) continue;  // a scan's summary line
      items.push_back(triage::item_from_json(j, now));
      lines.push_back(std::move(j));
    }
  }
  triage::VideoPairMatch video_match;
#ifdef HM_VIDEO
  // vPDQ's video-level rule over the videos' matchable frames (already deduplicated and
  // quality-filtered when the lines were read).
  video::VideoMatchOptions vopts;
  vopts.distance_threshold = opts.cluster.video_distance;
  vopts.unique_frames = false;
  vopts.quality_threshold = 0;
  video_match = [&](std::size_t a, std::size_t b) {
    return video::match_hash_sets(items[a].video_frames, items[b].video_frames, vopts).match;
  };
#endif
  const triage::TriageOutput t = triage::run_triage(items, opts, video_match);
  std::ofstream out_file;
  std::ostream* out = &std::cout;
  if (const auto f = args.get("output")) {
    out_file.open(*f);
    if (!out_file) throw IoError("cannot write " + *f);
    out = &out_file;
  }
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const int c = t.clusters.cluster_of[i];
    lines[i]["cluster"] = c >= 0 ? nlohmann::json(c) : nlohmann::json(nullptr);
    if (c >= 0 && c < static_cast<int>(t.seen.size()) && t.seen[c] && t.seen[c]->seen_before) {
      lines[i]["seen_before"] = {{"count", t.seen[c]->previous_arrivals}, {"since", t.seen[c]->since}};
    }
    *out << lines[i].dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
  }
  out->flush();
  if (const auto f = args.get("report")) {
    std::ofstream r(*f);
    if (!r) throw IoError("cannot write " + *f);
    triage::write_report(r, t, items);
  }
  if (const auto f = args.get("queue")) {
    std::ofstream q(*f);
    if (!q) throw IoError("cannot write " + *f);
    triage::write_queue(q, t, items);
  }
  nlohmann::json s = t.summary(items.size());
  s["bad_lines"] = bad_lines;
  std::cerr << nlohmann::json{{"summary", s}}.dump() << '\n';
  return bad_lines ? 1 : 0;
}

}  // namespace hashmatch::cli
