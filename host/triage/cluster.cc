#include "host/triage/cluster.h"

#include <algorithm>
#include <map>
#include <numeric>
#include <unordered_map>

namespace hashmatch::triage {

DisjointSets::DisjointSets(std::size_t n) : parent_(n), size_(n, 1) {
  std::iota(parent_.begin(), parent_.end(), std::size_t{0});
}

std::size_t DisjointSets::find(std::size_t x) {
  while (parent_[x] != x) {
    parent_[x] = parent_[parent_[x]];
    x = parent_[x];
  }
  return x;
}

bool DisjointSets::unite(std::size_t a, std::size_t b) {
  a = find(a);
  b = find(b);
  if (a == b) return false;
  if (size_[a] < size_[b]) std::swap(a, b);
  parent_[b] = a;
  size_[a] += size_[b];
  return true;
}

namespace {

// All pairs (query item, indexed item) within `threshold`, the set against itself in tiles.
// `queries_per_item` hashes per item (1, or 8 dihedral variants) in `queries`.
template <typename OnPair>
uint64_t self_join(const PdqMatcher& m, const std::vector<Hash256>& queries, int queries_per_item,
                   int threshold, std::size_t tile, OnPair on_pair) {
  uint64_t comparisons = 0;
  std::vector<PdqHit> hits;
  const std::size_t step = std::max<std::size_t>(1, tile) * queries_per_item;
  for (std::size_t start = 0; start < queries.size(); start += step) {
    const std::size_t n = std::min(step, queries.size() - start);
    hits.clear();
    m.range_search(std::span<const Hash256>(queries).subspan(start, n), threshold, hits);
    comparisons += uint64_t(n) * m.size();
    for (const PdqHit& h : hits) on_pair((start + h.query) / queries_per_item, h.index);
  }
  return comparisons;
}

}  // namespace

ClusterResult cluster_items(std::span<const TriageItem> items, const ClusterOptions& opts,
                            const VideoPairMatch& video_match) {
  const std::size_t n = items.size();
  DisjointSets ds(n);
  ClusterResult res;

  // 1. Identical MD5.
  std::unordered_map<std::string, std::size_t> by_md5;
  for (std::size_t i = 0; i < n; ++i) {
    if (!items[i].ok || items[i].md5.empty()) continue;
    auto [it, fresh] = by_md5.emplace(items[i].md5, i);
    if (!fresh) ds.unite(it->second, i);
  }

  // 2. PDQ within the threshold (hashes of sufficient quality only).
  std::vector<std::size_t> pdq_items;
  std::vector<Hash256> indexed;
  for (std::size_t i = 0; i < n; ++i) {
    const TriageItem& it = items[i];
    if (it.ok && it.pdq && it.pdq_quality >= opts.min_quality) {
      pdq_items.push_back(i);
      indexed.push_back(*it.pdq);
    }
  }
  if (!pdq_items.empty()) {
    std::vector<Hash256> queries;
    int per_item = 1;
    if (opts.dihedral) {
      per_item = kNumDihedral;
      queries.reserve(pdq_items.size() * kNumDihedral);
      for (std::size_t i : pdq_items) {
        const TriageItem& it = items[i];
        if (it.dihedral) {
          queries.insert(queries.end(), it.dihedral->begin(), it.dihedral->end());
        } else {  // no variants known: the original, repeated (harmless duplicates)
          queries.insert(queries.end(), kNumDihedral, *it.pdq);
        }
      }
    } else {
      queries = indexed;
    }
    MatcherOptions mo = opts.matcher;
    mo.expected_threshold = opts.threshold;
    auto matcher = make_pdq_matcher(indexed, mo);
    res.backend = matcher->backend();
    res.comparisons += self_join(*matcher, queries, per_item, opts.threshold, opts.tile,
                                 [&](std::size_t q, std::size_t e) {
                                   ds.unite(pdq_items[q], pdq_items[e]);
                                 });
  }

  // 3. Videos: candidate pairs share a frame within video_distance; the vPDQ rule decides.
  if (video_match) {
    std::vector<Hash256> frames;
    std::vector<std::size_t> frame_item;
    for (std::size_t i = 0; i < n; ++i) {
      if (!items[i].ok) continue;
      for (const Hash256& h : items[i].video_frames) {
        frames.push_back(h);
        frame_item.push_back(i);
      }
    }
    if (!frames.empty()) {
      MatcherOptions mo = opts.matcher;
      mo.expected_threshold = opts.video_distance;
      auto matcher = make_pdq_matcher(frames, mo);
      std::set<std::pair<std::size_t, std::size_t>> candidates;
      res.comparisons += self_join(*matcher, frames, 1, opts.video_distance, opts.tile,
                                   [&](std::size_t q, std::size_t e) {
                                     const std::size_t a = frame_item[q], b = frame_item[e];
                                     if (a != b) candidates.emplace(std::min(a, b), std::max(a, b));
                                   });
      for (const auto& [a, b] : candidates) {
        // The vPDQ rule is not symmetric (q% vs c%): either direction makes them duplicates.
        if (ds.find(a) != ds.find(b) && (video_match(a, b) || video_match(b, a))) ds.unite(a, b);
      }
    }
  }

  // 4. Components, numbered by their smallest member.
  res.cluster_of.assign(n, -1);
  std::map<std::size_t, int> root_id;
  for (std::size_t i = 0; i < n; ++i) {
    if (!items[i].ok) {
      ++res.unclustered;
      continue;
    }
    const std::size_t r = ds.find(i);
    auto [it, fresh] = root_id.emplace(r, static_cast<int>(res.clusters.size()));
    if (fresh) {
      Cluster c;
      c.id = it->second;
      c.representative = i;
      res.clusters.push_back(std::move(c));
    }
    Cluster& c = res.clusters[it->second];
    res.cluster_of[i] = c.id;
    c.members.push_back(i);
    const TriageItem& item = items[i];
    const TriageItem& rep = items[c.representative];
    if (item.pdq && (!rep.pdq || item.pdq_quality > rep.pdq_quality)) c.representative = i;
    if (item.known) {
      c.known = true;
      c.lists.insert(item.known_lists.begin(), item.known_lists.end());
      c.labels.insert(item.known_labels.begin(), item.known_labels.end());
    }
    if (!item.seen_at.empty()) {
      if (c.first_seen.empty() || item.seen_at < c.first_seen) c.first_seen = item.seen_at;
      if (c.last_seen.empty() || item.seen_at > c.last_seen) c.last_seen = item.seen_at;
    }
  }
  return res;
}

}  // namespace hashmatch::triage
