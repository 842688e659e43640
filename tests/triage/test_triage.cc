#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <random>

#include "host/image/decode.h"
#include "host/image/image.h"
#include "host/pdq/pdq.h"
#include "host/triage/triage.h"
#include "tests/testutil/encoders.h"
#include "tests/testutil/testutil.h"
#include "tests/triage/smooth_image.h"

namespace hashmatch::triage {
namespace {

uint32_t fresh_seed() {
  const uint32_t s = std::random_device{}();
  std::printf("seed %u\n", s);
  return s;
}

Hash256 random_hash(std::mt19937_64& rng) {
  Hash256 h;
  for (auto& w : h.w) w = rng();
  return h;
}

// Flips `n` distinct bits of h, avoiding those in `used` (and adding them to it).
Hash256 flip(Hash256 h, int n, std::mt19937_64& rng, std::set<int>& used) {
  while (n > 0) {
    const int b = static_cast<int>(rng() % 256);
    if (!used.insert(b).second) continue;
    h.w[b >> 6] ^= uint64_t{1} << (b & 63);
    --n;
  }
  return h;
}

TriageItem pdq_item(const std::string& path, const Hash256& h, int quality = 100) {
  TriageItem it;
  it.path = path;
  it.pdq = h;
  it.pdq_quality = quality;
  return it;
}

// Oracle: naive all-pairs union-find with the same rules (PDQ, quality cut-off, MD5).
std::vector<int> oracle(const std::vector<TriageItem>& items, int t, int min_q) {
  DisjointSets ds(items.size());
  for (std::size_t i = 0; i < items.size(); ++i) {
    for (std::size_t j = i + 1; j < items.size(); ++j) {
      const auto& a = items[i];
      const auto& b = items[j];
      if (!a.ok || !b.ok) continue;
      const bool pdq = a.pdq && b.pdq && a.pdq_quality >= min_q && b.pdq_quality >= min_q &&
                       hamming_distance(*a.pdq, *b.pdq) <= t;
      const bool md5 = !a.md5.empty() && a.md5 == b.md5;
      if (pdq || md5) ds.unite(i, j);
    }
  }
  std::vector<int> out(items.size(), -1);
  std::map<std::size_t, int> ids;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (!items[i].ok) continue;
    auto [it, fresh] = ids.emplace(ds.find(i), static_cast<int>(ids.size()));
    out[i] = it->second;
  }
  return out;
}

TEST(Cluster, ChainsAreOneClusterEvenBeyondTheThreshold) {
  std::mt19937_64 rng(fresh_seed());
  const Hash256 a = random_hash(rng);
  std::set<int> used;
  const Hash256 b = flip(a, 20, rng, used);
  const Hash256 c = flip(b, 20, rng, used);  // d(a, c) = 40 > 31
  ASSERT_EQ(hamming_distance(a, c), 40);
  std::vector<TriageItem> items = {pdq_item("a", a), pdq_item("x", random_hash(rng)),
                                   pdq_item("c", c), pdq_item("b", b)};
  const ClusterResult r = cluster_items(items, ClusterOptions{});
  EXPECT_EQ(r.cluster_of[0], r.cluster_of[2]);
  EXPECT_EQ(r.cluster_of[0], r.cluster_of[3]);
  EXPECT_NE(r.cluster_of[0], r.cluster_of[1]);
  EXPECT_EQ(r.clusters.size(), 2u);
  // Without the middle link, a and c stay apart.
  items.pop_back();
  const ClusterResult r2 = cluster_items(items, ClusterOptions{});
  EXPECT_NE(r2.cluster_of[0], r2.cluster_of[2]);
}

TEST(Cluster, ThresholdIsInclusiveAtTAndExclusiveAtTPlusOne) {
  std::mt19937_64 rng(fresh_seed());
  for (int t : {0, 10, 31, 64}) {
    const Hash256 a = random_hash(rng);
    std::set<int> u1, u2;
    std::vector<TriageItem> items = {pdq_item("a", a), pdq_item("at", flip(a, t, rng, u1)),
                                     pdq_item("over", flip(a, t + 1, rng, u2))};
    ClusterOptions o;
    o.threshold = t;
    const ClusterResult r = cluster_items(items, o);
    EXPECT_EQ(r.cluster_of[0], r.cluster_of[1]) << "t=" << t;
    EXPECT_NE(r.cluster_of[0], r.cluster_of[2]) << "t=" << t;
  }
}

TEST(Cluster, Md5JoinsLowQualityOnlyByMd5BadItemsNotClustered) {
  std::mt19937_64 rng(fresh_seed());
  const Hash256 a = random_hash(rng);
  std::vector<TriageItem> items = {pdq_item("a", a, 20), pdq_item("a2", a, 20),
                                   pdq_item("m1", random_hash(rng)), pdq_item("m2", random_hash(rng))};
  items[2].md5 = items[3].md5 = "0123456789abcdef0123456789abcdef";
  TriageItem bad;
  bad.path = "broken.jpg";
  bad.ok = false;
  items.push_back(bad);
  const ClusterResult r = cluster_items(items, ClusterOptions{});
  EXPECT_NE(r.cluster_of[0], r.cluster_of[1]);  // identical PDQ but quality 20 < 50
  EXPECT_EQ(r.cluster_of[2], r.cluster_of[3]);  // same MD5
  EXPECT_EQ(r.cluster_of[4], -1);
  EXPECT_EQ(r.unclustered, 1u);
  ClusterOptions any_quality;
  any_quality.min_quality = 0;
  const ClusterResult r2 = cluster_items(items, any_quality);
  EXPECT_EQ(r2.cluster_of[0], r2.cluster_of[1]);
}

// Random sets with planted groups (including chains): identical components to the naive oracle,
// with the brute-force and the multi-index-hashing CPU matchers alike.
TEST(Cluster, MatchesNaiveOracleOnPlantedGroupsBruteAndMih) {
  const uint32_t seed = fresh_seed();
  std::mt19937_64 rng(seed);
  std::vector<TriageItem> items;
  for (int g = 0; g < 150; ++g) {
    const Hash256 base = random_hash(rng);
    const int members = 1 + static_cast<int>(rng() % 5);
    Hash256 prev = base;
    for (int m = 0; m < members; ++m) {
      std::set<int> used;
      const int bits = static_cast<int>(rng() % 40);  // some within 31, some not
      prev = (rng() % 2) ? flip(prev, bits, rng, used) : flip(base, bits, rng, used);
      items.push_back(pdq_item("g" + std::to_string(g) + "m" + std::to_string(m), prev,
                               static_cast<int>(30 + rng() % 71)));
      if (rng() % 20 == 0) items.back().md5 = "md5-" + std::to_string(rng() % 10);
      if (rng() % 30 == 0) items.back().ok = false;
    }
  }
  std::shuffle(items.begin(), items.end(), rng);
  const std::vector<int> want = oracle(items, 31, 50);
  for (CpuIndex idx : {CpuIndex::kBrute, CpuIndex::kMih}) {
    ClusterOptions o;
    o.matcher.backend = Backend::kCpu;
    o.matcher.cpu_index = idx;
    o.tile = 97;  // several tiles
    const ClusterResult r = cluster_items(items, o);
    EXPECT_EQ(r.cluster_of, want) << "index " << cpu_index_name(idx) << " seed " << seed;
  }
}

// Generated images with known duplicate structure: re-encoded, resized and rotated copies cluster
// with their original (rotations through the dihedral variants); different pictures do not.
TEST(Cluster, GeneratedImagesWithTransformedCopies) {
  const uint32_t seed = 20261123;  // fixed: smooth pictures from this seed are well inside the threshold
  pdq::PdqHasher hasher;
  std::vector<TriageItem> items;
  std::vector<int> group;
  auto add = [&](const std::string& name, const Image& img, int g) {
    const pdq::PdqDihedral d = hasher.hash_dihedral(img);
    TriageItem it = pdq_item(name, d.hashes[0], d.quality);
    it.dihedral = d.hashes;
    items.push_back(it);
    group.push_back(g);
  };
  auto half_size = [](const Image& s) {  // 2 x 2 box average, aspect kept
    Image o;
    o.width = s.width / 2;
    o.height = s.height / 2;
    o.channels = 3;
    o.pixels.resize(o.pixel_count() * 3);
    for (int y = 0; y < o.height; ++y)
      for (int x = 0; x < o.width; ++x)
        for (int c = 0; c < 3; ++c) {
          int sum = 0;
          for (int dy = 0; dy < 2; ++dy)
            for (int dx = 0; dx < 2; ++dx) sum += s.pixels[((std::size_t(2 * y + dy)) * s.width + 2 * x + dx) * 3 + c];
          o.pixels[(std::size_t(y) * o.width + x) * 3 + c] = uint8_t((sum + 2) / 4);
        }
    return o;
  };
  auto rotate90 = [](const Image& s) {
    Image o;
    o.width = s.height;
    o.height = s.width;
    o.channels = s.channels;
    o.pixels.resize(s.pixels.size());
    for (int y = 0; y < s.height; ++y)
      for (int x = 0; x < s.width; ++x)
        for (int c = 0; c < s.channels; ++c)
          o.pixels[(std::size_t(x) * o.width + (s.height - 1 - y)) * s.channels + c] =
              s.pixels[(std::size_t(y) * s.width + x) * s.channels + c];
    return o;
  };
  for (int g = 0; g < 6; ++g) {
    const Image src = smooth_image(240 + 16 * g, 180, seed + g * 7919);
    add("orig" + std::to_string(g), src, g);
    add("jpeg" + std::to_string(g), decode_image(test::encode_jpeg(src, 60), DecodeLimits{}), g);
    add("half" + std::to_string(g), half_size(src), g);
    add("rot90-" + std::to_string(g), rotate90(src), g);
  }
  ClusterOptions o;
  o.dihedral = true;
  o.min_quality = 0;
  const ClusterResult r = cluster_items(items, o);
  for (std::size_t i = 0; i < items.size(); ++i) {
    for (std::size_t j = 0; j < items.size(); ++j) {
      if (group[i] == group[j]) {
        EXPECT_EQ(r.cluster_of[i], r.cluster_of[j]) << items[i].path << " ~ " << items[j].path;
      } else {
        EXPECT_NE(r.cluster_of[i], r.cluster_of[j]) << items[i].path << " vs " << items[j].path;
      }
    }
  }
  // Without dihedral matching the rotated copies fall out.
  o.dihedral = false;
  const ClusterResult r2 = cluster_items(items, o);
  EXPECT_GT(r2.clusters.size(), r.clusters.size());
}

TEST(Cluster, VideoPairsJoinThroughTheVideoRule) {
  std::mt19937_64 rng(fresh_seed());
  std::vector<TriageItem> items(3);
  for (int v = 0; v < 3; ++v) items[v].path = "v" + std::to_string(v);
  for (int f = 0; f < 10; ++f) {
    const Hash256 h = random_hash(rng);
    items[0].video_frames.push_back(h);
    std::set<int> used;
    items[1].video_frames.push_back(flip(h, 6, rng, used));
    items[2].video_frames.push_back(random_hash(rng));
  }
  std::vector<std::pair<std::size_t, std::size_t>> asked;
  const ClusterResult r = cluster_items(items, ClusterOptions{}, [&](std::size_t a, std::size_t b) {
    asked.emplace_back(a, b);
    return true;
  });
  EXPECT_EQ(r.cluster_of[0], r.cluster_of[1]);
  EXPECT_NE(r.cluster_of[0], r.cluster_of[2]);  // never a candidate: no frame within 31
  for (auto [a, b] : asked) EXPECT_TRUE((a == 0 && b == 1) || (a == 1 && b == 0));
  // The rule says no: no join.
  const ClusterResult r2 = cluster_items(items, ClusterOptions{}, [](std::size_t, std::size_t) { return false; });
  EXPECT_NE(r2.cluster_of[0], r2.cluster_of[1]);
}

TEST(Triage, SeenBeforeMemorySurvivesRestartCountsAndExpires) {
  test::TempDir dir;
  const std::string db = (dir / "lists.db").string();
  std::mt19937_64 rng(fresh_seed());
  const Hash256 picture = random_hash(rng);
  std::set<int> used;
  const Hash256 copy = flip(picture, 8, rng, used);
  TriageOptions o;
  o.db_path = db;
  // Scan 1: the new picture arrives 3 times (one cluster), plus a known item.
  std::vector<TriageItem> scan1 = {pdq_item("p1", picture), pdq_item("p2", copy), pdq_item("p3", picture),
                                   pdq_item("known", random_hash(rng))};
  scan1[3].known = true;
  o.now = "2026-01-01T00:00:00Z";
  const TriageOutput t1 = run_triage(scan1, o);
  ASSERT_EQ(t1.clusters.clusters.size(), 2u);
  const int c1 = t1.clusters.cluster_of[0];
  ASSERT_TRUE(t1.seen[c1].has_value());
  EXPECT_FALSE(t1.seen[c1]->seen_before);
  EXPECT_FALSE(t1.seen[t1.clusters.cluster_of[3]].has_value());  // known clusters not remembered
  EXPECT_EQ(t1.queue, std::vector<int>{c1});
  // Scan 2 (a new process: new store object): one more arrival of a near copy.
  std::set<int> used2;
  std::vector<TriageItem> scan2 = {pdq_item("p4", flip(picture, 4, rng, used2))};
  o.now = "2026-02-01T00:00:00Z";
  const TriageOutput t2 = run_triage(scan2, o);
  ASSERT_TRUE(t2.seen[0].has_value());
  EXPECT_TRUE(t2.seen[0]->seen_before);
  EXPECT_EQ(t2.seen[0]->previous_arrivals, 3);
  EXPECT_EQ(t2.seen[0]->since, "2026-01-01T00:00:00Z");
  o.now = "2026-02-02T00:00:00Z";
  const TriageOutput t3 = run_triage(scan2, o);
  EXPECT_EQ(t3.seen[0]->previous_arrivals, 4);
  // Export as signals, then expiry by age.
  std::ostringstream exported;
  EXPECT_GT(SeenStore(db).export_signals(exported), 0);
  EXPECT_NE(exported.str().find("pdq " + picture.to_hex()), std::string::npos);
  EXPECT_EQ(SeenStore(db).expire("2026-02-10T00:00:00Z", 30, 0), 0);
  EXPECT_EQ(SeenStore(db).expire("2026-06-01T00:00:00Z", 30, 0), 1);
  EXPECT_EQ(SeenStore(db).clusters(), 0);
  const TriageOutput t4 = run_triage(scan2, o);
  EXPECT_FALSE(t4.seen[0]->seen_before);
}

TEST(SeenMemory, CountsArrivalsAtTheThresholdAndSeesOtherWriters) {
  test::TempDir dir;
  const std::string db = (dir / "mem.db").string();
  std::mt19937_64 rng(fresh_seed());
  const Hash256 a = random_hash(rng);
  std::set<int> used;
  const Hash256 at_t = flip(a, 31, rng, used);   // exactly at the threshold: the same picture
  std::set<int> used2;
  const Hash256 past_t = flip(a, 32, rng, used2);  // one past: another picture
  SeenMemory m(db, 31, false);
  EXPECT_FALSE(m.observe({a, ""}, "2026-01-01T00:00:00Z").seen_before);
  const SeenAnswer s1 = m.observe({at_t, ""}, "2026-01-02T00:00:00Z");
  ASSERT_TRUE(s1.seen_before);
  EXPECT_EQ(s1.count, 1);
  EXPECT_EQ(s1.first_seen, "2026-01-01T00:00:00Z");
  EXPECT_EQ(s1.last_seen, "2026-01-01T00:00:00Z");
  const SeenAnswer s2 = m.observe({a, "d41d8cd98f00b204e9800998ecf8427e"}, "2026-01-03T00:00:00Z");
  EXPECT_EQ(s2.count, 2);
  EXPECT_EQ(s2.last_seen, "2026-01-02T00:00:00Z");
  EXPECT_EQ(s2.cluster, s1.cluster);
  // past_t is 32 from a, but may be within 31 of at_t (a remembered member): only compare with a.
  if (hamming_distance(past_t, at_t) > 31) {
    EXPECT_FALSE(m.observe({past_t, ""}, "2026-01-04T00:00:00Z").seen_before);
  }
  // MD5 alone finds the cluster.
  EXPECT_EQ(m.observe({std::nullopt, "d41d8cd98f00b204e9800998ecf8427e"}, "2026-01-05T00:00:00Z").cluster,
            s1.cluster);
  // Another writer (a scan's SeenStore) adds a picture: seen by the running memory at once.
  const Hash256 b = random_hash(rng);
  {
    SeenStore other(db);
    SeenKey k;
    k.pdq = {b};
    k.arrivals = 5;
    other.observe({k}, "2026-01-06T00:00:00Z", 31);
  }
  const SeenAnswer sb = m.observe({b, ""}, "2026-01-07T00:00:00Z");
  EXPECT_TRUE(sb.seen_before);
  EXPECT_EQ(sb.count, 5);
  // Read-only: answers, never records; a restart keeps everything.
  SeenMemory ro(db, 31, true);
  EXPECT_EQ(ro.observe({b, ""}, "2026-01-08T00:00:00Z").count, 6);
  EXPECT_EQ(ro.observe({b, ""}, "2026-01-08T00:00:00Z").count, 6);
  const Hash256 c = random_hash(rng);
  EXPECT_FALSE(ro.observe({c, ""}, "2026-01-08T00:00:00Z").seen_before);
  EXPECT_FALSE(ro.observe({c, ""}, "2026-01-08T00:00:00Z").seen_before);
}

TEST(SeenMemory, ManyPicturesThroughTheRebuiltIndex) {
  test::TempDir dir;
  std::mt19937_64 rng(fresh_seed());
  SeenMemory m((dir / "mem.db").string(), 31, false);
  std::vector<Hash256> pics;
  for (int i = 0; i < 5000; ++i) pics.push_back(random_hash(rng));  // past the index rebuild point
  for (const Hash256& h : pics) ASSERT_FALSE(m.observe({h, ""}, "2026-01-01T00:00:00Z").seen_before);
  for (int i = 0; i < 5000; i += 97) {
    std::set<int> used;
    const SeenAnswer s = m.observe({flip(pics[i], 10, rng, used), ""}, "2026-01-02T00:00:00Z");
    EXPECT_TRUE(s.seen_before) << i;
    EXPECT_EQ(s.count, 1) << i;
    EXPECT_EQ(s.cluster, i + 1) << i;  // ids in arrival order
  }
}

TEST(Triage, ExpiryByCountKeepsMostRecent) {
  test::TempDir dir;
  const std::string db = (dir / "m.db").string();
  std::mt19937_64 rng(fresh_seed());
  SeenStore store(db);
  for (int i = 0; i < 5; ++i) {
    SeenKey k;
    k.pdq = {random_hash(rng)};
    store.observe({k}, "2026-03-0" + std::to_string(i + 1) + "T00:00:00Z", 31);
  }
  EXPECT_EQ(store.clusters(), 5);
  EXPECT_EQ(store.expire("2026-03-09T00:00:00Z", 0, 2), 3);
  EXPECT_EQ(store.clusters(), 2);
}

TEST(Triage, QueueOrdersBySpreadThenQuality) {
  std::mt19937_64 rng(fresh_seed());
  std::vector<TriageItem> items;
  const Hash256 big = random_hash(rng), small_hi = random_hash(rng), small_lo = random_hash(rng);
  for (int i = 0; i < 3; ++i) items.push_back(pdq_item("big" + std::to_string(i), big, 60));
  items.push_back(pdq_item("lo", small_lo, 55));
  items.push_back(pdq_item("hi", small_hi, 95));
  const TriageOutput t = run_triage(items, TriageOptions{});
  ASSERT_EQ(t.queue.size(), 3u);
  EXPECT_EQ(t.queue[0], t.clusters.cluster_of[0]);
  EXPECT_EQ(t.queue[1], t.clusters.cluster_of[4]);
  EXPECT_EQ(t.queue[2], t.clusters.cluster_of[3]);
  const nlohmann::json s = t.summary(items.size());
  EXPECT_EQ(s["unique_clusters"], 3);
  EXPECT_EQ(s["new_clusters"], 3);
  EXPECT_EQ(s["known_clusters"], 0);
}

TEST(TriageJson, ParsesResultLines) {
  const nlohmann::json ok = nlohmann::json::parse(R"({"path":"a.jpg","md5":"00112233445566778899aabbccddeeff",
    "pdq":"f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22","pdq_quality":90,
    "matches":[{"list":"ncmec","id":"7","labels":{"category":"A1","tags":["x"]}}]})");
  const TriageItem a = item_from_json(ok, "t");
  EXPECT_TRUE(a.ok);
  EXPECT_TRUE(a.known);
  EXPECT_EQ(a.pdq_quality, 90);
  EXPECT_TRUE(a.known_lists.count("ncmec"));
  EXPECT_TRUE(a.known_labels.count("category=A1"));
  EXPECT_TRUE(a.known_labels.count("tags=x"));
  const TriageItem e = item_from_json(nlohmann::json::parse(R"({"path":"b","error":"truncated"})"), "t");
  EXPECT_FALSE(e.ok);
  const TriageItem v = item_from_json(nlohmann::json::parse(R"({"path":"v.mp4","vpdq":[
    {"frame":0,"quality":90,"pdq":"f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"},
    {"frame":30,"quality":90,"pdq":"f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"},
    {"frame":60,"quality":10,"pdq":"0000f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"}]})"), "t");
  EXPECT_EQ(v.video_frames.size(), 1u);  // deduplicated, low quality dropped
}

