// PDQ queries of all requests batched onto the list snapshot's matchers (the same dynamic batcher
// as frames): a batch is dispatched at match.max_batch_queries queries or when its oldest query has
// waited match.max_queue_delay. Queries of one batch that asked for the same options (lists,
// threshold, dihedral) are searched together, so requests with the default options share one
// range search per list. Exact digests (MD5, SHA-1, SHA-256) are hash-table lookups and are not
// batched.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "host/lists/list_matcher.h"
#include "host/server/batcher.h"
#include "host/server/config.h"
#include "host/server/lists_state.h"
#include "monitoring/metrics.h"

namespace hashmatch::server {

struct PdqMatchItem {
  PdqQuery query;
  std::shared_ptr<const QueryOptions> opts;  // shared by the queries of one request
  // The snapshot the request started with (its lists were checked against it): a reload while
  // the query waits for its batch does not change what it is searched in.
  std::shared_ptr<const ListSnapshot> snap;
};

struct PdqMatchResult {
  std::vector<ListMatch> matches;
  std::string error;  // this query's group failed (e.g. a list vanished between check and search)
};

class MatchPipeline {
 public:
  MatchPipeline(const ServerConfig& cfg, monitoring::Metrics& metrics, ListsState& lists);
  ~MatchPipeline();

  // Matches the queries (all with `opts`) in `snap`, the snapshot the request validated its
  // options against (null: the current one when the batch runs); blocks until done or refused.
  // results[i] for queries[i]. A per-group failure is reported in the results' `error`.
  Status match(std::vector<PdqQuery> queries, std::shared_ptr<const QueryOptions> opts,
               std::shared_ptr<const ListSnapshot> snap, std::vector<PdqMatchResult>* results);

  void reconfigure(const ServerConfig& cfg);
  void shutdown();

 private:
  using Batcher = DynamicBatcher<PdqMatchItem, PdqMatchResult>;
  static BatcherOptions batcher_options(const ServerConfig& cfg);
  void execute(std::span<const PdqMatchItem* const> items, std::span<PdqMatchResult> out);

  monitoring::Metrics& metrics_;
  ListsState& lists_;
  std::unique_ptr<Batcher> batcher_;
};

}  // namespace hashmatch::server
