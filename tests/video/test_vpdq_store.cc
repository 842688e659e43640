// Listed videos in the hash-list database and video-level matching against them: the index's
// q%/c% must equal the brute-force matcher's (the oracle) for every stored video.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <random>
#include <sstream>

#include "host/common/error.h"
#include "host/common/sqlite_util.h"
#include "host/lists/importers.h"
#include "host/lists/list_store.h"
#include "tests/testutil/testutil.h"
#include "video/synth_clip.h"
#include "video/vpdq_io.h"
#include "video/vpdq_store.h"

namespace hashmatch::video {
namespace {

Hash256 random_hash(std::mt19937_64& rng) {
  Hash256 h;
  for (auto& w : h.w) w = rng();
  return h;
}

Hash256 perturb(Hash256 h, int bits, std::mt19937_64& rng) {
  for (int i = 0; i < bits; ++i) {
    const int k = int(rng() % 256);
    h.w[k >> 6] ^= uint64_t{1} << (k & 63);
  }
  return h;
}

std::vector<VpdqFrame> video_from(const std::vector<Hash256>& hs, std::mt19937_64& rng) {
  std::vector<VpdqFrame> f;
  for (std::size_t i = 0; i < hs.size(); ++i) {
    f.push_back({int64_t(i) * 30, int(40 + rng() % 61), hs[i], double(i)});
  }
  return f;
}

// A list database with a vPDQ store in a temporary folder; all_videos() reads every stored video.
class VpdqStoreDb : public ::testing::Test {
 protected:
  std::vector<StoredVideo> all_videos() {
    std::vector<StoredVideo> all;
    vs.for_each_video({}, [&](const StoredVideo& v) { all.push_back(v); });
    return all;
  }
  test::TempDir d;
  ListStore store{(d / "lists.db").string()};
  VpdqStore vs{store};
};

const ExactDigests kDigests{std::string(32, 'a'), std::string(40, 'b'), std::string(64, 'c')};

TEST(VpdqStore, AddReplaceRemoveAndReopen) {
  test::TempDir d;
  const std::string db = (d / "lists.db").string();
  const auto frames = read_vpdq_file(test::testdata_dir() / "vpdq/sample-hashes/pattern-hd-no-bar.txt");
  {
    ListStore store(db);
    VpdqStore vs(store);
    const int64_t v0 = store.version();
    Labels l;
    l.category = "A1";
    l.tags = {"video", "x"};
      vs.add_video("known", "p1", frames, l, &kDigests);
    EXPECT_GT(store.version(), v0);
    EXPECT_EQ(vs.count_videos("known"), 1);
    EXPECT_EQ(store.stats("known").entries, 3);  // md5, sha1, sha256 entries
    // Same id again: replaced, not duplicated.
    vs.add_video("known", "p1", std::span(frames).first(10), l);
    EXPECT_EQ(vs.count_videos("known"), 1);
    EXPECT_THROW(vs.add_video("known", "", frames), InvalidArgument);
    EXPECT_THROW(vs.add_video("known", "empty", {}), InvalidArgument);
  }
  {
    ListStore store(db, false);
    VpdqStore vs(store);
    std::vector<StoredVideo> all;
    vs.for_each_video({}, [&](const StoredVideo& v) { all.push_back(v); });
    ASSERT_EQ(all.size(), 1u);
    EXPECT_EQ(all[0].id, "p1");
    EXPECT_EQ(all[0].labels.category, "A1");
    EXPECT_EQ(all[0].labels.tags, (std::vector<std::string>{"video", "x"}));
    ASSERT_EQ(all[0].frames.size(), 10u);
    for (std::size_t i = 0; i < 10; ++i) {
      EXPECT_EQ(all[0].frames[i].frame_number, frames[i].frame_number);
      EXPECT_EQ(all[0].frames[i].quality, frames[i].quality);
      EXPECT_EQ(all[0].frames[i].hash, frames[i].hash);
      EXPECT_EQ(format_vpdq_line(all[0].frames[i]), format_vpdq_line(frames[i]));
    }
    EXPECT_EQ(vs.remove_video("known", "p1"), 1);
    EXPECT_EQ(vs.remove_video("known", "p1"), 0);
    EXPECT_EQ(vs.count_videos("known"), 0);
    EXPECT_EQ(store.stats("known").entries, 0);  // the digest entries went with it
    // Dropping a list takes its videos along.
    vs.add_video("tmp", "a", frames);
    store.drop_list("tmp");
    int n = 0;
    vs.for_each_video({}, [&](const StoredVideo&) { ++n; });
    EXPECT_EQ(n, 0);
  }
}

// A listed video's labels are kept as the list store keeps its entries' (host/lists/list_store.h:
// clean_label, join_tags): control characters become spaces, a tag with a line break stays one
// tag, empty tags go; the video's digest entries carry the same labels.
TEST_F(VpdqStoreDb, LabelsAreCleanedAsTheListStoreCleansThem) {
  std::mt19937_64 rng(5);
  Labels l;
  l.category = " A1\t";
  l.source = "ncmec\n42";
  l.tags = {"line\nbreak", "", "  ", "ok"};
  vs.add_video("known", "v", video_from({random_hash(rng), random_hash(rng)}, rng), l, &kDigests);
  std::vector<StoredVideo> all = all_videos();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].labels.category, "A1");
  EXPECT_EQ(all[0].labels.source, "ncmec 42");
  EXPECT_EQ(all[0].labels.tags, (std::vector<std::string>{"line break", "ok"}));
  int entries = 0;
  store.for_each_entry("known", [&](const StoredEntry& e) {
    ++entries;
    EXPECT_EQ(e.labels, all[0].labels);
  });
  EXPECT_EQ(entries, 3);
}

// Replacing a video replaces its digest entries, also when the new one comes without digests
// (a vPDQ file): the old file's md5/sha1/sha256 must not keep matching under that id.
TEST_F(VpdqStoreDb, ReplacingAVideoDropsItsOldDigests) {
  std::mt19937_64 rng(11);
  const auto frames = video_from({random_hash(rng), random_hash(rng)}, rng);
  vs.add_video("known", "x", frames, {}, &kDigests);
  vs.add_video("known", "other", frames, {}, &kDigests);  // another id's entries stay
  EXPECT_EQ(store.stats("known").entries, 6);
  const int64_t v0 = store.version();
  vs.add_video("known", "x", frames);
  EXPECT_EQ(store.stats("known").entries, 3);
  store.for_each_entry("known", [&](const StoredEntry& e) { EXPECT_EQ(e.id, "other"); });
  EXPECT_GT(store.version(), v0);
  // Digests given again: back to three entries for x; only the sha256 given: one.
  vs.add_video("known", "x", frames, {}, &kDigests);
  EXPECT_EQ(store.stats("known").entries, 6);
  ExactDigests only_sha256{"", "", std::string(64, 'd')};
  vs.add_video("known", "x", frames, {}, &only_sha256);
  EXPECT_EQ(store.stats("known").entries, 4);
  EXPECT_EQ(vs.count_videos("known"), 2);
}

