// Items of a scan: walk order, manifests, shard rule and exact partitioning, checkpoint file format
// (round trip, torn tails), summary counters.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <random>
#include <set>

#include "host/common/error.h"
#include "host/lists/list_store.h"
#include "host/scan/checkpoint.h"
#include "host/scan/list_scan_matcher.h"
#include "host/scan/output.h"
#include "host/scan/scan_items.h"
#include "host/scan/summary.h"
#include "tests/testutil/testutil.h"

namespace hashmatch::scan {
namespace {

namespace fs = std::filesystem;

void touch(const fs::path& p, const std::string& content = "x") {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << content;
}

std::vector<std::string> paths_of(const ItemList& l) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < l.size(); ++i) out.emplace_back(l.path(i));
  return out;
}

TEST(ScanShard, FnvTestVectorsAndStableAssignment) {
  // Published FNV-1a 64 test vectors.
  EXPECT_EQ(fnv1a64(""), 0xcbf29ce484222325ull);
  EXPECT_EQ(fnv1a64("a"), 0xaf63dc4c8601ec8cull);
  EXPECT_EQ(fnv1a64("foobar"), 0x85944171f73967e8ull);
  // Deterministic, in range, and n = 1 puts everything in shard 0.
  for (const char* k : {"a/b.jpg", "x", "", "deep/er/path.png"}) {
    EXPECT_EQ(shard_of(k, 1), 0u);
    for (uint32_t n : {2u, 3u, 7u, 64u}) {
      EXPECT_LT(shard_of(k, n), n);
      EXPECT_EQ(shard_of(k, n), shard_of(k, n));
    }
  }
  // Spread: 10,000 keys over 4 shards, each within 10% of a quarter.
  std::vector<int> count(4);
  for (int i = 0; i < 10000; ++i) ++count[shard_of("dir/file" + std::to_string(i) + ".jpg", 4)];
  for (int c : count) EXPECT_NEAR(c, 2500, 250);
}

TEST(ScanShard, ParseShard) {
  EXPECT_EQ(parse_shard("0/1").count, 1u);
  const Shard s = parse_shard("3/4");
  EXPECT_EQ(s.index, 3u);
  EXPECT_EQ(s.count, 4u);
  EXPECT_EQ(s.to_string(), "3/4");
  for (const char* bad : {"4/4", "1", "a/b", "-1/4", "1/0", "1/", "/4", "1/4x", ""}) {
    EXPECT_THROW(parse_shard(bad), InvalidArgument) << bad;
  }
}

TEST(ScanItems, WalkIsSortedDepthFirstAndRecordsProblems) {
  test::TempDir t;
  const fs::path root = t / "tree";
  touch(root / "b.jpg");
  touch(root / "a" / "z.png");
  touch(root / "a" / "c" / "d.gif");
  touch(root / "a.txt");
  touch(root / "c" / "e.bin");
  fs::create_directories(root / "empty");
  ASSERT_EQ(::mkfifo((root / "fifo").c_str(), 0600), 0);
  fs::create_directory_symlink(root / "a", root / "link-to-dir");  // not followed
  fs::create_symlink(root / "b.jpg", root / "link-to-file");        // an item
  const std::string missing = (t / "missing.jpg").string();
  WalkStats st;
  const ItemList items = build_items({root.string(), missing}, {}, Shard{}, &st);
  const std::string r = root.string();
  const std::vector<std::string> want = {r + "/a/c/d.gif", r + "/a/z.png", r + "/a.txt",
                                         r + "/b.jpg",     r + "/c/e.bin", r + "/link-to-file",
                                         missing};
  EXPECT_EQ(paths_of(items), want);
  EXPECT_EQ(items.error(6), "no such file or directory");
  for (std::size_t i = 0; i < 6; ++i) EXPECT_TRUE(items.error(i).empty());
  EXPECT_EQ(st.skipped_special, 2u);  // the FIFO and the link to a directory
  EXPECT_EQ(st.errors, 1u);
  EXPECT_EQ(st.kept, 7u);
  // Same tree, same order.
  EXPECT_EQ(paths_of(build_items({root.string() + "/", missing}, {}, Shard{})), want);
}