TEST(TriageCli, ClusterCommandAnnotatesAndReports) {
  test::TempDir dir;
  std::mt19937_64 rng(fresh_seed());
  const Hash256 a = random_hash(rng);
  std::set<int> used;
  const Hash256 b = flip(a, 10, rng, used);
  {
    std::ofstream f(dir / "results.jsonl");
    f << nlohmann::json{{"path", "a.jpg"}, {"pdq", a.to_hex()}, {"pdq_quality", 100}}.dump() << "\n";
    f << nlohmann::json{{"path", "b.jpg"}, {"pdq", b.to_hex()}, {"pdq_quality", 100}}.dump() << "\n";
    f << nlohmann::json{{"path", "c.jpg"}, {"error", "truncated"}}.dump() << "\n";
    f << "{not json\n";
  }
  const std::string cmd = std::string(HASHMATCH_BINARY) + " cluster --db " + (dir / "db").string() +
                          " --output " + (dir / "out.jsonl").string() + " --report " +
                          (dir / "report.json").string() + " --queue " + (dir / "queue.jsonl").string() +
                          " " + (dir / "results.jsonl").string() + " 2>" + (dir / "err").string();
  const int st = std::system(cmd.c_str());
  EXPECT_EQ(WEXITSTATUS(st), 1);  // one malformed line: reported, the rest processed
  std::ifstream out(dir / "out.jsonl");
  std::vector<nlohmann::json> lines;
  std::string l;
  while (std::getline(out, l)) lines.push_back(nlohmann::json::parse(l));
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0]["cluster"], lines[1]["cluster"]);
  EXPECT_TRUE(lines[2]["cluster"].is_null());
  const nlohmann::json report = nlohmann::json::parse(std::ifstream(dir / "report.json"));
  EXPECT_EQ(report["summary"]["new_clusters"], 1);
  EXPECT_EQ(report["clusters"][0]["size"], 2);
  std::ifstream q(dir / "queue.jsonl");
  ASSERT_TRUE(std::getline(q, l));
  EXPECT_EQ(nlohmann::json::parse(l)["rank"], 1);
}

