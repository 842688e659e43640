// Triage over scan results: reads result lines (hashmatch scan / hash JSON lines), clusters them
// (cluster.h), consults and updates the "seen before" memory (seen_store.h), and writes the
// annotated results (each line gains `cluster`), the cluster report and the new-material queue.
#pragma once

#include <cstdint>
#include <istream>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "host/triage/cluster.h"
#include "host/triage/seen_store.h"

namespace hashmatch::triage {

// One result line parsed for triage. Lines with `error` (or without any hash) are not clustered.
TriageItem item_from_json(const nlohmann::json& j, const std::string& default_seen_at,
                          int video_min_quality = 50);

struct TriageOptions {
  ClusterOptions cluster;
  std::string db_path;            // seen-before memory; "" disables it
  int64_t memory_max_age_days = 0;
  int64_t memory_max_entries = 0;
  std::string now;                // ISO-8601; "" = current time
};

struct ClusterSeen {
  bool seen_before = false;
  int64_t previous_arrivals = 0;
  std::string since;
};

struct TriageOutput {
  ClusterResult clusters;
  std::vector<std::optional<ClusterSeen>> seen;  // per cluster (new clusters only, with memory)
  std::vector<int> queue;                        // new cluster ids in review order
  bool memory = false;                           // a seen-before memory was used
  int64_t memory_expired = 0;
  double seconds = 0;

  nlohmann::json summary(std::size_t files) const;
};

// Runs the triage over parsed items. `video_match` decides vPDQ video pairs (nullptr: videos are
// clustered by MD5 only).
TriageOutput run_triage(const std::vector<TriageItem>& items, const TriageOptions& opts,
                        const VideoPairMatch& video_match = nullptr);

// Writers. The report lists every cluster; the queue every new cluster in review order.
nlohmann::json cluster_json(const TriageOutput& t, const std::vector<TriageItem>& items, int id);
void write_report(std::ostream& out, const TriageOutput& t, const std::vector<TriageItem>& items);
void write_queue(std::ostream& out, const TriageOutput& t, const std::vector<TriageItem>& items);

}  // namespace hashmatch::triage