TEST(ScanItems, UnreadableDirectoryIsAnItemWithError) {
  if (::geteuid() == 0) GTEST_SKIP() << "root reads every directory";
  test::TempDir t;
  touch(t / "d" / "locked" / "x.jpg");
  touch(t / "d" / "ok.jpg");
  fs::permissions(t / "d" / "locked", fs::perms::none);
  const ItemList items = build_items({(t / "d").string()}, {}, Shard{});
  fs::permissions(t / "d" / "locked", fs::perms::owner_all);
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items.path(0), (t / "d" / "locked").string());
  EXPECT_NE(items.error(0).find("cannot read directory"), std::string::npos);
  EXPECT_EQ(items.path(1), (t / "d" / "ok.jpg").string());
}

TEST(ScanItems, ManifestLinesAreItemsAsGiven) {
  test::TempDir t;
  std::ofstream(t / "m.txt") << "one.jpg\r\n\n  spaced name.png\nsub/two.jpg\n";
  const ItemList items = build_items({}, {(t / "m.txt").string()}, Shard{});
  EXPECT_EQ(paths_of(items), (std::vector<std::string>{"one.jpg", "  spaced name.png", "sub/two.jpg"}));
  EXPECT_THROW(build_items({}, {(t / "nope.txt").string()}, Shard{}), IoError);
}

TEST(ScanItems, ShardsPartitionTheInputExactly) {
  test::TempDir t;
  std::mt19937 rng(7);
  std::vector<std::string> manifest;
  for (int i = 0; i < 300; ++i) {
    touch(t / "tree" / ("d" + std::to_string(rng() % 9)) / ("f" + std::to_string(i) + ".jpg"));
    manifest.push_back("/store/obj/" + std::to_string(rng()));
  }
  {
    std::ofstream m(t / "m.txt");
    for (const auto& l : manifest) m << l << "\n";
  }
  const std::vector<std::string> inputs = {(t / "tree").string()};
  const std::vector<std::string> manifests = {(t / "m.txt").string()};
  const std::vector<std::string> all = paths_of(build_items(inputs, manifests, Shard{}));
  ASSERT_EQ(all.size(), 600u);
  for (uint32_t n : {2u, 3u, 5u, 16u}) {
    std::multiset<std::string> seen;
    std::size_t total = 0;
    for (uint32_t i = 0; i < n; ++i) {
      const auto part = paths_of(build_items(inputs, manifests, Shard{i, n}));
      total += part.size();
      seen.insert(part.begin(), part.end());
      // Each shard keeps the global order.
      std::size_t pos = 0;
      for (const auto& p : part) {
        while (pos < all.size() && all[pos] != p) ++pos;
        ASSERT_LT(pos, all.size()) << "shard order differs from the global order";
      }
    }
    EXPECT_EQ(total, all.size()) << "n=" << n;  // disjoint (no path twice)...
    EXPECT_EQ(seen, std::multiset<std::string>(all.begin(), all.end()));  // ...and complete
  }
  // The key of a walked file is its path relative to the walked directory: the same tree at
  // another mount point gives the same shards.
  fs::create_directory_symlink(t / "tree", t / "elsewhere");
  const auto a = paths_of(build_items({(t / "tree").string()}, {}, Shard{1, 3}));
  const auto b = paths_of(build_items({(t / "elsewhere").string()}, {}, Shard{1, 3}));
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].substr((t / "tree").string().size()), b[i].substr((t / "elsewhere").string().size()));
  }
}