// Every member of a new cluster is looked up in the memory (from a hunt: only the first 8 were,
// so the very file remembered the day before, as a cluster's 10th member, was reported new and
// remembered twice).
TEST(Triage, EveryMemberOfANewClusterIsLookedUp) {
  test::TempDir dir;
  std::mt19937_64 rng(fresh_seed());
  TriageOptions o;
  o.db_path = (dir / "m.db").string();
  const Hash256 x = random_hash(rng);
  TriageItem remembered = pdq_item("x", x);
  remembered.md5 = "0123456789abcdef0123456789abcdef";
  o.now = "2026-01-01T00:00:00Z";
  run_triage({remembered}, o);
  // Run 2: 8 copies 36 bits from x (beyond the threshold of 31), one 18 bits from both joining
  // them to the cluster, then x itself.
  std::vector<TriageItem> run2;
  std::set<int> used;
  const Hash256 far = flip(x, 36, rng, used);
  for (int i = 0; i < 8; ++i) {
    run2.push_back(pdq_item("far" + std::to_string(i), far));
    run2.back().md5 = std::string(31, 'a') + std::to_string(i);  // other files
  }
  // mid: 18 of far's 36 bits flipped, 18 from each.
  Hash256 mid = x;
  int n = 0;
  for (int b : used) {
    if (n++ == 18) break;
    mid.w[b >> 6] ^= uint64_t{1} << (b & 63);
  }
  run2.push_back(pdq_item("mid", mid));
  run2.push_back(remembered);
  o.now = "2026-01-02T00:00:00Z";
  const TriageOutput t = run_triage(run2, o);
  ASSERT_EQ(t.clusters.clusters.size(), 1u);
  ASSERT_TRUE(t.seen[0].has_value());
  EXPECT_TRUE(t.seen[0]->seen_before);
  EXPECT_EQ(t.seen[0]->previous_arrivals, 1);
  EXPECT_EQ(SeenStore(o.db_path).clusters(), 1);
}

