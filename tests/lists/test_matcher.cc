// ListMatcher / ListSnapshot: thresholds at T and T+1, dihedral variants (synthetic and real
// rotated images), exact lookups, agreement with a brute-force oracle, and the atomic swap under
// concurrent readers.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <set>
#include <thread>

#include "host/common/error.h"
#include "host/image/decode.h"
#include "host/lists/frame_matches.h"
#include "host/lists/list_matcher.h"
#include "host/pdq/pdq.h"
#include "tests/lists/lists_testutil.h"
#include "tests/testutil/testutil.h"

namespace hashmatch {
namespace {

using test::entry;
using test::flip_bits;
using test::pdq_value;
using test::random_hash;

class Matcher : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = (dir_ / "m.db").string();
    store_ = std::make_unique<ListStore>(db_);
    rng_.seed(test::fresh_seed(::testing::UnitTest::GetInstance()->current_test_info()->name()));
  }
  ListMatcherOptions cpu() {
    ListMatcherOptions o;
    o.matcher.backend = Backend::kCpu;
    return o;
  }
  std::vector<ListMatch> one(const ListSnapshot& s, const PdqQuery& q, const QueryOptions& o = {}) {
    return s.match_pdq(std::span<const PdqQuery>(&q, 1), o)[0];
  }
  test::TempDir dir_;
  std::string db_;
  std::unique_ptr<ListStore> store_;
  std::mt19937_64 rng_;
};

TEST_F(Matcher, ThresholdIsInclusiveAtTAndNotTPlusOne) {
  const Hash256 q = random_hash(rng_);
  for (int t : {0, 8, 31, 70}) {
    const std::string name = "t" + std::to_string(t);
    store_->create_list(name, t);
    store_->add_entries(name, {entry(pdq_value(flip_bits(q, t, rng_)), "at"),
                               entry(pdq_value(flip_bits(q, t + 1, rng_)), "past")});
  }
  ListMatcher m(db_, cpu());
  auto snap = m.snapshot();
  for (int t : {0, 8, 31, 70}) {
    QueryOptions o;
    o.lists = {"t" + std::to_string(t)};
    auto r = one(*snap, PdqQuery::original(q), o);
    ASSERT_EQ(r.size(), 1u) << "threshold " << t;
    EXPECT_EQ(r[0].id, "at");
    EXPECT_EQ(r[0].distance, t);
    EXPECT_EQ(r[0].threshold, t);
    // An override applies to every list: T+1 now reaches the second entry.
    o.threshold = t + 1;
    r = one(*snap, PdqQuery::original(q), o);
    ASSERT_EQ(r.size(), 2u);
    EXPECT_EQ(r[1].id, "past");
    EXPECT_EQ(r[1].distance, t + 1);
  }
  QueryOptions bad;
  bad.threshold = 257;
  EXPECT_THROW(one(*snap, PdqQuery::original(q), bad), InvalidArgument);
  bad.threshold.reset();
  bad.lists = {"nope"};
  EXPECT_THROW(one(*snap, PdqQuery::original(q), bad), InvalidArgument);
}

TEST_F(Matcher, EachDihedralVariantIsReported) {
  // A query whose 8 variants are unrelated random hashes; the list holds, for each variant v, an
  // entry a few bits from variant v only.
  std::array<Hash256, kNumDihedral> variants;
  for (auto& v : variants) v = random_hash(rng_);
  std::vector<NewEntry> es;
  for (int v = 0; v < kNumDihedral; ++v) {
    es.push_back(entry(pdq_value(flip_bits(variants[v], v + 1, rng_)),
                       std::string(dihedral_name(static_cast<Dihedral>(v)))));
  }
  store_->add_entries("d", es);
  ListMatcher m(db_, cpu());
  auto snap = m.snapshot();
  const PdqQuery q = PdqQuery::dihedral(variants);
  // Without --dihedral only the original matches.
  auto r = one(*snap, q);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].variant, Dihedral::kOriginal);
  QueryOptions o;
  o.dihedral = true;
  r = one(*snap, q, o);
  ASSERT_EQ(r.size(), 8u);
  for (const ListMatch& mt : r) {
    EXPECT_EQ(dihedral_name(mt.variant), mt.id);
    EXPECT_EQ(mt.distance, static_cast<int>(mt.variant) + 1);
  }
  // An entry reachable through several variants is reported once, with the closest.
  store_->add_entries("e", {entry(pdq_value(flip_bits(variants[5], 2, rng_)), "x")});
  m.reload();
  snap = m.snapshot();
  std::array<Hash256, kNumDihedral> near = variants;
  near[2] = flip_bits(variants[5], 9, rng_);  // rot180 variant also close, but farther
  o.lists = {"e"};
  r = one(*snap, PdqQuery::dihedral(near), o);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].variant, Dihedral::kFlipY);
  EXPECT_EQ(r[0].distance, 2);
}