// Removing an id removes its listed video (frames and all) with its entries, whichever way the
// removal comes: ListStore::remove_id (hashmatch list remove --id, the server's DELETE), remove_all
// (--all) and an import's deletion record (NCMEC deletedVideo). A video added from a vPDQ file
// has no entries and is removed by its id all the same. An index built afterwards has none of them.
TEST_F(VpdqStoreDb, RemovingAnIdRemovesItsListedVideo) {
  std::mt19937_64 rng(14);
  const auto frames = video_from({random_hash(rng), random_hash(rng), random_hash(rng)}, rng);
  auto listed_ids = [&] {
    std::vector<std::string> ids;
    for (const StoredVideo& v : all_videos()) ids.push_back(v.list + "/" + v.id);
    return ids;
  };
  auto frame_rows = [&] {
    sql::Stmt q(store.handle(), "SELECT COUNT(*) FROM vpdq_frames");
    return q.step() ? q.col_int(0) : -1;
  };
  vs.add_video("known", "file", frames, {}, &kDigests);  // 3 digest entries + the video
  vs.add_video("known", "vpdq-only", frames);            // the video alone
  vs.add_video("known", "ncmec", frames, {}, &kDigests);
  vs.add_video("known", "stays", frames);
  vs.add_video("other", "all-1", frames, {}, &kDigests);
  vs.add_video("other", "all-2", frames);
  ASSERT_EQ(frame_rows(), 18);

  int64_t videos = -1;
  EXPECT_EQ(store.remove_id("known", "file", &videos), 4);  // 3 entries and the video
  EXPECT_EQ(videos, 1);
  const int64_t v0 = store.version();
  EXPECT_EQ(store.remove_id("known", "vpdq-only", &videos), 1);
  EXPECT_EQ(videos, 1);
  EXPECT_GT(store.version(), v0) << "removing a video alone must be seen by matchers that poll";
  EXPECT_EQ(store.remove_id("known", "vpdq-only", &videos), 0);
  EXPECT_EQ(videos, 0);

  std::istringstream deleted(
      "<queryResult><videos><deletedVideo><id>ncmec</id></deletedVideo></videos></queryResult>");
  const ImportSummary s = import_stream(store, "known", deleted, "deleted.xml", {});
  EXPECT_EQ(s.removed, 4);  // 3 entries and the video
  EXPECT_EQ(listed_ids(), (std::vector<std::string>{"known/stays", "other/all-1", "other/all-2"}));

  EXPECT_EQ(store.remove_all("other"), 5);  // 3 entries and 2 videos
  EXPECT_EQ(listed_ids(), (std::vector<std::string>{"known/stays"}));
  EXPECT_EQ(frame_rows(), 3) << "the removed videos' frames are gone too";
  EXPECT_EQ(store.stats("known").entries, 0);
  const VideoIndex index(vs, {});
  EXPECT_EQ(index.videos(), 1u);
  const auto m = index.match(frames);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].id, "stays");
}

// Frames built in code with a repeated frame number are refused (the table is keyed by frame
// number: one of them would be lost while the video claims them all), and the video stored under
// that id before stays as it was.
TEST_F(VpdqStoreDb, RepeatedFrameNumberIsRefused) {
  std::mt19937_64 rng(12);
  const auto before = video_from({random_hash(rng)}, rng);
  vs.add_video("known", "x", before, {}, &kDigests);
  std::vector<VpdqFrame> dup = video_from({random_hash(rng), random_hash(rng), random_hash(rng)}, rng);
  dup[2].frame_number = dup[0].frame_number;
  try {
    vs.add_video("known", "x", dup);
    ADD_FAILURE() << "accepted a repeated frame number";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("frame 0 appears twice"), std::string::npos) << e.what();
  }
  std::vector<StoredVideo> all = all_videos();
  ASSERT_EQ(all.size(), 1u);
  ASSERT_EQ(all[0].frames.size(), 1u);
  EXPECT_EQ(all[0].frames[0].hash, before[0].hash);
  EXPECT_EQ(store.stats("known").entries, 3);
  // Frames out of order are fine: stored and read back by frame number.
  std::vector<VpdqFrame> rev = video_from({random_hash(rng), random_hash(rng)}, rng);
  std::swap(rev[0], rev[1]);
  vs.add_video("known", "y", rev);
  all = all_videos();
  ASSERT_EQ(all.size(), 2u);
  ASSERT_EQ(all[1].frames.size(), 2u);
  EXPECT_EQ(all[1].frames[0].hash, rev[1].hash);
}

// Timestamps outside what the store can hold (microseconds in 64 bits) are clamped to
// 0..kMaxVpdqTimestamp rather than overflowing.
TEST_F(VpdqStoreDb, TimestampsAreClampedToTheFileRange) {
  std::mt19937_64 rng(13);
  auto f = video_from({random_hash(rng), random_hash(rng), random_hash(rng), random_hash(rng),
                       random_hash(rng)},
                      rng);
  f[0].timestamp = 1e300;
  f[1].timestamp = -5;
  f[2].timestamp = std::nan("");
  f[3].timestamp = 1e13;
  f[4].timestamp = 12.345678;
  vs.add_video("known", "x", f);
  std::vector<StoredVideo> all = all_videos();
  ASSERT_EQ(all.size(), 1u);
  ASSERT_EQ(all[0].frames.size(), 5u);
  EXPECT_EQ(all[0].frames[0].timestamp, kMaxVpdqTimestamp);
  EXPECT_EQ(all[0].frames[1].timestamp, 0.0);
  EXPECT_EQ(all[0].frames[2].timestamp, 0.0);
  EXPECT_EQ(all[0].frames[3].timestamp, kMaxVpdqTimestamp);
  EXPECT_DOUBLE_EQ(all[0].frames[4].timestamp, 12.345678);
}

// Stored videos built from a pool of shared "scenes", so that overlaps are partial: `count`
// videos of 5..24 frames, each frame a scene with up to max_bits - 1 bits flipped, some repeated
// (static scenes); video v is "v<v>" in the list list_of(v).
std::vector<std::vector<VpdqFrame>> add_scene_videos(VpdqStore& vs,
                                                     const std::vector<Hash256>& scenes, int count,
                                                     int max_bits, std::string (*list_of)(int),
                                                     std::mt19937_64& rng) {
  std::vector<std::vector<VpdqFrame>> stored;
  for (int v = 0; v < count; ++v) {
    std::vector<Hash256> hs;
    const int n = 5 + int(rng() % 20);
    for (int i = 0; i < n; ++i) {
      const auto& s = scenes[rng() % scenes.size()];
      hs.push_back(perturb(s, int(rng() % uint64_t(max_bits)), rng));
      if (rng() % 5 == 0) hs.push_back(hs.back());  // repeated frames (static scenes)
    }
    stored.push_back(video_from(hs, rng));
    vs.add_video(list_of(v), "v" + std::to_string(v), stored.back());
  }
  return stored;
}

