// The server's lists: a listed video removed through the API (DELETE /v1/lists/{name}/entries/{id},
// ListAdmin::delete_entry) is gone from the video index that /v1/match uses before the response,
// also one added from a vPDQ file, which has no entries.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "host/server/api_error.h"
#include "host/server/list_admin.h"
#include "host/server/lists_state.h"
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

}  // namespace
}  // namespace hashmatch::server