// Real images: the list holds the hashes of the rotated and flipped files; the original image's
// dihedral hashes find each one through the right variant.
TEST_F(Matcher, RotatedImagesMatchThroughTheirVariant) {
  const auto dir = test::testdata_dir() / "pdq" / "reg-test-input" / "dih";
  const char* files[] = {"bridge-1-original.jpg",    "bridge-2-rotate-90.jpg",
                         "bridge-3-rotate-180.jpg",  "bridge-4-rotate-270.jpg",
                         "bridge-5-flipx.jpg",       "bridge-6-flipy.jpg",
                         "bridge-7-flip-plus-1.jpg", "bridge-8-flip-minus-1.jpg"};
  pdq::PdqHasher hasher;
  auto decode = [](const std::filesystem::path& p) {
    const auto bytes = test::read_file(p);
    return decode_image(bytes, DecodeLimits{});
  };
  std::vector<NewEntry> es;
  for (int v = 1; v < kNumDihedral; ++v) {
    es.push_back(entry(pdq_value(hasher.hash(decode(dir / files[v])).hash), files[v]));
  }
  store_->add_entries("bridge", es);
  ListMatcher m(db_, cpu());
  const pdq::PdqDihedral orig = hasher.hash_dihedral(decode(dir / files[0]));
  QueryOptions o;
  o.dihedral = true;
  const auto r = one(*m.snapshot(), PdqQuery::dihedral(orig.hashes), o);
  ASSERT_EQ(r.size(), 7u);
  std::map<std::string, Dihedral> got;
  for (const ListMatch& mt : r) got[mt.id] = mt.variant;
  for (int v = 1; v < kNumDihedral; ++v) {
    EXPECT_EQ(got[files[v]], static_cast<Dihedral>(v)) << files[v];
  }
}

TEST_F(Matcher, ExactLookups) {
  const HashValue md5 = HashValue::parse(HashAlgo::kMd5, test::random_hex(rng_, 32));
  const HashValue sha1 = HashValue::parse(HashAlgo::kSha1, test::random_hex(rng_, 40));
  const HashValue sha256 = HashValue::parse(HashAlgo::kSha256, test::random_hex(rng_, 64));
  std::vector<NewEntry> es;
  for (int i = 0; i < 500; ++i) {  // noise
    es.push_back(entry(HashValue::parse(HashAlgo::kMd5, test::random_hex(rng_, 32)),
                       test::numbered("n", i)));
  }
  es.push_back(entry(md5, "r1", "A1"));
  es.push_back(entry(sha1, "r1", "A1"));
  es.push_back(entry(sha256, "r2"));
  const HashValue anon = HashValue::parse(HashAlgo::kMd5, test::random_hex(rng_, 32));
  es.push_back(entry(anon));  // no id: the hash hex is its id
  store_->add_entries("a", es);
  store_->add_entries("b", {entry(md5, "other")});
  ListMatcher m(db_, cpu());
  auto snap = m.snapshot();
  auto r = snap->match_exact(md5);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].list, "a");
  EXPECT_EQ(r[0].id, "r1");
  EXPECT_EQ(r[0].labels.category, "A1");
  EXPECT_EQ(r[0].hash, md5.to_hex());
  EXPECT_EQ(r[1].list, "b");
  ExactDigests d;
  d.md5 = test::random_hex(rng_, 32);  // no match
  d.sha1 = sha1.to_hex();
  d.sha256 = sha256.to_hex();
  r = snap->match_digests(d);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].algo, HashAlgo::kSha1);
  EXPECT_EQ(r[1].algo, HashAlgo::kSha256);
  EXPECT_EQ(r[1].id, "r2");
  r = snap->match_exact(anon);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].id, anon.to_hex());
  QueryOptions only_b;
  only_b.lists = {"b"};
  EXPECT_EQ(snap->match_exact(sha1, only_b).size(), 0u);
}