TEST(VideoIndex, AgreesWithTheBruteForceMatcher) {
  for (uint64_t seed = 1; seed <= 3; ++seed) {
    std::mt19937_64 rng(seed);
    test::TempDir d;
    ListStore store((d / "l.db").string());
    VpdqStore vs(store);
    std::vector<Hash256> scenes;
    for (int i = 0; i < 60; ++i) scenes.push_back(random_hash(rng));
    const std::vector<std::vector<VpdqFrame>> stored = add_scene_videos(
        vs, scenes, 12, 24, [](int v) -> std::string { return v % 2 ? "odd" : "even"; }, rng);
    VideoMatchOptions o;
    o.query_match_percent = 30;
    for (bool strict : {false, true}) {
      o.strict_less = strict;
      MatcherOptions mo;
      mo.backend = Backend::kCpu;
      const VideoIndex index(vs, {}, o, mo);
      EXPECT_EQ(index.videos(), 12u);
      for (int qn = 0; qn < 8; ++qn) {
        std::vector<Hash256> hs;
        const int n = 4 + int(rng() % 16);
        for (int i = 0; i < n; ++i) hs.push_back(perturb(scenes[rng() % scenes.size()], int(rng() % 30), rng));
        const auto query = video_from(hs, rng);
        const auto got = index.match(query, /*all=*/true);
        std::map<std::string, VideoMatchResult> by_id;
        for (const auto& m : got) by_id[m.id] = m.result;
        for (int v = 0; v < 12; ++v) {
          const VideoMatchResult want = match_videos(query, stored[std::size_t(v)], o);
          const std::string id = "v" + std::to_string(v);
          if (want.query_matched == 0) {
            EXPECT_EQ(by_id.count(id), 0u) << id;
            // Thresholds of 0 do not make a pair without a frame in common a match.
            VideoMatchOptions zero = o;
            zero.query_match_percent = 0;
            EXPECT_FALSE(match_videos(query, stored[std::size_t(v)], zero).match) << id;
            continue;
          }
          ASSERT_EQ(by_id.count(id), 1u) << id;
          const auto& r = by_id[id];
          EXPECT_EQ(r.query_matched, want.query_matched) << id;
          EXPECT_EQ(r.compared_matched, want.compared_matched) << id;
          EXPECT_EQ(r.query_frames, want.query_frames) << id;
          EXPECT_EQ(r.compared_frames, want.compared_frames) << id;
          EXPECT_DOUBLE_EQ(r.query_match_percent, want.query_match_percent) << id;
          EXPECT_EQ(r.match, want.match) << id;
        }
        // Without `all`, only the matches, best q% first.
        const auto only = index.match(query);
        for (std::size_t i = 0; i < only.size(); ++i) {
          EXPECT_TRUE(only[i].result.match);
          if (i) {
            EXPECT_GE(only[i - 1].result.query_match_percent, only[i].result.query_match_percent);
          }
        }
      }
      // A list filter.
      const VideoIndex odd(vs, {"odd"}, o);
      EXPECT_EQ(odd.videos(), 6u);
    }
  }
}

// One index matched under other options per query (the server's: its request's threshold, its
// configuration's quality and percentages, after any reload) answers as an index built with those
// options, and as the brute-force matcher: below, above and at the build's distance threshold, at
// quality thresholds at and above the build's. A quality threshold below the build's cannot be
// served (those frames are not indexed) and is refused with the reason.
TEST(VideoIndex, MatchedUnderOtherOptionsAgreesWithAnIndexBuiltWithThem) {
  std::mt19937_64 rng(21);
  test::TempDir d;
  ListStore store((d / "l.db").string());
  VpdqStore vs(store);
  std::vector<Hash256> scenes;
  for (int i = 0; i < 40; ++i) scenes.push_back(random_hash(rng));
  const std::vector<std::vector<VpdqFrame>> stored =  // frame qualities 40..100
      add_scene_videos(
          vs, scenes, 10, 30, [](int) -> std::string { return "l"; }, rng);
  MatcherOptions mo;
  mo.backend = Backend::kCpu;
  VideoMatchOptions every;
  every.quality_threshold = 0;
  const VideoIndex index(vs, {}, every, mo);
  for (int qn = 0; qn < 6; ++qn) {
    std::vector<Hash256> hs;
    for (int i = 0; i < 12; ++i)
      hs.push_back(perturb(scenes[rng() % scenes.size()], int(rng() % 40), rng));
    const auto query = video_from(hs, rng);
    for (const int quality : {0, 50, 75, 95}) {
      for (const int distance : {0, 16, 31, 48}) {
        VideoMatchOptions o;
        o.quality_threshold = quality;
        o.distance_threshold = distance;
        o.query_match_percent = 25;
        const VideoIndex built(vs, {}, o, mo);
        const std::string at = "query " + std::to_string(qn) + ", quality " +
                               std::to_string(quality) + ", distance " + std::to_string(distance);
        const auto got = index.match(query, o, /*all=*/true);
        const auto want = built.match(query, /*all=*/true);
        ASSERT_EQ(got.size(), want.size()) << at;
        for (std::size_t i = 0; i < got.size(); ++i) {
          EXPECT_EQ(got[i].id, want[i].id) << at;
          const VideoMatchResult& g = got[i].result;
          const VideoMatchResult b =
              match_videos(query, stored[std::stoul(got[i].id.substr(1))], o);  // brute force
          EXPECT_EQ(g.query_frames, b.query_frames) << at;
          EXPECT_EQ(g.compared_frames, b.compared_frames) << at;
          EXPECT_EQ(g.query_matched, b.query_matched) << at;
          EXPECT_EQ(g.compared_matched, b.compared_matched) << at;
          EXPECT_EQ(g.match, b.match) << at;
          EXPECT_EQ(g.compared_frames, want[i].result.compared_frames) << at;
          EXPECT_EQ(g.match, want[i].result.match) << at;
        }
      }
    }
  }
  VideoMatchOptions q50;
  const VideoIndex from50(vs, {}, q50, mo);
  VideoMatchOptions lower = q50;
  lower.quality_threshold = 40;
  try {
    from50.match(stored[0], lower);
    ADD_FAILURE() << "matched with a quality threshold below the index's";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("quality >= 50"), std::string::npos) << e.what();
  }
}

// Runs the hashmatch binary in a temporary directory; its JSON lines read back.
class Cli {
 public:
  // `args` as a shell would split them; stdout and stderr go to the file `out` in the directory.
  int run(const std::string& args, const std::string& out) const {
    return std::system((std::string(HASHMATCH_BINARY) + " " + args + " > '" + (d / out).string() +
                        "' 2>&1")
                           .c_str());
  }
  std::vector<nlohmann::json> lines(const std::string& out) const {
    std::vector<nlohmann::json> v;
    const auto b = test::read_file(d / out);
    std::string s(b.begin(), b.end());
    std::size_t p = 0;
    while (p < s.size()) {
      const std::size_t e = s.find('\n', p);
      v.push_back(nlohmann::json::parse(s.substr(p, e - p)));
      p = e + 1;
    }
    return v;
  }
  // Writes `text` to the file `name` in the directory; returns its path quoted for the shell.
  std::string write(const std::string& name, const std::string& text) const {
    test::write_file(d / name, std::vector<uint8_t>(text.begin(), text.end()));
    return "'" + (d / name).string() + "'";
  }
  std::string text(const std::string& out) const {
    const auto b = test::read_file(d / out);
    return std::string(b.begin(), b.end());
  }
  test::TempDir d;
};

const std::string kH1 = "0000000000000000000000000000000012345670000000000000000000abcdef";
const std::string kH2 = "d76d4330f1446beab0c11fdecb91ce375bc8fbbcbde5c0994164d8399f767c45";
const std::string kH3 = "096d373742f9a039c320a4737c2b3abe14a03569d26b949692e5dfe8cb1855fe";