// --memory-max-entries caps the memory after this run's arrivals are recorded (from a hunt: it
// expired before the lookup, so the memory held 5 clusters with a cap of 2, and pictures of the
// run itself were forgotten and reported new).
TEST(Triage, TheEntryCapHoldsAfterARunAndKeepsItsArrivals) {
  test::TempDir dir;
  std::mt19937_64 rng(fresh_seed());
  TriageOptions o;
  o.db_path = (dir / "m.db").string();
  o.memory_max_entries = 2;
  std::vector<TriageItem> items;
  for (int i = 0; i < 5; ++i) items.push_back(pdq_item("p" + std::to_string(i), random_hash(rng)));
  o.now = "2026-01-01T00:00:00Z";
  const TriageOutput t1 = run_triage(items, o);
  EXPECT_EQ(SeenStore(o.db_path).clusters(), 2);
  EXPECT_EQ(t1.memory_expired, 3);
  // The last two of the run are the ones kept (most recent, then the highest id).
  o.now = "2026-01-02T00:00:00Z";
  const TriageOutput t2 = run_triage({items[3], items[4]}, o);
  EXPECT_TRUE(t2.seen[0]->seen_before);
  EXPECT_TRUE(t2.seen[1]->seen_before);
  EXPECT_EQ(SeenStore(o.db_path).clusters(), 2);
  // A run with no new cluster still says what expired.
  o.memory_max_entries = 1;
  const TriageOutput t3 = run_triage({}, o);
  EXPECT_EQ(t3.summary(0).value("memory_expired", -1), 1);
}