// Random lists and queries against a brute-force oracle written here.
TEST_F(Matcher, AgreesWithBruteForce) {
  std::vector<Hash256> pool;
  for (int i = 0; i < 64; ++i) pool.push_back(random_hash(rng_));
  std::map<std::string, std::vector<std::pair<std::string, Hash256>>> lists;
  const std::map<std::string, int> thresholds = {{"a", 31}, {"b", 10}, {"c", 60}};
  for (const auto& [name, t] : thresholds) {
    store_->create_list(name, t);
    std::vector<NewEntry> es;
    for (int i = 0; i < 400; ++i) {
      const Hash256 h = flip_bits(pool[rng_() % pool.size()], static_cast<int>(rng_() % 80), rng_);
      const std::string id = name + std::to_string(i);
      lists[name].emplace_back(id, h);
      es.push_back(entry(pdq_value(h), id));
    }
    store_->add_entries(name, es);
  }
  std::vector<PdqQuery> queries;
  for (int i = 0; i < 50; ++i) {
    queries.push_back(PdqQuery::original(
        flip_bits(pool[rng_() % pool.size()], static_cast<int>(rng_() % 40), rng_)));
  }
  ListMatcher m(db_, cpu());
  for (std::optional<int> override : {std::optional<int>(), std::optional<int>(20)}) {
    QueryOptions o;
    o.threshold = override;
    const auto got = m.snapshot()->match_pdq(queries, o);
    ASSERT_EQ(got.size(), queries.size());
    for (std::size_t q = 0; q < queries.size(); ++q) {
      std::set<std::pair<std::string, int>> want, have;
      for (const auto& [name, entries] : lists) {
        const int t = override.value_or(thresholds.at(name));
        for (const auto& [id, h] : entries) {
          const int d = hamming_distance(h, queries[q].variants[0]);
          if (d <= t) want.emplace(id, d);
        }
      }
      for (const ListMatch& mt : got[q]) have.emplace(mt.id, mt.distance);
      EXPECT_EQ(have, want) << "query " << q;
      for (std::size_t i = 1; i < got[q].size(); ++i) {
        EXPECT_LE(got[q][i - 1].distance, got[q][i].distance);
      }
    }
  }
}

TEST_F(Matcher, ReloadRebuildsOnlyWhatChanged) {
  const Hash256 h = random_hash(rng_);
  store_->add_entries("a", {entry(pdq_value(h), "1")});
  ListMatcherOptions o = cpu();
  ListMatcher m(db_, o);
  auto s1 = m.snapshot();
  EXPECT_FALSE(m.reload());  // nothing changed
  EXPECT_EQ(m.snapshot(), s1);
  store_->add_entries("b", {entry(pdq_value(h), "2")});
  EXPECT_TRUE(m.reload());
  auto s2 = m.snapshot();
  EXPECT_NE(s2, s1);
  EXPECT_EQ(one(*s1, PdqQuery::original(h)).size(), 1u);  // the old snapshot is unchanged
  EXPECT_EQ(one(*s2, PdqQuery::original(h)).size(), 2u);
  store_->set_threshold("a", 5);
  m.reload();
  EXPECT_EQ(m.snapshot()->lists()[0].info.threshold, 5);
  store_->drop_list("b");
  m.reload();
  EXPECT_FALSE(m.snapshot()->has_list("b"));
  // A matcher restricted to some lists; a missing one is an error.
  o.lists = {"a"};
  EXPECT_EQ(ListMatcher(db_, o).snapshot()->lists().size(), 1u);
  o.lists = {"zzz"};
  EXPECT_THROW(ListMatcher(db_, o), InvalidArgument);
}