TEST(VideoCli, AddMatchCompareAndMatchFiles) {
  Cli cli;
  const test::TempDir& d = cli.d;
  auto run = [&](const std::string& args, const std::string& out) { return cli.run(args, out); };
  auto lines = [&](const std::string& out) { return cli.lines(out); };
  const std::string db = (d / "l.db").string();
  const auto sh = test::testdata_dir() / "vpdq/sample-hashes";
  const auto vids = test::testdata_dir() / "vpdq/videos";
  ASSERT_EQ(run("video add --db '" + db + "' --list known --category A1 '" +
                    (sh / "chair-orig-22-sd-bar.txt").string() + "' '" +
                    (vids / "test-padded-dimensions.mp4").string() + "'",
                "add.txt"),
            0);
  const auto added = lines("add.txt");
  ASSERT_EQ(added.size(), 2u);
  EXPECT_EQ(added[0]["id"], "chair-orig-22-sd-bar");
  EXPECT_EQ(added[1]["kind"], "video");
  EXPECT_EQ(added[1]["id"].get<std::string>().size(), 64u);  // the video's sha256

  ASSERT_EQ(run("video match --db '" + db + "' '" + (sh / "chair-22-sd-grey-bar.txt").string() +
                    "' '" + (sh / "pattern-hd-no-bar.txt").string() + "'",
                "match.txt"),
            0);
  const auto m = lines("match.txt");
  ASSERT_EQ(m.size(), 2u);
  ASSERT_EQ(m[0]["video_matches"].size(), 1u);
  EXPECT_EQ(m[0]["video_matches"][0]["id"], "chair-orig-22-sd-bar");
  EXPECT_EQ(m[0]["video_matches"][0]["category"], "A1");
  EXPECT_TRUE(m[1]["video_matches"].empty());

  // `match FILES`: the listed video file is found by digest and video-level; another is not.
  ASSERT_EQ(run("match --db '" + db + "' '" + (vids / "test-padded-dimensions.mp4").string() +
                    "' '" + (vids / "pattern-sd-grey-bar.mp4").string() + "'",
                "files.txt"),
            0);
  const auto f = lines("files.txt");
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f[0]["matches"].size(), 3u);  // md5, sha1, sha256
  ASSERT_EQ(f[0]["video_matches"].size(), 1u);
  EXPECT_EQ(f[0]["video_matches"][0]["query_match_percent"], 100.0);
  EXPECT_TRUE(f[1]["matches"].empty());
  EXPECT_TRUE(f[1]["video_matches"].empty());
  // --threshold is the frames' distance threshold for the video-level matches too (as in scan).
  const std::string grey_chair = (vids / "chair-22-sd-grey-bar.mp4").string();
  ASSERT_EQ(run("match --db '" + db + "' '" + grey_chair + "'", "t31.txt"), 0);
  ASSERT_EQ(lines("t31.txt")[0]["video_matches"].size(), 1u);
  EXPECT_EQ(lines("t31.txt")[0]["video_matches"][0]["id"], "chair-orig-22-sd-bar");
  ASSERT_EQ(run("match --db '" + db + "' --threshold 0 '" + grey_chair + "'", "t0.txt"), 0);
  EXPECT_TRUE(lines("t0.txt")[0]["video_matches"].empty());
  // The video options of `hashmatch hash` reach `match FILES`.
  const std::string grey = (vids / "pattern-sd-grey-bar.mp4").string();
  ASSERT_EQ(run("match --db '" + db + "' --vpdq-every-frame '" + grey + "'", "every.txt"), 0);
  const auto every = lines("every.txt");
  ASSERT_EQ(every.size(), 1u);
  EXPECT_GT(every[0]["vpdq"].size(), f[1]["vpdq"].size());
  EXPECT_EQ(every[0]["video"]["frame_mod"], 1);
  EXPECT_NE(run("match --db '" + db + "' --video-max-seconds 1 '" + grey + "'", "limit.txt"), 0);
  EXPECT_EQ(lines("limit.txt")[0]["error_reason"], "too_long");

  // A video's frames against listed images (PDQ entries): one match per entry, with the share of
  // the video's distinct frames that matched it, as `hashmatch scan` reports it.
  const std::string other = (vids / "pattern-sd-grey-bar.mp4").string();
  ASSERT_EQ(run("hash '" + other + "'", "hash.txt"), 0);
  const auto h = lines("hash.txt");
  ASSERT_EQ(h.size(), 1u);
  ASSERT_GE(h[0]["vpdq"].size(), 2u);
  const std::string frame_hash = h[0]["vpdq"][0]["pdq"];
  test::write_file(d / "frame.txt", std::vector<uint8_t>(frame_hash.begin(), frame_hash.end()));
  ASSERT_EQ(run("list import --db '" + db + "' --list images --format lines '" +
                    (d / "frame.txt").string() + "'",
                "import.txt"),
            0);
  ASSERT_EQ(run("match --db '" + db + "' --list images '" + other + "'", "frames.txt"), 0);
  const auto fm = lines("frames.txt");
  ASSERT_EQ(fm.size(), 1u);
  ASSERT_GE(fm[0]["matches"].size(), 1u) << fm[0];
  const auto& hit = fm[0]["matches"][0];
  EXPECT_EQ(hit["algo"], "pdq");
  EXPECT_EQ(hit["hash"], frame_hash);
  EXPECT_GE(hit["frames_matched"].get<int>(), 1);
  EXPECT_GT(hit["frames"].get<int>(), 0);
  EXPECT_GT(hit["query_match_percent"].get<double>(), 0.0);

  ASSERT_EQ(run("video compare '" + (sh / "chair-19-sd-bar.txt").string() + "' '" +
                    (sh / "chair-orig-22-sd-bar.txt").string() + "'",
                "cmp.txt"),
            0);
  const auto c = lines("cmp.txt");
  EXPECT_EQ(c[0]["match"], true);
  EXPECT_EQ(c[0]["query_match_percent"], 100.0);

  EXPECT_EQ(run("video remove --db '" + db + "' --list known chair-orig-22-sd-bar", "rm.txt"), 0);
  EXPECT_NE(run("video add --db '" + db + "' --list known /nonexistent.mp4", "bad.txt"), 0);
  EXPECT_NE(run("video frobnicate", "bad2.txt"), 0);
}

// `hashmatch list remove` removes the listed videos with the ids it removes (--id) or every one of
// the list (--all): `video match` and `match` stop finding them. One of the videos comes from a
// vPDQ file (no digest entries); the other from a video file (digests too).
TEST(VideoCli, ListRemoveTakesTheListedVideosAlong) {
  Cli cli;
  const std::string db = "--db '" + (cli.d / "l.db").string() + "'";
  const auto sh = test::testdata_dir() / "vpdq/sample-hashes";
  const std::string chair = "'" + (sh / "chair-orig-22-sd-bar.txt").string() + "'";
  const std::string padded =
      "'" + (test::testdata_dir() / "vpdq/videos/test-padded-dimensions.mp4").string() + "'";
  auto matched = [&](const std::string& input, const std::string& out) {
    EXPECT_EQ(cli.run("video match " + db + " " + input, out), 0);
    std::vector<std::string> ids;
    const std::vector<nlohmann::json> lines = cli.lines(out);
    for (const auto& m : lines.at(0)["video_matches"]) ids.push_back(m["id"]);
    return ids;
  };
  ASSERT_EQ(cli.run("video add " + db + " --list vids --id vb " + chair, "add1.txt"), 0);
  ASSERT_EQ(cli.run("video add " + db + " --list vids --id va " + padded, "add2.txt"), 0);
  ASSERT_EQ(matched(chair, "m0.txt"), std::vector<std::string>{"vb"});
  ASSERT_EQ(matched(padded, "m1.txt"), std::vector<std::string>{"va"});

  ASSERT_EQ(cli.run("list remove " + db + " --list vids --id vb", "rm.txt"), 0);
  EXPECT_EQ(cli.lines("rm.txt").at(0)["removed"], 1);  // the video, which has no entries
  EXPECT_TRUE(matched(chair, "m2.txt").empty());
  ASSERT_EQ(matched(padded, "m3.txt"), std::vector<std::string>{"va"});

  ASSERT_EQ(cli.run("list remove " + db + " --list vids --all", "rm-all.txt"), 0);
  EXPECT_EQ(cli.lines("rm-all.txt").at(0)["removed"], 4);  // md5, sha1, sha256 and the video
  EXPECT_TRUE(matched(padded, "m4.txt").empty());
  ASSERT_EQ(cli.run("match " + db + " " + padded, "files.txt"), 0);
  const auto f = cli.lines("files.txt");
  EXPECT_TRUE(f.at(0)["matches"].empty()) << f[0];
  EXPECT_TRUE(f.at(0).value("video_matches", nlohmann::json::array()).empty()) << f[0];
}

