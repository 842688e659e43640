#include "video/vpdq_match.h"

#include <unordered_set>

namespace hashmatch::video {

std::vector<VpdqFrame> matchable_frames(std::span<const VpdqFrame> frames,
                                        const VideoMatchOptions& opts) {
  std::vector<VpdqFrame> out;
  out.reserve(frames.size());
  std::unordered_set<Hash256> seen;
  for (const VpdqFrame& f : frames) {
    if (opts.dedupe_first) {  // python-threatexchange's brute matcher: dedupe, then filter
      if (opts.unique_frames && !seen.insert(f.hash).second) continue;
      if (f.quality < opts.quality_threshold) continue;
    } else {  // its index (HMA): filter, then dedupe: a copy of good quality counts
      if (f.quality < opts.quality_threshold) continue;
      if (opts.unique_frames && !seen.insert(f.hash).second) continue;
    }
    out.push_back(f);
  }
  return out;
}

std::vector<Hash256> matchable_hashes(std::span<const VpdqFrame> frames,
                                      const VideoMatchOptions& opts) {
  std::vector<Hash256> out;
  for (const VpdqFrame& f : matchable_frames(frames, opts)) out.push_back(f.hash);
  return out;
}

namespace {

// Number of hashes of `a` with a partner in `b` within the threshold (early exit per hash).
std::size_t count_matched(std::span<const Hash256> a, std::span<const Hash256> b, int limit) {
  std::size_t n = 0;
  for (const Hash256& x : a) {
    for (const Hash256& y : b) {
      if (hamming_distance(x, y) <= limit) {
        ++n;
        break;
      }
    }
  }
  return n;
}

}  // namespace

VideoMatchResult match_hash_sets(std::span<const Hash256> query, std::span<const Hash256> compared,
                                 const VideoMatchOptions& opts) {
  VideoMatchResult r;
  r.query_frames = query.size();
  r.compared_frames = compared.size();
  if (query.empty() || compared.empty()) return r;
  // `<= limit` everywhere: strict `< D` is `<= D - 1`.
  const int limit = opts.strict_less ? opts.distance_threshold - 1 : opts.distance_threshold;
  r.query_matched = count_matched(query, compared, limit);
  r.compared_matched = count_matched(compared, query, limit);
  r.query_match_percent = 100.0 * double(r.query_matched) / double(r.query_frames);
  r.compared_match_percent = 100.0 * double(r.compared_matched) / double(r.compared_frames);
  // At least one frame in common: with P_q = P_c = 0 the percentages alone would make every
  // pair a match, which no index lookup (VideoIndex, vpdq_store.h) can reproduce.
  r.match = r.query_matched > 0 && r.query_match_percent >= opts.query_match_percent &&
            r.compared_match_percent >= opts.compared_match_percent;
  return r;
}

VideoMatchResult match_videos(std::span<const VpdqFrame> query, std::span<const VpdqFrame> compared,
                              const VideoMatchOptions& opts) {
  const std::vector<Hash256> q = matchable_hashes(query, opts);
  const std::vector<Hash256> c = matchable_hashes(compared, opts);
  return match_hash_sets(q, c, opts);
}

}  // namespace hashmatch::video