// A writer replaces the list's K entries by K new ones in each import (remove + add in one
// transaction) and reloads; readers must always see exactly K entries, all of one generation.
TEST_F(Matcher, AtomicSwapUnderConcurrentReaders) {
  constexpr int K = 64, kRounds = 40;
  const Hash256 h = random_hash(rng_);
  auto batch = [&](int round) {
    std::vector<NewEntry> es;
    for (int j = 0; j < K; ++j) {
      es.push_back(entry(pdq_value(flip_bits(h, j % 8, rng_)),
                         test::numbered(test::numbered("r", round) + "-", j)));
    }
    return es;
  };
  store_->add_entries("live", batch(0));
  ListMatcher m(db_, cpu());
  std::atomic<bool> stop{false};
  std::atomic<int> checks{0}, failures{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&] {
      int64_t last_version = 0;
      while (!stop.load()) {
        auto snap = m.snapshot();
        if (snap->version() < last_version) ++failures;
        last_version = snap->version();
        const auto r = one(*snap, PdqQuery::original(h));
        std::set<std::string> rounds;
        for (const ListMatch& mt : r) rounds.insert(mt.id.substr(0, mt.id.find('-')));
        if (r.size() != static_cast<std::size_t>(K) || rounds.size() != 1) ++failures;
        ++checks;
      }
    });
  }
  for (int round = 1; round <= kRounds; ++round) {
    auto imp = store_->begin_import("live", "writer", "api");
    for (int j = 0; j < K; ++j)
      imp->remove_id(test::numbered(test::numbered("r", round - 1) + "-", j));
    for (const NewEntry& e : batch(round)) imp->add(e, "w");
    imp->commit();
    m.reload();
  }
  stop = true;
  for (auto& t : readers) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GT(checks.load(), kRounds);
  const auto r = one(*m.snapshot(), PdqQuery::original(h));
  ASSERT_EQ(r.size(), static_cast<std::size_t>(K));
  EXPECT_EQ(r[0].id.substr(0, r[0].id.find('-')), "r" + std::to_string(kRounds));
}

// The queries of one search of a video's frames: one per distinct hash of quality >= min_quality,
// in the frames' order.
std::vector<PdqQuery> video_frame_queries(std::span<const VideoFrameHash> frames, int min_quality) {
  std::vector<PdqQuery> queries;
  std::set<Hash256> seen;
  for (const VideoFrameHash& f : frames) {
    if (f.quality < min_quality || !seen.insert(f.hash).second) continue;
    queries.push_back(PdqQuery::original(f.hash));
  }
  return queries;
}

// A video's frames searched in chunks (match_video_frames) give what one search of every distinct
// frame gives (video_frame_queries, answers counted at once): the same entries, closest matches and
// frame counts, whatever the chunk size; frames below the quality limit and repeated hashes are
// left out alike.
TEST_F(Matcher, VideoFramesSearchedInChunksMatchAsInOneSearch) {
  std::vector<Hash256> listed;
  for (const char* list : {"a", "b"}) {
    std::vector<NewEntry> es;
    for (int i = 0; i < 20; ++i) {
      listed.push_back(random_hash(rng_));
      es.push_back(entry(pdq_value(listed.back()), std::string(list) + std::to_string(i)));
    }
    store_->add_entries(list, es);
  }
  std::vector<VideoFrameHash> frames;
  std::uniform_int_distribution<int> pick(0, static_cast<int>(listed.size()) - 1), bits(0, 45),
      quality(0, 100);
  for (int i = 0; i < 300; ++i) {
    VideoFrameHash f;
    f.frame_number = i;
    f.quality = quality(rng_);
    f.hash = i % 5 == 4 ? frames[i - 3].hash  // repeats
                        : flip_bits(listed[pick(rng_)], bits(rng_), rng_);
    frames.push_back(f);
  }
  ListMatcher m(db_, cpu());
  auto snap = m.snapshot();
  QueryOptions o;
  o.dihedral = true;  // ignored for frames
  const std::vector<PdqQuery> queries = video_frame_queries(frames, 50);
  QueryOptions plain = o;
  plain.dihedral = false;
  FrameEntryCounter at_once;
  at_once.add(snap->match_pdq(std::span<const PdqQuery>(queries), plain));
  const std::vector<FrameEntryMatch> want = at_once.take();
  ASSERT_GE(want.size(), 10u) << "too few matches for the test to mean much";
  for (std::size_t chunk : {std::size_t{1}, std::size_t{7}, std::size_t{64}, std::size_t{16384}}) {
    const VideoFrameMatches got = match_video_frames(*snap, frames, 50, o, chunk);
    EXPECT_EQ(got.queries, queries.size()) << "chunk " << chunk;
    ASSERT_EQ(got.entries.size(), want.size()) << "chunk " << chunk;
    for (std::size_t i = 0; i < want.size(); ++i) {
      EXPECT_EQ(got.entries[i].best.list, want[i].best.list);
      EXPECT_EQ(got.entries[i].best.id, want[i].best.id);
      EXPECT_EQ(got.entries[i].best.distance, want[i].best.distance) << want[i].best.id;
      EXPECT_EQ(got.entries[i].frames_matched, want[i].frames_matched) << want[i].best.id;
    }
  }
}

}  // namespace
}  // namespace hashmatch