// vPDQ files: `compare` and the store see the same frames, whatever the file's line order; a
// repeated frame number is an error for that file (not a silently shorter stored video).
TEST(VideoCli, VpdqFilesAreReadAlikeEverywhere) {
  Cli cli;
  const std::string db = "--db '" + (cli.d / "l.db").string() + "'";
  // Frame 5 repeats frame 2's hash at low quality: keeping the first occurrence by frame number
  // keeps frame 2 (quality 90), by line order frame 5 (quality 40, then filtered out).
  const std::string unsorted = cli.write(
      "unsorted.txt", "5,40," + kH2 + ",5.000\n2,90," + kH2 + ",2.000\n1,90," + kH3 + ",1.000\n");
  const std::string query = cli.write("q.txt", "0,100," + kH2 + ",0.000\n");
  ASSERT_EQ(cli.run("video compare " + query + " " + unsorted, "cmp.txt"), 0);
  const auto c = cli.lines("cmp.txt");
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0]["query_match_percent"], 100.0);
  EXPECT_EQ(c[0]["compared_match_percent"], 50.0);
  ASSERT_EQ(cli.run("video add " + db + " --list known " + unsorted, "add.txt"), 0);
  ASSERT_EQ(cli.run("video match " + db + " --all " + query, "match.txt"), 0);
  const auto m = cli.lines("match.txt");
  ASSERT_EQ(m.size(), 1u);
  ASSERT_EQ(m[0]["video_matches"].size(), 1u);
  EXPECT_EQ(m[0]["video_matches"][0]["query_match_percent"], c[0]["query_match_percent"]);
  EXPECT_EQ(m[0]["video_matches"][0]["compared_match_percent"], c[0]["compared_match_percent"]);

  const std::string dup = cli.write(
      "dup.txt", "0,100," + kH1 + ",0.000\n0,100," + kH2 + ",0.000\n0,100," + kH3 + ",0.000\n");
  EXPECT_NE(cli.run("video add " + db + " --list known " + dup, "dup.out"), 0);
  const auto a = cli.lines("dup.out");
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0]["error_reason"], "invalid_vpdq");
  EXPECT_NE(a[0]["error"].get<std::string>().find("frame 0 appears twice (lines 1 and 2)"),
            std::string::npos)
      << a[0];
  // The store refusing a video (a bad list name) is said with a reason too.
  EXPECT_NE(cli.run("video add " + db + " --list 'bad name!' " + query, "name.out"), 0);
  const auto n = cli.lines("name.out");
  ASSERT_EQ(n.size(), 1u);
  EXPECT_EQ(n[0]["error_reason"], "invalid_argument") << n[0];
}

// A truncated copy of a listed video: `video match` says the error and still matches the frames
// hashed before the cut, as `hashmatch match` does; `video add` and `compare` refuse it.
TEST(VideoCli, TruncatedVideoStillMatchesItsFrames) {
  Cli cli;
  const std::string db = "--db '" + (cli.d / "l.db").string() + "'";
  SynthClipSpec s;
  s.width = 320;
  s.height = 240;
  s.frames = 150;  // 5 s at 30 fps: 5 hashed frames
  write_synth_clip(cli.d / "full.mkv", s);
  const auto full = test::read_file(cli.d / "full.mkv");
  test::write_file(cli.d / "cut.mkv", std::vector<uint8_t>(full.begin(), full.begin() + std::ptrdiff_t(
                                                                             full.size() * 7 / 10)));
  const std::string whole = "'" + (cli.d / "full.mkv").string() + "'";
  const std::string cut = "'" + (cli.d / "cut.mkv").string() + "'";
  ASSERT_EQ(cli.run("video add " + db + " --list known --id full " + whole, "add.out"), 0);

  EXPECT_NE(cli.run("video match " + db + " " + cut, "vm.out"), 0);
  const auto vm = cli.lines("vm.out");
  ASSERT_EQ(vm.size(), 1u);
  EXPECT_EQ(vm[0]["error_reason"], "truncated") << vm[0];
  ASSERT_TRUE(vm[0].contains("video_matches")) << vm[0];
  EXPECT_GE(vm[0]["frames"].get<int>(), 2);
  EXPECT_LT(vm[0]["frames"].get<int>(), 5);
  ASSERT_EQ(vm[0]["video_matches"].size(), 1u) << vm[0];
  EXPECT_EQ(vm[0]["video_matches"][0]["id"], "full");
  EXPECT_EQ(vm[0]["video_matches"][0]["match"], true);
  EXPECT_EQ(vm[0]["video_matches"][0]["query_match_percent"], 100.0);

  EXPECT_NE(cli.run("match " + db + " " + cut, "m.out"), 0);
  const auto m = cli.lines("m.out");
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0]["error_reason"], "truncated");
  ASSERT_EQ(m[0]["video_matches"].size(), 1u) << m[0];
  EXPECT_EQ(m[0]["video_matches"][0]["compared_match_percent"],
            vm[0]["video_matches"][0]["compared_match_percent"]);

  EXPECT_NE(cli.run("video add " + db + " --list known --id cut " + cut, "addcut.out"), 0);
  EXPECT_EQ(cli.lines("addcut.out")[0]["error_reason"], "truncated");
  EXPECT_NE(cli.run("video compare " + cut + " " + whole, "cmp.out"), 0);
  EXPECT_EQ(cli.lines("cmp.out")[0]["error_reason"], "truncated");
}

// Which inputs are vPDQ files, and the reasons given when one cannot be used.
TEST(VideoCli, VpdqFileInputErrors) {
  Cli cli;
  const std::string q = cli.write("q.txt", "0,100," + kH2 + ",0.000\n");
  // Upper-case extensions name vPDQ files too (hashed as a video they would fail: not_video).
  const std::string upper = cli.write("Q1.TXT", "3,100," + kH2 + ",3.000\n");
  EXPECT_EQ(cli.run("video compare " + upper + " " + q, "upper.out"), 0);
  EXPECT_EQ(cli.lines("upper.out")[0]["match"], true) << cli.lines("upper.out")[0];
  // A BOM, and CR-only line ends, as some editors write.
  const std::string bom = cli.write("bom.txt", std::string("\xEF\xBB\xBF") + "0,100," + kH2 + ",0.000\n");
  EXPECT_EQ(cli.run("video compare " + bom + " " + q, "bom.out"), 0);
  EXPECT_EQ(cli.lines("bom.out")[0]["match"], true) << cli.lines("bom.out")[0];
  const std::string cr = cli.write("cr.txt", "0,100," + kH2 + ",0.000\r1,100," + kH2 + ",1.000\r");
  EXPECT_EQ(cli.run("video compare " + cr + " " + q, "cr.out"), 0);
  EXPECT_EQ(cli.lines("cr.out")[0]["match"], true) << cli.lines("cr.out")[0];
  // A file that cannot be read is an I/O error, not a malformed or empty vPDQ file.
  std::filesystem::create_directory(cli.d / "dir.txt");
  for (const std::string& bad : {(cli.d / "missing.txt").string(), (cli.d / "dir.txt").string()}) {
    EXPECT_NE(cli.run("video compare '" + bad + "' " + q, "bad.out"), 0);
    const auto l = cli.lines("bad.out");
    ASSERT_EQ(l.size(), 1u);
    EXPECT_EQ(l[0]["error_reason"], "io") << l[0];
  }
  const std::string empty = cli.write("empty.txt", "# nothing\n");
  EXPECT_NE(cli.run("video compare " + empty + " " + q, "empty.out"), 0);
  EXPECT_EQ(cli.lines("empty.out")[0]["error_reason"], "empty");
}