TEST(ScanCheckpoint, RoundTripTornTailAndOddPaths) {
  test::TempDir t;
  ItemList items;
  items.add("/a/b.jpg");
  items.add(std::string("/odd/\xff\xfe name.jpg"));  // not UTF-8: kept byte for byte
  items.add("/missing.jpg", "no such file or directory");
  const nlohmann::json config{{"paths", {"/a"}}, {"shard", "0/1"}};
  const std::string path = (t / "ck").string();
  {
    auto ck = Checkpoint::create(path, config, items);
    ck->commit({1, 100, 0.5, nlohmann::json{{"files", 1}}});
    ck->commit({2, 250, 1.5, nlohmann::json{{"files", 2}}});
  }
  // A torn commit (crash while appending) is ignored and cut off.
  {
    std::ofstream f(path, std::ios::app);
    f << "{\"done\":3,\"offset\":3";
  }
  nlohmann::json cfg;
  ItemList back;
  std::optional<CheckpointCommit> last;
  {
    auto ck = Checkpoint::open(path, &cfg, &back, &last);
    EXPECT_EQ(cfg, config);
    ASSERT_EQ(back.size(), 3u);
    for (std::size_t i = 0; i < 3; ++i) {
      EXPECT_EQ(back.path(i), items.path(i));
      EXPECT_EQ(back.error(i), items.error(i));
    }
    ASSERT_TRUE(last.has_value());
    EXPECT_EQ(last->done, 2u);
    EXPECT_EQ(last->offset, 250u);
    EXPECT_DOUBLE_EQ(last->elapsed, 1.5);
    EXPECT_EQ(last->summary["files"], 2);
    ck->commit({3, 300, 2.0, nlohmann::json::object()});
  }
  auto ck = Checkpoint::open(path, &cfg, &back, &last);
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(last->done, 3u);
  EXPECT_EQ(last->offset, 300u);
  EXPECT_EQ(ck->commits(), 3u);
  // Not a checkpoint / incomplete item list: refused with a clear error.
  std::ofstream(t / "bad") << "{\"format\":\"hashmatch-scan-checkpoint\",\"version\":1,\"items\":5,"
                              "\"config\":{}}\n\"/a\"\n";
  EXPECT_THROW(Checkpoint::open((t / "bad").string(), &cfg, &back, &last), Error);
  std::ofstream(t / "bad2") << "hello\n";
  EXPECT_THROW(Checkpoint::open((t / "bad2").string(), &cfg, &back, &last), Error);
}

TEST(ScanOutput, TruncatesToTheCheckpointedOffsetAndRefusesAShorterFile) {
  test::TempDir t;
  const std::string p = (t / "out.jsonl").string();
  {
    OutputFile o(p, 0);
    o.write("line one\n");
    o.write("line two\n");
    o.sync();
    EXPECT_EQ(o.offset(), 18u);
  }
  {
    OutputFile o(p, 9);  // resume after the first line
    o.write("line 2b\n");
  }
  EXPECT_EQ(OutputFile::read_from(p, 0), "line one\nline 2b\n");
  EXPECT_THROW(OutputFile(p, 1000), Error);
}

TEST(ScanSummary, CountsFromResultLines) {
  ScanCounters c;
  c.add({{"path", "a"}, {"size", 10}, {"md5", "x"}, {"format", "jpeg"}, {"pdq", "00"},
         {"matches", {{{"list", "l1"}}, {{"list", "l1"}}, {{"list", "l2"}}}}});
  c.add({{"path", "b"}, {"size", 5}, {"md5", "y"}, {"error", "e"}, {"error_reason", "unsupported"},
         {"matches", nlohmann::json::array()}});  // not media: exact only, not a failure
  c.add({{"path", "c"}, {"size", 7}, {"md5", "z"}, {"format", "png"}, {"error", "e"},
         {"error_reason", "truncated"}});
  c.add({{"path", "d"}, {"error", "no such file"}, {"error_reason", "io"}});
  c.add({{"path", "e"}, {"size", 1}, {"vpdq", nlohmann::json::array()}, {"match_error", "oom"}});
  EXPECT_EQ(c.files, 5u);
  EXPECT_EQ(c.bytes, 23u);
  EXPECT_EQ(c.images, 1u);
  EXPECT_EQ(c.videos, 1u);
  EXPECT_EQ(c.hashed, 2u);
  EXPECT_EQ(c.exact_only, 1u);
  EXPECT_EQ(c.matched, 1u);
  EXPECT_EQ(c.matches, 3u);
  EXPECT_EQ(c.failed, 3u);
  EXPECT_EQ(c.failed_by_reason["truncated"], 1u);
  EXPECT_EQ(c.failed_by_reason["io"], 1u);
  EXPECT_EQ(c.failed_by_reason["match"], 1u);
  EXPECT_EQ(c.matched_by_list["l1"], 1u);
  EXPECT_EQ(c.matched_by_list["l2"], 1u);
  const ScanCounters back = ScanCounters::from_json(c.to_json());
  EXPECT_EQ(back.to_json(), c.to_json());
}