// `hashmatch cluster`: an output that cannot be written fails before the memory counts anything
// (a retry counted the arrivals again), a write error is an error (exit 0 before, data lost), a
// stale seen_before of an earlier clustering is dropped, and a line with a field of the wrong
// type is skipped with its place named (it aborted the whole run).
TEST(TriageCli, OutputsAndInputsFailCleanly) {
  test::TempDir dir;
  std::mt19937_64 rng(fresh_seed());
  const std::string db = (dir / "m.db").string();
  {
    std::ofstream f(dir / "r.jsonl");
    f << nlohmann::json{{"path", "a.jpg"},
                        {"pdq", random_hash(rng).to_hex()},
                        {"pdq_quality", 100},
                        {"seen_before", {{"count", 7}, {"since", "2020-01-01T00:00:00Z"}}}}
             .dump()
      << "\n";
    f << nlohmann::json{{"path", 7}, {"pdq", random_hash(rng).to_hex()}, {"pdq_quality", 100}}
             .dump()
      << "\n";
  }
  std::filesystem::create_directory(dir / "adir");
  const std::string bin = std::string(HASHMATCH_BINARY) + " cluster ";
  const std::string in = (dir / "r.jsonl").string(), err = " 2>" + (dir / "err").string();
  auto exit_of = [](const std::string& cmd) { return WEXITSTATUS(std::system(cmd.c_str())); };
  auto text = [](const std::filesystem::path& p) {
    std::ifstream f(p);
    return std::string(std::istreambuf_iterator<char>(f), {});
  };
  EXPECT_EQ(exit_of(bin + "--db " + db + " --output " + (dir / "adir").string() + " " + in + err),
            1);
  EXPECT_EQ(exit_of(bin + "--db " + db + " --report " + (dir / "adir").string() + " " + in + err),
            1);
  EXPECT_FALSE(std::filesystem::exists(db) && SeenStore(db).clusters() > 0)
      << "a failed run counted its arrivals";
  if (std::filesystem::exists("/dev/full")) {
    EXPECT_EQ(exit_of(bin + "--output /dev/full " + in + err), 1);
    EXPECT_NE(text(dir / "err").find("write error on /dev/full"), std::string::npos)
        << text(dir / "err");
  }
  EXPECT_EQ(exit_of(bin + "--output " + (dir / "out.jsonl").string() + " " + in + err), 1);
  EXPECT_NE(text(dir / "err").find("r.jsonl:2: not a result line"), std::string::npos)
      << text(dir / "err");
  const std::string out = text(dir / "out.jsonl");
  EXPECT_EQ(out.find("seen_before"), std::string::npos) << out;
  EXPECT_NE(out.find("\"cluster\":0"), std::string::npos) << out;
  EXPECT_EQ(exit_of(bin + (dir / "adir").string() + err), 1);  // a directory is no input
}