// `video remove` takes only a listed video (and its digests): an id that names image entries
// is left alone (ids are shared by images and videos in one list), and said to be no video.
TEST_F(VpdqStoreDb, RemoveVideoLeavesAnImageRecordOfThatIdAlone) {
  std::mt19937_64 rng(31);
  std::istringstream csv("id,algo,hash\nimg1,md5,0123456789abcdef0123456789abcdef\n");
  import_stream(store, "L", csv, "imgs.csv", {});
  vs.add_video("L", "vid", video_from({random_hash(rng), random_hash(rng)}, rng), {}, &kDigests);
  ASSERT_EQ(store.stats("L").entries, 4);
  int64_t entries = -1;
  EXPECT_EQ(vs.remove_video("L", "img1", &entries), 0);
  EXPECT_EQ(entries, 0);
  EXPECT_EQ(store.stats("L").entries, 4) << "the image's entry must stay";
  EXPECT_EQ(vs.remove_video("L", "vid", &entries), 1);
  EXPECT_EQ(entries, 3);  // its md5, sha1, sha256
  EXPECT_EQ(store.stats("L").entries, 1);
  EXPECT_EQ(vs.remove_video("nolist", "vid"), 0);
}

// List statistics count listed videos: records (an id once, a video's digests share its id),
// videos and their frames, the last addition.
TEST_F(VpdqStoreDb, StatsCountListedVideos) {
  std::mt19937_64 rng(32);
  std::istringstream csv("id,algo,hash\nimg1,md5,0123456789abcdef0123456789abcdef\n");
  import_stream(store, "L", csv, "imgs.csv", {});
  vs.add_video("L", "v1", video_from({random_hash(rng), random_hash(rng)}, rng), {}, &kDigests);
  vs.add_video("L", "v2", video_from({random_hash(rng), random_hash(rng), random_hash(rng)}, rng));
  const ListStats s = store.stats("L");
  EXPECT_EQ(s.entries, 4);
  EXPECT_EQ(s.records, 3);  // img1, v1, v2
  EXPECT_EQ(s.videos, 2);
  EXPECT_EQ(s.video_frames, 5);
  EXPECT_GT(s.last_added, 0);
  vs.add_video("only", "v", video_from({random_hash(rng)}, rng));
  const ListStats o = store.stats("only");
  EXPECT_EQ(o.entries, 0);
  EXPECT_EQ(o.records, 1);
  EXPECT_EQ(o.videos, 1);
  EXPECT_GT(o.last_added, 0) << "a list of videos alone was added to";
}

// The quality filter comes before the dedupe (python-threatexchange's index, HMA): a hash first
// seen at low quality (a fade-in) and then at full quality counts; dedupe_first (its brute
// matcher) loses it. The index keeps each hash's best quality, so that matching it with a higher
// quality threshold than it was built with drops exactly what an index built with that would.
TEST(VideoMatch, QualityFilterComesBeforeTheDedupe) {
  std::mt19937_64 rng(33);
  const Hash256 h = random_hash(rng), other = random_hash(rng);
  const std::vector<VpdqFrame> fade = {{0, 40, h, 0}, {1, 100, h, 1}, {2, 100, h, 2}};
  const std::vector<VpdqFrame> listed = {{0, 100, h, 0}};
  const VideoMatchResult r = match_videos(fade, listed);
  EXPECT_EQ(r.query_frames, 1u);
  EXPECT_TRUE(r.match);
  VideoMatchOptions brute;
  brute.dedupe_first = true;
  const VideoMatchResult b = match_videos(fade, listed, brute);
  EXPECT_EQ(b.query_frames, 0u);
  EXPECT_FALSE(b.match);

  test::TempDir d;
  ListStore store((d / "l.db").string());
  VpdqStore vs(store);
  const std::vector<VpdqFrame> stored = {{0, 60, h, 0}, {1, 90, h, 1}, {2, 55, other, 2}};
  vs.add_video("l", "fade", stored);
  MatcherOptions mo;
  mo.backend = Backend::kCpu;
  const VideoIndex index(vs, {}, VideoMatchOptions{}, mo);
  for (const int f : {50, 80, 95}) {
    VideoMatchOptions o;
    o.quality_threshold = f;
    VideoIndex built(vs, {}, o, mo);
    const std::vector<VpdqFrame> q = {{0, 100, h, 0}};
    const auto got = index.match(q, o, /*all=*/true);
    const auto want = built.match(q, o, /*all=*/true);
    ASSERT_EQ(got.size(), want.size()) << f;
    if (!got.empty()) {
      EXPECT_EQ(got[0].result.compared_frames, want[0].result.compared_frames) << f;
      EXPECT_EQ(got[0].result.compared_matched, want[0].result.compared_matched) << f;
    }
    const auto brute_r = match_videos(q, stored, o);
    EXPECT_EQ(got.empty() ? 0u : got[0].result.compared_frames,
              brute_r.query_matched ? brute_r.compared_frames : 0u)
        << f;
  }
  VideoMatchOptions mixed;
  mixed.dedupe_first = true;
  EXPECT_THROW(index.match(fade, mixed), InvalidArgument);
}

// Near D = 256 every query frame hits every stored frame: the index counts the hits a chunk of
// queries at a time (memory O(stored frames)); its answers stay those of the brute-force matcher
// (5,000 stored frames x 1,500 query frames: several chunks).
TEST(VideoIndex, HighDistanceThresholdsAgreeWithTheBruteForceMatcher) {
  std::mt19937_64 rng(34);
  test::TempDir d;
  ListStore store((d / "l.db").string());
  VpdqStore vs(store);
  std::vector<std::vector<VpdqFrame>> stored;
  for (int v = 0; v < 5; ++v) {
    std::vector<Hash256> hs;
    for (int i = 0; i < 1000; ++i) hs.push_back(random_hash(rng));
    stored.push_back(video_from(hs, rng));
    vs.add_video("l", "v" + std::to_string(v), stored.back());
  }
  std::vector<Hash256> qh;
  for (int i = 0; i < 1500; ++i) qh.push_back(random_hash(rng));
  const auto query = video_from(qh, rng);
  MatcherOptions mo;
  mo.backend = Backend::kCpu;
  for (const int dist : {256, 128, 100}) {
    VideoMatchOptions o;
    o.distance_threshold = dist;
    o.query_match_percent = 0;
    const VideoIndex index(vs, {}, o, mo);
    std::map<std::string, VideoMatchResult> by_id;
    for (const auto& m : index.match(query, /*all=*/true)) by_id[m.id] = m.result;
    for (int v = 0; v < 5; ++v) {
      const VideoMatchResult want = match_videos(query, stored[std::size_t(v)], o);
      const std::string id = "v" + std::to_string(v);
      if (want.query_matched == 0) {
        EXPECT_EQ(by_id.count(id), 0u) << id << " D " << dist;
        continue;
      }
      ASSERT_EQ(by_id.count(id), 1u) << id << " D " << dist;
      EXPECT_EQ(by_id[id].query_matched, want.query_matched) << id << " D " << dist;
      EXPECT_EQ(by_id[id].compared_matched, want.compared_matched) << id << " D " << dist;
      EXPECT_EQ(by_id[id].query_frames, want.query_frames) << id << " D " << dist;
    }
  }
}

// vPDQ parse errors quote a bad field briefly: a 1 MB field or a NUL byte leave a readable message.
TEST(VpdqIo, ErrorsQuoteFieldsBriefly) {
  const std::string big = "0," + std::string(1 << 20, '9') + "," + kH1 + ",0.000\n";
  try {
    parse_vpdq(big, "big.txt");
    FAIL() << "a quality of a million digits was read";
  } catch (const InvalidArgument& e) {
    EXPECT_LT(std::string(e.what()).size(), 200u) << std::string(e.what()).substr(0, 300);
    EXPECT_NE(std::string(e.what()).find("bytes)"), std::string::npos) << e.what();
  }
  const std::string nul = std::string("0,100,") + kH1 + "," + std::string("1.", 2) + '\0' + "5\n";
  try {
    parse_vpdq(nul, "nul.txt");
    FAIL() << "a timestamp with a NUL was read";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("\\x00"), std::string::npos) << e.what();
  }
}

