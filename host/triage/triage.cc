#include "host/triage/triage.h"

#include <algorithm>
#include <chrono>
#include <unordered_set>

namespace hashmatch::triage {
namespace {

void collect_labels(const nlohmann::json& labels, std::set<std::string>& out) {
  if (labels.is_string()) {
    out.insert(labels.get<std::string>());
  } else if (labels.is_array()) {
    for (const auto& l : labels) collect_labels(l, out);
  } else if (labels.is_object()) {
    for (auto it = labels.begin(); it != labels.end(); ++it) {
      if (it.value().is_string()) {
        out.insert(it.key() + "=" + it.value().get<std::string>());
      } else if (it.value().is_array()) {
        for (const auto& v : it.value()) {
          out.insert(it.key() + "=" + (v.is_string() ? v.get<std::string>() : v.dump()));
        }
      } else if (!it.value().is_null()) {
        out.insert(it.key() + "=" + it.value().dump());
      }
    }
  }
}

}  // namespace

TriageItem item_from_json(const nlohmann::json& j, const std::string& default_seen_at,
                          int video_min_quality) {
  TriageItem it;
  it.path = j.value("path", std::string());
  it.seen_at = j.value("scanned_at", j.value("seen_at", default_seen_at));
  if (j.contains("error")) {
    it.ok = false;
    return it;
  }
  if (j.contains("md5") && j["md5"].is_string()) it.md5 = j["md5"].get<std::string>();
  Hash256 h;
  if (j.contains("pdq") && j["pdq"].is_string() && Hash256::try_from_hex(j["pdq"].get<std::string>(), &h)) {
    it.pdq = h;
    it.pdq_quality = j.value("pdq_quality", 0);
    if (j.contains("pdq_dihedral") && j["pdq_dihedral"].is_array() &&
        j["pdq_dihedral"].size() == kNumDihedral) {
      std::array<Hash256, kNumDihedral> d;
      bool good = true;
      for (int v = 0; v < kNumDihedral; ++v) {
        const auto& x = j["pdq_dihedral"][v];
        good = good && x.is_string() && Hash256::try_from_hex(x.get<std::string>(), &d[v]);
      }
      if (good) it.dihedral = d;
    }
  }
  if (j.contains("vpdq") && j["vpdq"].is_array()) {
    // Matchable frames as vPDQ's matchers use them: unique hashes of quality >= the cut-off.
    std::unordered_set<Hash256> seen;
    for (const auto& f : j["vpdq"]) {
      if (!f.is_object() || !f.contains("pdq") || !f["pdq"].is_string()) continue;
      if (f.value("quality", 0) < video_min_quality) continue;
      if (Hash256::try_from_hex(f["pdq"].get<std::string>(), &h) && seen.insert(h).second) {
        it.video_frames.push_back(h);
      }
    }
  }
  if (j.contains("matches") && j["matches"].is_array()) {
    for (const auto& m : j["matches"]) {
      if (!m.is_object()) continue;
      it.known = true;
      if (m.contains("list") && m["list"].is_string()) it.known_lists.insert(m["list"].get<std::string>());
      if (m.contains("labels")) collect_labels(m["labels"], it.known_labels);
    }
  }
  if (!it.pdq && it.md5.empty() && it.video_frames.empty()) it.ok = false;
  return it;
}

nlohmann::json TriageOutput::summary(std::size_t files) const {
  std::size_t known = 0;
  for (const Cluster& c : clusters.clusters) known += c.known;
  std::size_t seen_before = 0;
  for (const auto& s : seen) seen_before += s && s->seen_before;
  nlohmann::json j{{"files", files},
                   {"clustered", files - clusters.unclustered},
                   {"unclustered", clusters.unclustered},
                   {"unique_clusters", clusters.clusters.size()},
                   {"known_clusters", known},
                   {"new_clusters", clusters.clusters.size() - known},
                   {"comparisons", clusters.comparisons},
                   {"backend", clusters.backend},
                   {"seconds", seconds}};
  if (memory) {
    j["new_clusters_seen_before"] = seen_before;
    j["memory_expired"] = memory_expired;
  }
  return j;
}

TriageOutput run_triage(const std::vector<TriageItem>& items, const TriageOptions& opts,
                        const VideoPairMatch& video_match) {
  const auto t0 = std::chrono::steady_clock::now();
  TriageOutput out;
  out.clusters = cluster_items(items, opts.cluster, video_match);
  const auto& cs = out.clusters.clusters;
  std::vector<int> fresh;
  for (const Cluster& c : cs) {
    if (!c.known) fresh.push_back(c.id);
  }
  std::vector<int64_t> total_arrivals(cs.size(), 0);
  for (const Cluster& c : cs) total_arrivals[c.id] = static_cast<int64_t>(c.members.size());
  if (!opts.db_path.empty()) {
    const std::string now = opts.now.empty() ? utc_now_iso() : opts.now;
    SeenStore store(opts.db_path);
    out.memory = true;
    // Clusters not seen for max_age_days are forgotten before the lookup (an arrival after that
    // is new); the max_entries cap comes after this run's arrivals are recorded, so that it caps
    // the memory and never forgets what this run brought.
    out.memory_expired = store.expire(now, opts.memory_max_age_days, 0);
    std::vector<SeenKey> keys;
    for (int id : fresh) {
      const Cluster& c = cs[id];
      SeenKey k;
      k.arrivals = static_cast<int64_t>(c.members.size());
      k.representative_quality = items[c.representative].pdq_quality;
      for (std::size_t m : c.members) {
        const TriageItem& it = items[m];
        // Every member is looked up (an identical file as 10th member was missed when only the
        // first 8 were); the store keeps a bounded number of them.
        if (it.pdq && it.pdq_quality >= opts.cluster.min_quality) k.pdq.push_back(*it.pdq);
        if (!it.md5.empty()) k.md5.push_back(it.md5);
      }
      keys.push_back(std::move(k));
    }
    const std::vector<SeenLookup> looked = store.observe(keys, now, opts.cluster.threshold);
    out.memory_expired += store.expire(now, 0, opts.memory_max_entries);
    out.seen.assign(cs.size(), std::nullopt);
    for (std::size_t k = 0; k < fresh.size(); ++k) {
      ClusterSeen s{looked[k].seen_before, looked[k].previous_arrivals, looked[k].first_seen};
      out.seen[fresh[k]] = s;
      total_arrivals[fresh[k]] += s.previous_arrivals;
    }
  }
  // Review order: largest spread (arrivals, this scan and remembered) first, then quality.
  out.queue = fresh;
  std::stable_sort(out.queue.begin(), out.queue.end(), [&](int a, int b) {
    if (total_arrivals[a] != total_arrivals[b]) return total_arrivals[a] > total_arrivals[b];
    return items[cs[a].representative].pdq_quality > items[cs[b].representative].pdq_quality;
  });
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return out;
}

nlohmann::json cluster_json(const TriageOutput& t, const std::vector<TriageItem>& items, int id) {
  const Cluster& c = t.clusters.clusters[id];
  const TriageItem& rep = items[c.representative];
  nlohmann::json members = nlohmann::json::array();
  for (std::size_t m : c.members) members.push_back(items[m].path);
  nlohmann::json r{{"path", rep.path}};
  if (rep.pdq) {
    r["pdq"] = rep.pdq->to_hex();
    r["pdq_quality"] = rep.pdq_quality;
  }
  if (!rep.md5.empty()) r["md5"] = rep.md5;
  nlohmann::json j{{"cluster", id},
                   {"size", c.members.size()},
                   {"representative", r},
                   {"members", members},
                   {"known", c.known},
                   {"lists", c.lists},
                   {"labels", c.labels},
                   {"first_seen", c.first_seen},
                   {"last_seen", c.last_seen}};
  if (id < static_cast<int>(t.seen.size()) && t.seen[id]) {
    const ClusterSeen& s = *t.seen[id];
    j["seen_before"] = s.seen_before ? nlohmann::json{{"count", s.previous_arrivals}, {"since", s.since}}
                                     : nlohmann::json(nullptr);
  }
  return j;
}

void write_report(std::ostream& out, const TriageOutput& t, const std::vector<TriageItem>& items) {
  nlohmann::json clusters = nlohmann::json::array();
  for (const Cluster& c : t.clusters.clusters) clusters.push_back(cluster_json(t, items, c.id));
  nlohmann::json j{{"summary", t.summary(items.size())}, {"clusters", std::move(clusters)}};
  out << j.dump(2) << '\n';
}

void write_queue(std::ostream& out, const TriageOutput& t, const std::vector<TriageItem>& items) {
  int rank = 0;
  for (int id : t.queue) {
    nlohmann::json j = cluster_json(t, items, id);
    j["rank"] = ++rank;
    out << j.dump() << '\n';
  }
}

}  // namespace hashmatch::triage
