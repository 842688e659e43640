// Video-level matching (vPDQ's rule) on synthetic frame arrays and on the reference hash files.
#include <gtest/gtest.h>

#include <random>

#include "tests/testutil/testutil.h"
#include "video/vpdq_io.h"
#include "video/vpdq_match.h"

namespace hashmatch::video {
namespace {

Hash256 random_hash(std::mt19937_64& rng) {
  Hash256 h;
  for (auto& w : h.w) w = rng();
  return h;
}

Hash256 flip_bits(Hash256 h, int n, std::mt19937_64& rng) {
  std::vector<int> bits(256);
  for (int i = 0; i < 256; ++i) bits[i] = i;
  std::shuffle(bits.begin(), bits.end(), rng);
  for (int i = 0; i < n; ++i) h.w[bits[i] >> 6] ^= uint64_t{1} << (bits[i] & 63);
  return h;
}

std::vector<VpdqFrame> frames_of(const std::vector<Hash256>& hs, int quality = 100) {
  std::vector<VpdqFrame> f;
  for (std::size_t i = 0; i < hs.size(); ++i) f.push_back({int64_t(i), quality, hs[i], double(i)});
  return f;
}

TEST(VpdqMatch, IdenticalVideosMatchFully) {
  std::mt19937_64 rng(1);
  std::vector<Hash256> hs;
  for (int i = 0; i < 20; ++i) hs.push_back(random_hash(rng));
  const auto r = match_videos(frames_of(hs), frames_of(hs));
  EXPECT_TRUE(r.match);
  EXPECT_DOUBLE_EQ(r.query_match_percent, 100);
  EXPECT_DOUBLE_EQ(r.compared_match_percent, 100);
  EXPECT_EQ(r.query_frames, 20u);
}

TEST(VpdqMatch, DistanceBoundaryIsInclusiveUnlessStrict) {
  for (uint64_t seed = 1; seed <= 4; ++seed) {
    std::mt19937_64 rng(seed);
    const Hash256 a = random_hash(rng);
    const Hash256 at = flip_bits(a, 31, rng), past = flip_bits(a, 32, rng);
    ASSERT_EQ(hamming_distance(a, at), 31);
    ASSERT_EQ(hamming_distance(a, past), 32);
    EXPECT_TRUE(match_videos(frames_of({a}), frames_of({at})).match);
    EXPECT_FALSE(match_videos(frames_of({a}), frames_of({past})).match);
    VideoMatchOptions strict;
    strict.strict_less = true;  // the C++ brute matcher: < D
    EXPECT_FALSE(match_videos(frames_of({a}), frames_of({at}), strict).match);
    EXPECT_TRUE(match_videos(frames_of({a}), frames_of({flip_bits(a, 30, rng)}), strict).match);
    VideoMatchOptions d10;
    d10.distance_threshold = 10;
    EXPECT_TRUE(match_videos(frames_of({a}), frames_of({flip_bits(a, 10, rng)}), d10).match);
    EXPECT_FALSE(match_videos(frames_of({a}), frames_of({flip_bits(a, 11, rng)}), d10).match);
  }
}

TEST(VpdqMatch, PercentagesAndThresholds) {
  std::mt19937_64 rng(7);
  std::vector<Hash256> q, c;
  for (int i = 0; i < 10; ++i) q.push_back(random_hash(rng));
  // The other video holds 8 of the query's 10 frames (slightly changed) and 2 frames of its own.
  for (int i = 0; i < 8; ++i) c.push_back(flip_bits(q[i], 6, rng));
  for (int i = 0; i < 2; ++i) c.push_back(random_hash(rng));
  auto r = match_videos(frames_of(q), frames_of(c));
  EXPECT_EQ(r.query_matched, 8u);
  EXPECT_EQ(r.compared_matched, 8u);
  EXPECT_DOUBLE_EQ(r.query_match_percent, 80);
  EXPECT_TRUE(r.match);  // 80 >= 80
  VideoMatchOptions o;
  o.query_match_percent = 80.1;
  EXPECT_FALSE(match_videos(frames_of(q), frames_of(c), o).match);
  o.query_match_percent = 50;
  o.compared_match_percent = 90;
  EXPECT_FALSE(match_videos(frames_of(q), frames_of(c), o).match);
  o.compared_match_percent = 80;
  EXPECT_TRUE(match_videos(frames_of(q), frames_of(c), o).match);
  // Thresholds of 0: a pair still needs a frame in common (as a store's index lookup finds it).
  o.query_match_percent = 0;
  o.compared_match_percent = 0;
  EXPECT_TRUE(match_videos(frames_of(q), frames_of(c), o).match);
  std::vector<Hash256> other;
  for (int i = 0; i < 5; ++i) other.push_back(random_hash(rng));
  const auto none = match_videos(frames_of(q), frames_of(other), o);
  EXPECT_EQ(none.query_matched, 0u);
  EXPECT_FALSE(none.match);
}

TEST(VpdqMatch, QualityFilterAndDedupe) {
  std::mt19937_64 rng(3);
  const Hash256 a = random_hash(rng), b = random_hash(rng);
  // Query: a (good), b (poor). Other: a only. Poor frames do not count on either side.
  auto q = frames_of({a, b});
  q[1].quality = 49;
  auto r = match_videos(q, frames_of({a}));
  EXPECT_EQ(r.query_frames, 1u);
  EXPECT_TRUE(r.match);
  q[1].quality = 50;  // F is inclusive: quality >= 50 stays
  r = match_videos(q, frames_of({a}));
  EXPECT_EQ(r.query_frames, 2u);
  EXPECT_FALSE(r.match);  // 50%
  // Dedupe: a static video (the same hash 9 times) and one other frame.
  std::vector<Hash256> stat(9, a);
  stat.push_back(b);
  r = match_videos(frames_of(stat), frames_of({a}));
  EXPECT_EQ(r.query_frames, 2u);
  EXPECT_DOUBLE_EQ(r.query_match_percent, 50);
  VideoMatchOptions no_dedupe;
  no_dedupe.unique_frames = false;
  r = match_videos(frames_of(stat), frames_of({a}), no_dedupe);
  EXPECT_EQ(r.query_frames, 10u);
  EXPECT_DOUBLE_EQ(r.query_match_percent, 90);
}

TEST(VpdqMatch, EmptySidesNeverMatch) {
  std::mt19937_64 rng(5);
  const Hash256 a = random_hash(rng);
  EXPECT_FALSE(match_videos({}, frames_of({a})).match);
  EXPECT_FALSE(match_videos(frames_of({a}), {}).match);
  EXPECT_FALSE(match_videos(frames_of({a}, 10), frames_of({a}, 10)).match);  // all poor quality
}

// The reference's own hash files: edits of the same footage match, unrelated footage does not.
TEST(VpdqMatch, ReferenceSampleHashes) {
  const auto dir = test::testdata_dir() / "vpdq" / "sample-hashes";
  auto load = [&](const std::string& n) { return read_vpdq_file(dir / (n + ".txt")); };
  const auto orig = load("chair-orig-22-sd-bar");
  // Colour edits, a logo, a smaller frame size and a trimmed cut of the same footage match.
  for (const char* edit : {"chair-22-sd-grey-bar", "chair-22-sd-sepia-bar",
                           "chair-22-with-small-logo-bar", "chair-orig-22-sd-bar-128x128",
                           "chair-19-sd-bar", "chair-20-sd-bar"}) {
    const auto r = match_videos(load(edit), orig);
    EXPECT_TRUE(r.match) << edit << ": q% " << r.query_match_percent;
  }
  // The trimmed cut holds all its frames in the original, not the other way round.
  const auto trimmed = match_videos(orig, load("chair-19-sd-bar"));
  EXPECT_GT(trimmed.query_match_percent, 80);
  EXPECT_LT(trimmed.query_match_percent, 95);
  EXPECT_TRUE(match_videos(load("pattern-longer-no-bar"), load("pattern-hd-no-bar")).match);
  // Unrelated footage does not match; neither does letterboxing (the bars change every frame's
  // PDQ hash: a known limit of vPDQ).
  for (const char* other : {"pattern-sd-grey-bar", "doorknob-hd-no-bar", "pattern-longer-no-bar",
                            "chair-orig-22-hd-no-bar"}) {
    const auto r = match_videos(load(other), orig);
    EXPECT_FALSE(r.match) << other << ": q% " << r.query_match_percent;
    EXPECT_LT(r.query_match_percent, 10) << other;
  }
}

}  // namespace
}  // namespace hashmatch::video