// The `video` commands refuse what would read as "not known" or lose a video: an unknown list
// (match, remove), two inputs of one run given the same file-name id, an empty --id, remove
// without ids; remove of an image record's id changes nothing and says so.
TEST(VideoCli, MisusesAreRefusedAndNothingIsLost) {
  Cli cli;
  const std::string db = "--db '" + (cli.d / "l.db").string() + "'";
  std::filesystem::create_directories(cli.d / "a");
  std::filesystem::create_directories(cli.d / "b");
  const std::string a =
      cli.write("a/clip.txt", "0,100," + kH1 + ",0.000\n1,100," + kH2 + ",1.000\n");
  const std::string b = cli.write("b/clip.txt", "0,100," + kH3 + ",0.000\n");
  EXPECT_EQ(cli.run("video add " + db + " --list known " + a + " " + b, "add.txt"), 256);
  const auto added = cli.lines("add.txt");
  ASSERT_EQ(added.size(), 2u);
  EXPECT_EQ(added[0]["id"], "clip");
  EXPECT_EQ(added[1]["error_reason"], "duplicate_id") << added[1];
  ASSERT_EQ(cli.run("video add " + db + " --list known --id clip-b " + b, "add-b.txt"), 0);
  ASSERT_EQ(cli.run("video match " + db + " " + a, "m-a.txt"), 0);
  EXPECT_EQ(cli.lines("m-a.txt").at(0)["video_matches"].at(0)["id"], "clip");
  ASSERT_EQ(cli.run("video match " + db + " " + b, "m-b.txt"), 0);
  EXPECT_EQ(cli.lines("m-b.txt").at(0)["video_matches"].at(0)["id"], "clip-b");

  EXPECT_EQ(cli.run("video match " + db + " --list knwon " + a, "typo.txt"), 2 * 256);
  EXPECT_NE(cli.text("typo.txt").find("no list named 'knwon'"), std::string::npos)
      << cli.text("typo.txt");
  EXPECT_EQ(cli.run("video remove " + db + " --list knwon clip", "rm-typo.txt"), 2 * 256);
  EXPECT_EQ(cli.run("video remove " + db + " --list known", "rm-none.txt"), 2 * 256);
  EXPECT_EQ(cli.run("video add " + db + " --list known --id '' " + a, "empty-id.txt"), 2 * 256);

  const std::string csv =
      cli.write("imgs.csv", "id,algo,hash\nimg1,md5,0123456789abcdef0123456789abcdef\n");
  ASSERT_EQ(cli.run("list import " + db + " --list known " + csv, "imp.txt"), 0);
  EXPECT_EQ(cli.run("video remove " + db + " --list known img1", "rm-img.txt"), 256);
  const auto rm = cli.lines("rm-img.txt");
  EXPECT_EQ(rm.at(0)["removed"], 0);
  EXPECT_EQ(rm.at(0)["error_reason"], "not_found");
  ASSERT_EQ(cli.run("list stats " + db + " --list known", "stats.txt"), 0);
  const auto st = cli.lines("stats.txt").at(0);
  EXPECT_EQ(st["md5"], 1) << st;
  EXPECT_EQ(st["videos"], 2) << st;
  EXPECT_EQ(st["records"], 3) << st;
  ASSERT_EQ(cli.run("video remove " + db + " --list known clip", "rm-clip.txt"), 0);
  EXPECT_EQ(cli.lines("rm-clip.txt").at(0)["removed"], 1);
  ASSERT_EQ(cli.run("list drop " + db + " --list known", "drop.txt"), 0);
  const auto dr = cli.lines("drop.txt").at(0);
  EXPECT_EQ(dr["videos"], 1) << dr;
  EXPECT_EQ(dr["removed"], 2) << dr;  // the image's md5 and the video clip-b
}

// `video export` writes each listed video as a vPDQ file with its id and labels in comments;
// `video add` of those files gives the same videos (ids of any characters, labels, frames) in
// another database; `list export` says what it leaves out.
TEST(VideoCli, ExportAndAddBackGiveTheSameVideos) {
  Cli cli;
  const std::string db1 = "--db '" + (cli.d / "one.db").string() + "'";
  const std::string db2 = "--db '" + (cli.d / "two.db").string() + "'";
  const std::string v1 = cli.write("v1.txt", "0,100," + kH1 + ",0.000\n30,80," + kH2 + ",1.000\n");
  const std::string v2 = cli.write("v2.txt", "0,90," + kH3 + ",0.000\n");
  ASSERT_EQ(cli.run("video add " + db1 +
                        " --list L --id 'odd id, \"quoted\"/x' --category A1 "
                        "--source hotline --tag t1 --tag 't 2' " +
                        v1,
                    "a1.txt"),
            0);
  ASSERT_EQ(cli.run("video add " + db1 + " --list L --id .hidden " + v2, "a2.txt"), 0);
  ASSERT_EQ(cli.run("list export " + db1 + " --list L", "exp.txt"), 0);
  EXPECT_NE(cli.text("exp.txt").find("2 listed video(s)"), std::string::npos)
      << cli.text("exp.txt");

  const std::string dir = (cli.d / "out").string();
  ASSERT_EQ(cli.run("video export " + db1 + " --list L --dir '" + dir + "'", "vx.txt"), 0);
  const auto exported = cli.lines("vx.txt");
  ASSERT_EQ(exported.size(), 2u);
  std::string args;
  for (const auto& e : exported) {
    const std::string path = e["path"];
    EXPECT_EQ(std::filesystem::path(path).parent_path(), std::filesystem::path(dir));
    EXPECT_NE(std::filesystem::path(path).filename().string().front(), '.') << path;
    args += " '" + path + "'";
  }
  ASSERT_EQ(cli.run("video add " + db2 + " --list L" + args, "back.txt"), 0);
  auto videos = [](const std::string& db) {
    ListStore store(db, /*create=*/false);
    VpdqStore vs(store);
    std::vector<StoredVideo> all;
    vs.for_each_video({}, [&](const StoredVideo& v) { all.push_back(v); });
    return all;
  };
  const auto one = videos((cli.d / "one.db").string());
  const auto two = videos((cli.d / "two.db").string());
  ASSERT_EQ(one.size(), 2u);
  ASSERT_EQ(two.size(), one.size());
  for (std::size_t i = 0; i < one.size(); ++i) {
    EXPECT_EQ(two[i].id, one[i].id);
    EXPECT_EQ(two[i].labels, one[i].labels) << one[i].id;
    ASSERT_EQ(two[i].frames.size(), one[i].frames.size());
    for (std::size_t k = 0; k < one[i].frames.size(); ++k) {
      EXPECT_EQ(two[i].frames[k].frame_number, one[i].frames[k].frame_number);
      EXPECT_EQ(two[i].frames[k].quality, one[i].frames[k].quality);
      EXPECT_EQ(two[i].frames[k].hash, one[i].frames[k].hash);
      EXPECT_DOUBLE_EQ(two[i].frames[k].timestamp, one[i].frames[k].timestamp);
    }
  }
  EXPECT_EQ(one[1].labels.tags, (std::vector<std::string>{"t1", "t 2"})) << one[1].id;
  // One video to standard output: a vPDQ file the reference tools read.
  ASSERT_EQ(cli.run("video export " + db1 + " --list L --id .hidden", "one.txt"), 0);
  EXPECT_NE(cli.text("one.txt").find("0,90," + kH3 + ",0.000"), std::string::npos)
      << cli.text("one.txt");
  EXPECT_EQ(cli.run("video export " + db1 + " --list L --id nope", "nope.txt"), 256);

  // Exporting into the same folder again writes new files beside the old ones, never over them.
  const auto before = test::read_file(exported[0]["path"].get<std::string>());
  ASSERT_EQ(cli.run("video export " + db1 + " --list L --dir '" + dir + "'", "vx2.txt"), 0);
  const auto again = cli.lines("vx2.txt");
  ASSERT_EQ(again.size(), 2u);
  for (const auto& e : again) {
    for (const auto& f : exported) EXPECT_NE(e["path"], f["path"]);
  }
  EXPECT_EQ(test::read_file(exported[0]["path"].get<std::string>()), before);
}

