// Video-level matching as vPDQ defines it, over frame-hash arrays (from hash_video, a vPDQ file or
// a hash-list store alike).
//
//   1. Both sides: drop frames of quality < quality_threshold (F, default 50), then keep one frame
//      per distinct hash (first occurrence), as python-threatexchange's vPDQ index (HMA's) does;
//      its brute matcher dedupes first (`dedupe_first`), which loses a hash whose first copy is of
//      low quality (a fade-in) although later copies are good.
//   2. q% = share of the query's remaining frames that have some frame of the other video within
//      distance D (default 31); c% = the same the other way round.
//   3. Match iff q% >= query_match_percent (P_q, default 80) and c% >= compared_match_percent
//      (P_c, default 0). A side left with no frame gives 0% and no match; so does a pair with no
//      frame in common (differs from the reference only for P_q = 0, where its rule makes every
//      pair a match and an index lookup could not agree with it).
// The distance test is `distance <= D`, as python-threatexchange's vPDQ signal and PDQ itself
// (Hash256's pdq_match); `strict_less` gives the reference C++ brute matcher's `distance < D`.
// (Between PDQ hashes of 128 set bits distances are even, so with D = 31 both agree.)
#pragma once

#include <cstddef>
#include <span>
#include <vector>

#include "video/vpdq.h"

namespace hashmatch::video {

struct VideoMatchOptions {
  int quality_threshold = 50;          // F: frames below are ignored on both sides
  int distance_threshold = 31;         // D
  double query_match_percent = 80.0;   // P_q
  double compared_match_percent = 0.0; // P_c
  bool unique_frames = true;           // one frame per distinct hash (Python matchers)
  bool dedupe_first = false;           // dedupe before the quality filter, not after
  bool strict_less = false;            // distance < D (C++ brute matcher) instead of <= D
};

struct VideoMatchResult {
  double query_match_percent = 0;     // q%
  double compared_match_percent = 0;  // c%
  bool match = false;
  std::size_t query_frames = 0;       // frames considered after dedupe and quality filter
  std::size_t compared_frames = 0;
  std::size_t query_matched = 0;      // of those, frames with a partner within D
  std::size_t compared_matched = 0;
};

// The frames that take part in matching: quality-filtered and deduplicated (when asked), in the
// order opts.dedupe_first says.
std::vector<VpdqFrame> matchable_frames(std::span<const VpdqFrame> frames,
                                        const VideoMatchOptions& opts);
// Their hashes.
std::vector<Hash256> matchable_hashes(std::span<const VpdqFrame> frames,
                                      const VideoMatchOptions& opts);

VideoMatchResult match_videos(std::span<const VpdqFrame> query, std::span<const VpdqFrame> compared,
                              const VideoMatchOptions& opts = {});

// The same over already filtered hash arrays (e.g. matchable_hashes of a stored video).
VideoMatchResult match_hash_sets(std::span<const Hash256> query, std::span<const Hash256> compared,
                                 const VideoMatchOptions& opts = {});

}  // namespace hashmatch::video