// images and videos count what was hashed (they add up to hashed): a failed video, with its
// error and the frames decoded before it, is a failure, not a video.
TEST(ScanCounters, ImagesAndVideosAddUpToHashed) {
  ScanCounters c;
  c.add(nlohmann::json{{"path", "a.png"}, {"size", 10}, {"pdq", "00"}, {"pdq_quality", 100}});
  c.add(nlohmann::json{{"path", "b.mp4"}, {"size", 10}, {"vpdq", nlohmann::json::array()}});
  c.add(nlohmann::json{{"path", "c.mp4"},
                       {"size", 10},
                       {"vpdq", nlohmann::json::array()},
                       {"error", "truncated"},
                       {"error_reason", "truncated"}});
  c.add(
      nlohmann::json{{"path", "d.mp4"}, {"size", 10}, {"error", "x"}, {"error_reason", "corrupt"}},
      /*video=*/true);
  c.add(
      nlohmann::json{{"path", "e.jpg"}, {"size", 10}, {"error", "x"}, {"error_reason", "corrupt"}});
  EXPECT_EQ(c.hashed, 2u);
  EXPECT_EQ(c.images, 1u);
  EXPECT_EQ(c.videos, 1u);
  EXPECT_EQ(c.images + c.videos, c.hashed);
  EXPECT_EQ(c.failed, 3u);
}

// The videos of a batch are matched against listed PDQ hashes in windows of frame_chunk queries
// that cut across videos (a batch's frames were one search: ~290 bytes a distinct frame): the
// answers are those of one search, whatever the window (1, 7, 64 and all at once).
TEST(ListScanMatcher, VideoFramesInWindowsMatchAsInOneSearch) {
  if (!list_matching_available()) GTEST_SKIP() << "no list support in this build";
  test::TempDir dir;
  std::mt19937_64 rng(7);
  auto random_hash = [&] {
    Hash256 h;
    for (auto& w : h.w) w = rng();
    return h;
  };
  auto near = [&](Hash256 h, int bits) {
    for (int i = 0; i < bits; ++i) {
      const int b = static_cast<int>(rng() % 256);
      h.w[b >> 6] ^= uint64_t{1} << (b & 63);
    }
    return h;
  };
  std::vector<Hash256> listed;
  {
    ListStore store((dir / "l.db").string());
    std::vector<NewEntry> es;
    for (int i = 0; i < 30; ++i) {
      listed.push_back(random_hash());
      es.push_back(NewEntry{HashValue::from_hash256(listed.back()), "e" + std::to_string(i), {}});
    }
    store.add_entries("L", es);
  }
  // Three videos of 40, 90 and 25 frames: near copies of listed hashes, repeats, low qualities.
  std::vector<ScanItem> items(3);
  const int lengths[3] = {40, 90, 25};
  for (int v = 0; v < 3; ++v) {
    std::vector<VideoFrameHash> frames;
    for (int i = 0; i < lengths[v]; ++i) {
      VideoFrameHash f;
      f.frame_number = i;
      f.quality = static_cast<int>(rng() % 101);
      f.hash = i % 4 == 3 ? frames[i - 2].hash : near(listed[rng() % listed.size()], rng() % 40);
      frames.push_back(f);
    }
    items[v].index = v;
    items[v].result.vpdq = std::move(frames);
  }
  auto matches = [&](std::size_t chunk) {
    ListScanOptions o;
    o.db = (dir / "l.db").string();
    o.backend = "cpu";
    o.frame_chunk = chunk;
    auto m = make_list_scan_matcher(o);
    std::vector<ScanItem> copy = items;
    std::vector<ScanItem*> ptrs;
    for (ScanItem& it : copy) ptrs.push_back(&it);
    m->match(ptrs, /*dihedral=*/false);
    std::vector<nlohmann::json> out;
    for (const ScanItem& it : copy) out.push_back(it.matches);
    return out;
  };
  const auto want = matches(1'000'000);
  std::size_t matched = 0;
  for (const auto& j : want) matched += j.size();
  ASSERT_GE(matched, 10u) << "too few matches for the test to mean much";
  for (std::size_t chunk : {1, 7, 64}) EXPECT_EQ(matches(chunk), want) << "chunk " << chunk;
}

}  // namespace
}  // namespace hashmatch::scan
