// `hashmatch cluster RESULTS.jsonl`: near-duplicate clusters over an earlier scan's output.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>

#include "host/cli/args.h"
#include "host/common/error.h"
#include "host/triage/cluster_cli.h"
#include "host/triage/commands.h"

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
    "  --export-seen FILE      write the memory as ThreatExchange signal lines and exit\n";

}  // namespace

int cmd_cluster(const Argv& argv) {
  std::set<std::string> values = {"output", "export-seen"}, flags = {"help"};
  triage::add_cluster_option_names(triage::ClusterCommand::kCluster, &values, &flags);
  Args args(argv, values, flags);
  if (args.flag("help")) {
    std::printf("%s%s", kUsage, triage::cluster_options_usage(triage::ClusterCommand::kCluster));
    return 0;
  }
  const triage::ClusterRunOptions run = triage::parse_cluster_options(args, triage::ClusterCommand::kCluster);
  const triage::TriageOptions& opts = run.triage;
  if (const auto f = args.get("export-seen")) {
    if (opts.db_path.empty()) throw InvalidArgument("--export-seen needs --db");
    if (!std::filesystem::exists(opts.db_path)) {
      throw IoError("no memory database " + opts.db_path);  // not a new, empty one
    }
    std::ofstream out(*f);
    if (!out) throw IoError("cannot write " + *f);
    triage::SeenStore store(opts.db_path);
    const int64_t n = store.export_signals(out);
    if (!out.flush()) throw IoError("write error on " + *f);
    std::fprintf(stderr, "exported %lld remembered hashes to %s\n", static_cast<long long>(n), f->c_str());
    return 0;
  }
  if (args.positional().empty()) {
    std::fprintf(stderr, "%s%s", kUsage, triage::cluster_options_usage(triage::ClusterCommand::kCluster));
    return 2;
  }
  // Read every result line (kept as JSON to write them back annotated).
  std::vector<nlohmann::json> lines;
  std::size_t bad_lines = 0;
  const std::string now = triage::utc_now_iso();
  std::vector<triage::TriageItem> items;  // one per line kept, made as it is read
  for (const std::string& path : args.positional()) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec))
      throw IoError("cannot read " + path + ": a directory");
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
      try {
        items.push_back(triage::item_from_json(j, now));  // a field of the wrong type: this line
      } catch (const std::exception& e) {
        ++bad_lines;
        std::fprintf(stderr, "%s:%zu: not a result line (%s), skipped\n", path.c_str(), lineno,
                     e.what());
        continue;
      }
      lines.push_back(std::move(j));
    }
    if (in.bad()) throw IoError("read error in " + path);
  }
  // The output is opened before the memory records this run's arrivals (see cluster_lines).
  std::ofstream out_file;
  std::ostream* out = &std::cout;
  const auto out_path = args.get("output");
  if (out_path) {
    out_file.open(*out_path);
    if (!out_file) throw IoError("cannot write " + *out_path);
    out = &out_file;
  }
  nlohmann::json s = triage::cluster_lines(lines, std::move(items), run, now);
  for (const nlohmann::json& j : lines) {
    *out << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
  }
  if (!out->flush()) throw IoError("write error on " + out_path.value_or("standard output"));
  s["bad_lines"] = bad_lines;
  std::cerr << nlohmann::json{{"summary", s}}.dump() << '\n';
  return bad_lines ? 1 : 0;
}

}  // namespace hashmatch::cli
