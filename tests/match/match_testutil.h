// Shared helpers of the matcher tests: random lists with planted near-duplicates, the brute-force
// oracle (a plain double loop over hamming_distance), fresh seeds per run.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "host/common/hash256.h"
#include "host/match/matcher.h"

namespace hashmatch::test {

// A fresh seed per run (HASHMATCH_TEST_SEED=N replays one), printed so a failure can be replayed.
inline uint64_t fresh_seed(const char* what) {
  uint64_t seed;
  if (const char* env = std::getenv("HASHMATCH_TEST_SEED")) {
    seed = std::strtoull(env, nullptr, 10);
  } else {
    std::random_device rd;
    seed = (uint64_t(rd()) << 32) ^ rd();
  }
  std::cout << "[ seed     ] " << what << ": HASHMATCH_TEST_SEED=" << seed << "\n";
  ::testing::Test::RecordProperty(std::string("seed_") + what, std::to_string(seed));
  return seed;
}

inline Hash256 random_hash(std::mt19937_64& rng) {
  Hash256 h;
  for (auto& w : h.w) w = rng();
  return h;
}

// A hash with exactly `ones` bits set (PDQ hashes have 128).
inline Hash256 random_hash_with_popcount(std::mt19937_64& rng, int ones) {
  std::vector<int> bits(256);
  for (int i = 0; i < 256; ++i) bits[i] = i;
  std::shuffle(bits.begin(), bits.end(), rng);
  Hash256 h;
  for (int i = 0; i < ones; ++i) h.set_bit(bits[i]);
  return h;
}

// `h` with exactly `d` distinct bits flipped.
inline Hash256 flip_bits(const Hash256& h, int d, std::mt19937_64& rng) {
  std::vector<int> bits(256);
  for (int i = 0; i < 256; ++i) bits[i] = i;
  std::shuffle(bits.begin(), bits.end(), rng);
  Hash256 r = h;
  for (int i = 0; i < d; ++i) r.w[bits[i] >> 6] ^= uint64_t{1} << (bits[i] & 63);
  return r;
}

// `h` with `d` bits flipped, keeping the popcount (d/2 ones cleared, d/2 zeros set; d even).
inline Hash256 swap_bits(const Hash256& h, int d, std::mt19937_64& rng) {
  std::vector<int> ones, zeros;
  for (int i = 0; i < 256; ++i) (h.bit(i) ? ones : zeros).push_back(i);
  std::shuffle(ones.begin(), ones.end(), rng);
  std::shuffle(zeros.begin(), zeros.end(), rng);
  Hash256 r = h;
  for (int i = 0; i < d / 2; ++i) {
    r.w[ones[i] >> 6] ^= uint64_t{1} << (ones[i] & 63);
    r.w[zeros[i] >> 6] ^= uint64_t{1} << (zeros[i] & 63);
  }
  return r;
}

struct Planted {
  uint32_t query;
  uint32_t index;
  int distance;
};

// A list of n random hashes and nq queries; for each of the first nq/2 queries, entries at
// distances 0, t and t+1 (when <= 256) are planted at random positions. `pdq_like`: every hash has
// exactly 128 bits set (as real PDQ hashes do); otherwise uniform random bits, plus a few
// degenerate entries (all zeros, all ones) to exercise every popcount bucket edge.
struct PlantedSet {
  std::vector<Hash256> list;
  std::vector<Hash256> queries;
  std::vector<Planted> planted;
};

inline PlantedSet make_planted(std::mt19937_64& rng, std::size_t n, std::size_t nq, int t,
                               bool pdq_like = false) {
  PlantedSet s;
  s.list.resize(n);
  for (auto& h : s.list) h = pdq_like ? random_hash_with_popcount(rng, 128) : random_hash(rng);
  s.queries.resize(nq);
  for (auto& q : s.queries) q = pdq_like ? random_hash_with_popcount(rng, 128) : random_hash(rng);
  if (n == 0) return s;
  std::uniform_int_distribution<std::size_t> pos(0, n - 1);
  std::vector<bool> used(n, false);
  auto free_pos = [&] {
    for (;;) {
      const std::size_t p = pos(rng);
      if (!used[p]) {
        used[p] = true;
        return p;
      }
    }
  };
  if (!pdq_like && n > 8) {
    s.list[free_pos()] = Hash256{};
    Hash256 ones;
    ones.w = {~0ull, ~0ull, ~0ull, ~0ull};
    s.list[free_pos()] = ones;
  }
  for (std::size_t q = 0; q < nq / 2 && used.size() > 3 * (q + 2); ++q) {
    // Popcount-preserving flips change an even number of bits: pdq_like plants the largest even
    // distance <= t and the smallest even one > t instead of t and t + 1.
    const int at = pdq_like ? t - (t % 2) : t;
    const int past = pdq_like ? at + 2 : t + 1;
    for (int d : {0, at, past}) {
      if (d > 256) continue;
      const std::size_t p = free_pos();
      s.list[p] = pdq_like ? swap_bits(s.queries[q], d, rng) : flip_bits(s.queries[q], d, rng);
      s.planted.push_back({uint32_t(q), uint32_t(p), d});
    }
  }
  return s;
}

// The oracle: every pair within t, sorted.
inline std::vector<PdqHit> oracle(const std::vector<Hash256>& list,
                                  const std::vector<Hash256>& queries, int t) {
  std::vector<PdqHit> out;
  for (std::size_t q = 0; q < queries.size(); ++q) {
    for (std::size_t i = 0; i < list.size(); ++i) {
      const int d = hamming_distance(queries[q], list[i]);
      if (pdq_match(d, t)) out.push_back({uint32_t(q), uint32_t(i), d});
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

inline std::vector<PdqHit> run_sorted(const PdqMatcher& m, const std::vector<Hash256>& queries,
                                      int t) {
  std::vector<PdqHit> out;
  m.range_search(queries, t, out);
  std::sort(out.begin(), out.end());
  return out;
}

// Checks the planted boundaries explicitly: distance <= t found, t + 1 not.
inline void expect_planted(const std::vector<PdqHit>& sorted_hits, const PlantedSet& s, int t) {
  for (const Planted& p : s.planted) {
    const PdqHit h{p.query, p.index, p.distance};
    const bool found = std::binary_search(sorted_hits.begin(), sorted_hits.end(), h);
    if (p.distance <= t) {
      EXPECT_TRUE(found) << "planted hit at distance " << p.distance << " (t=" << t
                         << ") missing: query " << p.query << " index " << p.index;
    } else {
      EXPECT_FALSE(found) << "entry at distance " << p.distance << " reported for t=" << t;
    }
  }
}

// Lines of 64 hex characters (blank lines and '#' comments skipped).
inline std::vector<Hash256> read_hash_lines(const std::string& path) {
  std::vector<Hash256> out;
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << "cannot read " << path;
  std::string line;
  while (std::getline(in, line)) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    std::string hex = line.substr(0, line.find_first_of(" \t,"));
    out.push_back(Hash256::from_hex(hex));
  }
  return out;
}

// Describes the first difference between two sorted hit lists (for failure messages).
inline std::string first_difference(const std::vector<PdqHit>& want,
                                    const std::vector<PdqHit>& got) {
  std::vector<PdqHit> missing, extra;
  std::set_difference(want.begin(), want.end(), got.begin(), got.end(),
                      std::back_inserter(missing));
  std::set_difference(got.begin(), got.end(), want.begin(), want.end(),
                      std::back_inserter(extra));
  std::string s = std::to_string(missing.size()) + " missing, " + std::to_string(extra.size()) +
                  " extra";
  if (!missing.empty()) {
    s += "; first missing q=" + std::to_string(missing[0].query) +
         " i=" + std::to_string(missing[0].index) + " d=" + std::to_string(missing[0].distance);
  }
  if (!extra.empty()) {
    s += "; first extra q=" + std::to_string(extra[0].query) + " i=" + std::to_string(extra[0].index) +
         " d=" + std::to_string(extra[0].distance);
  }
  return s;
}

}  // namespace hashmatch::test
