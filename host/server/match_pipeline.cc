#include "host/server/match_pipeline.h"

#include <chrono>
#include <exception>
#include <map>

#include "host/common/error.h"
#include "host/server/queue_metrics.h"

namespace hashmatch::server {

BatcherOptions MatchPipeline::batcher_options(const ServerConfig& cfg) {
  BatcherOptions o;
  o.max_batch = static_cast<std::size_t>(cfg.match_max_batch);
  o.max_queue_delay =
      std::chrono::duration_cast<std::chrono::nanoseconds>(cfg.match_max_queue_delay);
  o.max_queue_items = static_cast<std::size_t>(cfg.match_max_queue);
  return o;
}

MatchPipeline::MatchPipeline(const ServerConfig& cfg, monitoring::Metrics& metrics,
                             ListsState& lists)
    : metrics_(metrics), lists_(lists) {
  batcher_ = std::make_unique<Batcher>(
      "match", batcher_options(cfg), cfg.match_batches_in_flight,
      [this](int, std::span<const PdqMatchItem* const> items, std::span<PdqMatchResult> out) {
        execute(items, out);
      },
      std::make_shared<QueueMetrics>(metrics_, "match"));
  metrics_.declare_queue("match", cfg.match_max_queue);
}

MatchPipeline::~MatchPipeline() { shutdown(); }

void MatchPipeline::reconfigure(const ServerConfig& cfg) {
  batcher_->set_options(batcher_options(cfg));
  metrics_.set_queue_capacity("match", cfg.match_max_queue);
}

void MatchPipeline::shutdown() { batcher_->shutdown(); }

Status MatchPipeline::match(std::vector<PdqQuery> queries, std::shared_ptr<const QueryOptions> opts,
                            std::shared_ptr<const ListSnapshot> snap,
                            std::vector<PdqMatchResult>* results) {
  std::vector<PdqMatchItem> items;
  items.reserve(queries.size());
  for (PdqQuery& q : queries) items.push_back({q, opts, snap});
  auto ticket = batcher_->submit(std::move(items), 0);
  const Status st = ticket->wait();
  if (st.ok()) *results = std::move(ticket->results());
  return st;
}

void MatchPipeline::execute(std::span<const PdqMatchItem* const> items,
                            std::span<PdqMatchResult> out) {
  // Queries without a snapshot of their own are searched in the current one.
  std::shared_ptr<const ListSnapshot> current;
  auto snapshot_of = [&](const PdqMatchItem& it) -> const ListSnapshot* {
    if (it.snap) return it.snap.get();
    if (!current) current = lists_.snapshot();
    if (!current) throw Error("the lists are not loaded yet");
    return current.get();
  };
  // Groups of queries with the same snapshot and options object (one per request, or the shared
  // default): a reload between two requests of a batch leaves each with the snapshot it began on.
  std::map<std::pair<const ListSnapshot*, const QueryOptions*>, std::vector<std::size_t>> groups;
  for (std::size_t i = 0; i < items.size(); ++i) {
    groups[{snapshot_of(*items[i]), items[i]->opts.get()}].push_back(i);
  }
  for (const auto& [key, idx] : groups) {
    const ListSnapshot& snap = *key.first;
    const QueryOptions* opts = key.second;
    std::map<std::string, double> pdq_entries_by_list;
    std::map<std::string, std::string> backend_by_list;
    for (const SnapshotListInfo& l : snap.lists()) {
      pdq_entries_by_list[l.info.name] =
          static_cast<double>(l.by_algo[static_cast<int>(HashAlgo::kPdq)]);
      backend_by_list[l.info.name] = l.pdq_backend;
    }
    std::vector<PdqQuery> queries;
    queries.reserve(idx.size());
    double variants = 0;
    for (std::size_t i : idx) {
      queries.push_back(items[i]->query);
      variants += opts->dihedral ? items[i]->query.count : 1;
    }
    try {
      // Matches are counted (hashmatch_matches_total) by the requests, as they report them: a
      // video's frames matching one entry are one match.
      std::vector<std::vector<ListMatch>> r = snap.match_pdq(queries, *opts);
      for (std::size_t k = 0; k < idx.size(); ++k) out[idx[k]].matches = std::move(r[k]);
      // Comparisons: every query variant against every PDQ entry of the lists searched.
      std::map<std::string, double> comparisons;
      auto count = [&](const std::string& list) {
        const auto it = pdq_entries_by_list.find(list);
        if (it == pdq_entries_by_list.end() || it->second == 0) return;
        comparisons[backend_by_list[list]] += variants * it->second;
      };
      if (opts->lists.empty()) {
        for (const auto& [list, n] : pdq_entries_by_list) count(list);
      } else {
        for (const std::string& list : opts->lists) count(list);
      }
      for (const auto& [backend, n] : comparisons) metrics_.add_comparisons(backend, n);
    } catch (const std::exception& e) {
      // The batch as such went on (its other groups are answered), but these queries failed: a
      // failure of the match queue all the same (hashmatch_batch_failures_total{queue="match"}).
      for (std::size_t i : idx) out[i].error = e.what();
      metrics_.add_batch_failure("match");
    }
  }
}

}  // namespace hashmatch::server
