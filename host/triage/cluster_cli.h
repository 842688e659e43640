// The clustering options and run shared by `hashmatch cluster` and `hashmatch scan --cluster`:
// option names, their parsing and usage text are defined here once, and so is what a run does with
// result lines (annotate each with `cluster` and `seen_before`, write the report and the queue,
// build the summary).
//
// Option names. Shared by both commands, same meaning:
//   --report FILE, --queue FILE, --cluster-threshold T, --memory-db PATH,
//   --memory-max-age-days N, --memory-max-entries N, --dihedral, --min-quality Q, --backend B
// `hashmatch cluster` also accepts its historical names --threshold T (= --cluster-threshold) and
// --db PATH (= --memory-db); in `hashmatch scan` those two name the list-matching threshold and the
// hash-list database, as they always did.
#pragma once

#include <cstddef>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "host/cli/args.h"
#include "host/triage/triage.h"

namespace hashmatch::triage {

enum class ClusterCommand { kCluster, kScan };

struct ClusterRunOptions {
  TriageOptions triage;
  std::string report;  // cluster report file ("" = none)
  std::string queue;   // new-material queue file ("" = none)
};

// Adds the option names this command needs for clustering to the parser's sets.
void add_cluster_option_names(ClusterCommand cmd, std::set<std::string>* values,
                              std::set<std::string>* flags);
// The usage lines of those options (indented like the commands' usage texts).
const char* cluster_options_usage(ClusterCommand cmd);
// Parses them. Throws InvalidArgument on a bad value or an alias given together with its name.
ClusterRunOptions parse_cluster_options(const cli::Args& args, ClusterCommand cmd);

// Clusters result lines (JSON objects from `hashmatch scan` / `hashmatch hash`; summary lines must
// already be left out): each line gains `cluster` (null for a bad or unhashable item) and, for a
// new cluster the memory has seen before, `seen_before: {count, since}`. Writes the report and
// queue files when asked. Returns the summary object (TriageOutput::summary). `now` is the time of
// the run (ISO-8601), used for lines without `scanned_at` and for the memory.
nlohmann::json cluster_lines(std::vector<nlohmann::json>& lines, const ClusterRunOptions& opts,
                             const std::string& now);
// The same with the lines' items already made (item_from_json(lines[i], now), one per line).
nlohmann::json cluster_lines(std::vector<nlohmann::json>& lines, std::vector<TriageItem> items,
                             const ClusterRunOptions& opts, const std::string& now);

// The scan's finishing step: reads the result file `path` (written by the scan), clusters every
// line, rewrites the file atomically (temporary file, fsync, rename, directory fsync) with the
// annotated lines, and returns the summary. When every line already carries `cluster` (a previous
// finishing step renamed its file but was stopped before the checkpoint recorded it), the file is
// clustered again without the memory: its earlier update (and the lines' `seen_before`) stand, and
// no arrival is counted twice.
nlohmann::json cluster_scan_output(const std::string& path, const ClusterRunOptions& opts);

}  // namespace hashmatch::triage