// Two clusters of one run that match the same remembered cluster both report the arrivals it had
// before this run (from a hunt: the second counted the first's arrivals too: 3 and 4).
TEST(Triage, ClustersMatchingOneRememberedClusterReportTheSameCount) {
  test::TempDir dir;
  std::mt19937_64 rng(fresh_seed());
  TriageOptions o;
  o.db_path = (dir / "m.db").string();
  const Hash256 a = random_hash(rng);
  std::set<int> used;
  const Hash256 b = flip(a, 40, rng, used);  // a and b apart; c 20 bits from each joins them
  Hash256 c = a;
  int n = 0;
  for (int bit : used) {
    if (n++ == 20) break;
    c.w[bit >> 6] ^= uint64_t{1} << (bit & 63);
  }
  o.now = "2026-01-01T00:00:00Z";
  const TriageOutput t1 = run_triage({pdq_item("a", a), pdq_item("c", c), pdq_item("b", b)}, o);
  ASSERT_EQ(t1.clusters.clusters.size(), 1u);
  o.now = "2026-01-02T00:00:00Z";
  const TriageOutput t2 = run_triage({pdq_item("a2", a), pdq_item("b2", b)}, o);
  ASSERT_EQ(t2.clusters.clusters.size(), 2u);
  for (int id = 0; id < 2; ++id) {
    ASSERT_TRUE(t2.seen[id].has_value());
    EXPECT_TRUE(t2.seen[id]->seen_before);
    EXPECT_EQ(t2.seen[id]->previous_arrivals, 3) << "cluster " << id;
  }
}

}  // namespace
}  // namespace hashmatch::triage