// What `video export` carries beyond the frames: the md5/sha1/sha256 entries of a video added
// from its file (added back with it: `match` of the file still finds them), and ids and labels
// that are not UTF-8 (a Latin-1 CSV's), byte for byte.
TEST(VideoCli, ExportCarriesDigestsAndAnyBytes) {
  Cli cli;
  const std::string one = (cli.d / "one.db").string(), two = (cli.d / "two.db").string();
  const std::string clip =
      "'" + (test::testdata_dir() / "vpdq/videos/test-padded-dimensions.mp4").string() + "'";
  ASSERT_EQ(cli.run("video add --db '" + one + "' --list L --id file " + clip, "add.txt"), 0);
  {
    ListStore store(one);
    VpdqStore vs(store);
    std::mt19937_64 rng(35);
    Labels l;
    l.category = "caf\xe9";
    l.tags = {"t\xff"};
    vs.add_video("L", "id\xff", video_from({random_hash(rng)}, rng), l);
    vs.add_video("L", "id\xfe", video_from({random_hash(rng)}, rng));
  }
  const std::string dir = (cli.d / "out").string();
  ASSERT_EQ(cli.run("video export --db '" + one + "' --list L --dir '" + dir + "'", "vx.txt"), 0);
  std::string args;
  for (const auto& e : cli.lines("vx.txt")) args += " '" + e["path"].get<std::string>() + "'";
  ASSERT_EQ(cli.run("video add --db '" + two + "' --list L" + args, "back.txt"), 0)
      << cli.text("back.txt");
  ListStore s1(one, false), s2(two, false);
  EXPECT_EQ(s2.stats("L").entries, 3);  // the file's md5, sha1, sha256
  EXPECT_EQ(s2.stats("L").videos, 3);
  std::vector<StoredEntry> e1, e2;
  s1.for_each_entry("L", [&](const StoredEntry& e) { e1.push_back(e); });
  s2.for_each_entry("L", [&](const StoredEntry& e) { e2.push_back(e); });
  ASSERT_EQ(e1.size(), e2.size());
  for (std::size_t i = 0; i < e1.size(); ++i) {
    EXPECT_EQ(e2[i].id, e1[i].id);
    EXPECT_EQ(e2[i].hash, e1[i].hash);
  }
  VpdqStore v1(s1), v2(s2);
  std::map<std::string, Labels> l1, l2;
  v1.for_each_video({}, [&](const StoredVideo& v) { l1[v.id] = v.labels; });
  v2.for_each_video({}, [&](const StoredVideo& v) { l2[v.id] = v.labels; });
  EXPECT_EQ(l2, l1);
  ASSERT_TRUE(l2.count("id\xff"));
  EXPECT_EQ(l2["id\xff"].category, "caf\xe9");
  EXPECT_EQ(l2["id\xff"].tags, std::vector<std::string>{"t\xff"});
  EXPECT_TRUE(l2.count("id\xfe"));
  ASSERT_EQ(cli.run("match --db '" + two + "' " + clip, "m.txt"), 0);
  EXPECT_EQ(cli.lines("m.txt").at(0)["matches"].size(), 3u);  // by digest
}

// `hashmatch match --pdq-file` takes a video's `hashmatch hash` line and answers as matching the
// video itself: digest matches, frame matches and video_matches.
TEST(VideoCli, PdqFileTakesAVideosHashLine) {
  Cli cli;
  const std::string db = "--db '" + (cli.d / "l.db").string() + "'";
  const std::string clip =
      "'" + (test::testdata_dir() / "vpdq/videos/test-padded-dimensions.mp4").string() + "'";
  ASSERT_EQ(cli.run("video add " + db + " --list vids --id known " + clip, "add.txt"), 0);
  ASSERT_EQ(cli.run("hash " + clip, "h.json"), 0);
  ASSERT_EQ(cli.run("match " + db + " " + clip, "direct.txt"), 0);
  ASSERT_EQ(
      cli.run("match " + db + " --pdq-file '" + (cli.d / "h.json").string() + "'", "file.txt"), 0);
  const auto direct = cli.lines("direct.txt").at(0);
  const auto viafile = cli.lines("file.txt").at(0);
  EXPECT_EQ(viafile["matches"], direct["matches"]);
  EXPECT_EQ(viafile["video_matches"], direct["video_matches"]);
  ASSERT_FALSE(viafile["video_matches"].empty());
  EXPECT_EQ(viafile["video_matches"][0]["id"], "known");
  EXPECT_EQ(viafile["matches"].size(), 3u) << viafile;  // md5, sha1, sha256
  // A quality past int's range is an error, not a wrapped 50.
  const std::string wide = cli.write(
      "wide.json", R"({"vpdq":[{"frame":0,"quality":4294967346,"pdq":")" + kH1 + "\"}]}\n");
  EXPECT_EQ(cli.run("match " + db + " --pdq-file " + wide, "wide.txt"), 256);
  EXPECT_NE(cli.lines("wide.txt").at(0)["error"].get<std::string>().find("quality"),
            std::string::npos);
  // A malformed frame is an error for that line.
  const std::string bad =
      cli.write("bad.json", R"({"path":"x","vpdq":[{"frame":0,"quality":100,"pdq":"zz"}]})"
                            "\n");
  EXPECT_EQ(cli.run("match " + db + " --pdq-file " + bad, "bad.txt"), 256);
  EXPECT_NE(cli.lines("bad.txt").at(0)["error"].get<std::string>().find("vpdq[0]"),
            std::string::npos);
  // The line is read as a stream (frames taken out of the array as they come) and answers as
  // the parsed value would: a repeated key's last value counts, a nested vpdq is no video, an
  // element of any shape is named by its index.
  const std::string good = R"({"frame":0,"quality":100,"pdq":")" + kH1 + R"(","x":{"y":[1]}})";
  const std::string odd = cli.write(
      "odd.json", R"({"vpdq":[{"pdq":"zz","quality":100}],"vpdq":[)" + good + "]}\n" +
                      R"({"vpdq":[)" + good + R"(],"vpdq":7})" + "\n" + R"({"vpdq":[)" + good +
                      R"(,[1,{"pdq":2}]]})" + "\n" + R"({"a":{"vpdq":[)" + good + "]}}\n");
  EXPECT_EQ(cli.run("match " + db + " --pdq-file " + odd, "odd.txt"), 256);
  const auto lines = cli.lines("odd.txt");
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_FALSE(lines[0].contains("error")) << lines[0];
  EXPECT_EQ(lines[0]["frames"], 1);
  EXPECT_EQ(lines[1]["error"], "JSON line without a \"pdq\" field") << lines[1];
  EXPECT_NE(lines[2]["error"].get<std::string>().find("vpdq[1]: not a frame"), std::string::npos)
      << lines[2];
  EXPECT_EQ(lines[3]["error"], "JSON line without a \"pdq\" field") << lines[3];
}

}  // namespace
}  // namespace hashmatch::video
