// Near-duplicate clustering: connected components of the "near-duplicate" relation over a set of
// scanned items — PDQ within the threshold (optionally any dihedral variant of either side),
// identical MD5, and for videos a vPDQ video-level match. Exact, not approximate: the all-pairs
// join is an exact range search (make_pdq_matcher: CPU brute/MIH or the GPU matcher, the set
// against itself, in tiles), and components are closed transitively (a ~ b ~ c is one cluster even
// when a and c are farther apart than the threshold).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "host/common/hash256.h"
#include "host/match/matcher.h"

namespace hashmatch::triage {

struct TriageItem {
  std::string path;
  bool ok = true;                        // false: bad or unhashable, never clustered
  std::optional<Hash256> pdq;            // image PDQ
  int pdq_quality = 0;
  std::optional<std::array<Hash256, kNumDihedral>> dihedral;  // all 8, Dihedral order
  std::string md5;                       // lowercase hex, "" when unknown
  std::vector<Hash256> video_frames;     // matchable vPDQ frame hashes (deduped, quality-filtered)
  bool known = false;                    // matched some list
  std::set<std::string> known_lists;
  std::set<std::string> known_labels;    // labels of the matched entries, flattened to strings
  std::string seen_at;                   // ISO-8601 time the item was seen (scan time or mtime)
};

struct ClusterOptions {
  int threshold = kDefaultPdqThreshold;  // PDQ: near-duplicate iff distance <= threshold
  bool dihedral = false;                 // also join through any dihedral variant
  int min_quality = 50;                  // PDQ hashes below this quality join by MD5 only
  std::size_t tile = 1 << 16;            // queries per range-search call (bounds hit memory)
  MatcherOptions matcher;                // backend: auto | cpu | cuda
  int video_distance = kDefaultPdqThreshold;  // vPDQ frame distance for candidate video pairs
};

// Decides whether two videos (by item index) match at the video level (vPDQ q%/c% rule). Only
// pairs sharing at least one frame within `video_distance` are asked.
using VideoPairMatch = std::function<bool(std::size_t a, std::size_t b)>;

struct Cluster {
  int id = 0;
  std::vector<std::size_t> members;  // item indices, ascending
  std::size_t representative = 0;    // member with the highest PDQ quality (first on ties)
  bool known = false;                // some member matched a list
  std::set<std::string> lists, labels;
  std::string first_seen, last_seen;
};

struct ClusterResult {
  std::vector<int> cluster_of;    // per item: cluster id, or -1 when not clustered (!ok)
  std::vector<Cluster> clusters;  // id = position; ordered by smallest member index
  uint64_t comparisons = 0;       // PDQ comparisons made by the join (queries x entries)
  std::string backend;            // matcher backend used
  std::size_t unclustered = 0;    // items not ok
};

ClusterResult cluster_items(std::span<const TriageItem> items, const ClusterOptions& opts,
                            const VideoPairMatch& video_match = nullptr);

// Union-find over n elements (path halving, union by size).
class DisjointSets {
 public:
  explicit DisjointSets(std::size_t n);
  std::size_t find(std::size_t x);
  bool unite(std::size_t a, std::size_t b);  // true when two sets were merged

 private:
  std::vector<std::size_t> parent_, size_;
};

}  // namespace hashmatch::triage
