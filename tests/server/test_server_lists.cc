// The server's lists: a listed video removed through the API (DELETE /v1/lists/{name}/entries/{id},
// ListAdmin::delete_entry) is gone from the video index that /v1/match uses before the response,
// also one added from a vPDQ file, which has no entries.
#include <gtest/gtest.h>

#include <chrono>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "host/server/api_error.h"
#include "host/server/list_admin.h"
#include "host/server/lists_state.h"
#include "host/server/match_pipeline.h"
#include "monitoring/metrics.h"
#include "tests/testutil/testutil.h"
#include "video/vpdq_store.h"

namespace hashmatch::server {
namespace {

std::vector<video::VpdqFrame> random_video(std::mt19937_64& rng, int frames) {
  std::vector<video::VpdqFrame> v;
  for (int i = 0; i < frames; ++i) {
    Hash256 h;
    for (auto& w : h.w) w = rng();
    v.push_back({i, 100, h, double(i)});
  }
  return v;
}

std::vector<std::string> matched_ids(const ListsState& lists,
                                     const std::vector<video::VpdqFrame>& query) {
  std::vector<std::string> ids;
  for (const auto& m : lists.videos()->match(query)) ids.push_back(m.id);
  return ids;
}

TEST(ServerLists, DeletingAListedVideoByIdTakesItOutOfTheIndex) {
  test::TempDir d;
  const std::string db = (d / "lists.db").string();
  std::mt19937_64 rng(3);
  const auto from_file = random_video(rng, 8);
  const auto from_vpdq = random_video(rng, 8);
  {
    ListStore store(db);
    video::VpdqStore vs(store);
    const ExactDigests digests{std::string(32, 'a'), std::string(40, 'b'), std::string(64, 'c')};
    vs.add_video("vids", "va", from_file, {}, &digests);  // a video file: digests too
    vs.add_video("vids", "vb", from_vpdq);                // a vPDQ file: the frames alone
  }
  monitoring::Metrics metrics;
  ListsState lists(db, {}, metrics);
  lists.start_loading();
  lists.wait_loaded();
  ASSERT_TRUE(lists.loaded()) << lists.load_error();
  ListAdmin admin(db, (d / "audit.jsonl").string(), lists, metrics);
  const Actor actor{"admin", "127.0.0.1", "r1"};
  ASSERT_EQ(lists.videos()->videos(), 2u);
  ASSERT_EQ(matched_ids(lists, from_file), std::vector<std::string>{"va"});
  ASSERT_EQ(matched_ids(lists, from_vpdq), std::vector<std::string>{"vb"});

  const auto a = admin.delete_entry("vids", "va", actor);
  EXPECT_EQ(a["removed"], 4) << a;  // md5, sha1, sha256 and the video
  EXPECT_EQ(lists.videos()->videos(), 1u);
  EXPECT_TRUE(matched_ids(lists, from_file).empty()) << "the deleted video still matches";

  const auto b = admin.delete_entry("vids", "vb", actor);  // was a 404: it has no entries
  EXPECT_EQ(b["removed"], 1) << b;
  EXPECT_EQ(lists.videos()->videos(), 0u);
  EXPECT_TRUE(matched_ids(lists, from_vpdq).empty()) << "the deleted video still matches";
  try {
    admin.delete_entry("vids", "vb", actor);
    ADD_FAILURE() << "deleting it again was not a 404";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status(), 404);
  }
}

// A query waiting for its batch when its list is dropped (and the lists reloaded) is answered from
// the snapshot its request started with (it failed with "no list named ..." before).
TEST(ServerLists, AQueryInFlightIsSearchedInTheSnapshotItStartedWith) {
  test::TempDir d;
  const std::string db = (d / "lists.db").string();
  std::mt19937_64 rng(5);
  Hash256 h;
  for (auto& w : h.w) w = rng();
  {
    ListStore store(db);
    store.create_list("X");
    store.create_list("Y");
    store.add_entries("X", {NewEntry{HashValue::from_hash256(h), "e1", {}}});
  }
  monitoring::Metrics metrics;
  ListsState lists(db, {}, metrics);
  lists.start_loading();
  lists.wait_loaded();
  ASSERT_TRUE(lists.loaded()) << lists.load_error();
  ServerConfig cfg;
  cfg.match_backend = "cpu";
  cfg.match_max_queue_delay = Seconds(1.0);  // the query waits while the list goes
  MatchPipeline matcher(cfg, metrics, lists);
  const auto snap = lists.snapshot();
  auto opts = std::make_shared<QueryOptions>();
  opts->lists = {"X"};
  std::vector<PdqMatchResult> results;
  Status st;
  std::thread request([&] { st = matcher.match({PdqQuery::original(h)}, opts, snap, &results); });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  {
    ListStore store(db);
    store.drop_list("X");
  }
  std::string err;
  EXPECT_TRUE(lists.reload(&err)) << err;
  EXPECT_FALSE(lists.snapshot()->has_list("X"));
  request.join();
  ASSERT_TRUE(st.ok()) << st.message;
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].error, "");
  ASSERT_EQ(results[0].matches.size(), 1u);
  EXPECT_EQ(results[0].matches[0].id, "e1");
  matcher.shutdown();
}

// Queries the matcher cannot search (here: a list their snapshot does not have) are answered with
// an error each, and counted as a failure of the match queue, as a failed batch is.
TEST(ServerLists, QueriesThatFailInABatchAreCountedAsMatchFailures) {
  test::TempDir d;
  const std::string db = (d / "lists.db").string();
  {
    ListStore store(db);
    store.create_list("X");
  }
  monitoring::Metrics metrics;
  ListsState lists(db, {}, metrics);
  lists.start_loading();
  lists.wait_loaded();
  ASSERT_TRUE(lists.loaded()) << lists.load_error();
  ServerConfig cfg;
  cfg.match_backend = "cpu";
  MatchPipeline matcher(cfg, metrics, lists);
  auto opts = std::make_shared<QueryOptions>();
  opts->lists = {"not-there"};
  std::vector<PdqMatchResult> results;
  const Status st =
      matcher.match({PdqQuery::original(Hash256{})}, opts, lists.snapshot(), &results);
  ASSERT_TRUE(st.ok()) << st.message;
  ASSERT_EQ(results.size(), 1u);
  EXPECT_NE(results[0].error, "");
  matcher.shutdown();
  const std::string text = metrics.render();
  EXPECT_NE(text.find("hashmatch_batch_failures_total{queue=\"match\"} 1"), std::string::npos)
      << text.substr(0, 4000);
}

}  // namespace
}  // namespace hashmatch::server
