// write_json_line: a result line written as text with a video's frames straight from the typed
// frames must be the very text that dumping the whole JSON value gives (the printing commands and
// `hashmatch scan` write lines this way; scripts and resumed scans read them).
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "host/media/hash_media.h"

namespace hashmatch {
namespace {

std::string dump(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}
std::string dump(const nlohmann::ordered_json& j) {
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

Hash256 random_hash(std::mt19937_64& rng) {
  Hash256 h;
  for (auto& w : h.w) w = rng();
  return h;
}

// A video's result as video/ fills it: digests, size, the `video` object, frames whose timestamps
// need the reference's three-decimal rounding (1/29.97 s steps, values just off a rounding edge,
// large ones).
MediaHashResult video_result(std::size_t frames, bool with_size, uint64_t seed) {
  std::mt19937_64 rng(seed);
  MediaHashResult r;
  r.path = "dir/clip one.mp4";
  r.size = 123456789;
  r.have_digests = true;
  r.digests = {std::string(32, 'a'), std::string(40, 'b'), std::string(64, 'c')};
  r.format = MediaFormat::kMp4;
  if (with_size) {
    r.width = 1920;
    r.height = 1080;
  }
  r.extra["video"] = {{"codec", "h264"}, {"fps", 29.97}, {"frames_hashed", frames}};
  std::vector<VideoFrameHash> v;
  const double odd[] = {0.0, 0.0005, 0.0004999, 1.0, 2.5e-7, 86399.9995, 1e9 + 0.123, 33.3665};
  for (std::size_t i = 0; i < frames; ++i) {
    VideoFrameHash f;
    f.frame_number = static_cast<int64_t>(i * 30);
    f.quality = static_cast<int>(rng() % 101);
    f.hash = random_hash(rng);
    f.timestamp = i < std::size(odd) ? odd[i] : double(i * 30) / 29.97;
    v.push_back(f);
  }
  r.vpdq = std::move(v);
  return r;
}

std::string written(const nlohmann::json& j, const MediaHashResult& r) {
  std::string s;
  write_json_line(j, r.vpdq ? &*r.vpdq : nullptr, &s);
  return s;
}
std::string written(const nlohmann::ordered_json& j, const MediaHashResult& r) {
  std::string s;
  write_json_line(j, r.vpdq ? &*r.vpdq : nullptr, &s);
  return s;
}

TEST(HashMediaJson, VideoLineIsTheDumpOfTheWholeValue) {
  for (const bool with_size : {true, false}) {
    for (const std::size_t n : {0, 1, 2, 9, 200}) {
      const MediaHashResult r = video_result(n, with_size, n + 7);
      const std::string want = dump(to_json(r, false));
      EXPECT_EQ(written(to_json(r, false, false), r), want) << n << " frames, size " << with_size;
      // Each frame's four fields, the timestamps rounded as the reference prints them.
      const auto parsed = nlohmann::json::parse(written(to_json(r, false, false), r));
      ASSERT_EQ(parsed["vpdq"].size(), n);
      for (std::size_t i = 0; i < n; ++i) {
        const VideoFrameHash& f = (*r.vpdq)[i];
        EXPECT_EQ(parsed["vpdq"][i]["frame"], f.frame_number);
        EXPECT_EQ(parsed["vpdq"][i]["quality"], f.quality);
        EXPECT_EQ(parsed["vpdq"][i]["pdq"], f.hash.to_hex());
        char ts[64];
        std::snprintf(ts, sizeof ts, "%.3f", f.timestamp);
        char back[64];
        std::snprintf(back, sizeof back, "%.3f", parsed["vpdq"][i]["timestamp"].get<double>());
        EXPECT_STREQ(back, ts) << i;
      }
    }
  }
}

TEST(HashMediaJson, FailedVideoAndOtherMediaAsTheDump) {
  // A video that failed part way keeps its frames; an error sorts first.
  MediaHashResult cut = video_result(3, false, 1);
  cut.error = "truncated: the file ends in the middle of a packet";
  cut.error_reason = "truncated";
  EXPECT_EQ(written(to_json(cut, false, false), cut), dump(to_json(cut, false)));

  // Invalid UTF-8 in a path is replaced the same way.
  MediaHashResult bad = video_result(2, true, 2);
  bad.path = std::string("a\xff\xfe b.mkv");
  EXPECT_EQ(written(to_json(bad, false, false), bad), dump(to_json(bad, false)));

  // No frames: the plain dump (an image with its dihedral hashes; a file that is not media).
  MediaHashResult img;
  img.path = "x.png";
  img.size = 10;
  img.format = MediaFormat::kPng;
  img.width = img.height = 64;
  pdq::PdqDihedral d;
  std::mt19937_64 rng(3);
  for (auto& h : d.hashes) h = random_hash(rng);
  d.quality = 90;
  img.pdq = d;
  EXPECT_EQ(written(to_json(img, true, false), img), dump(to_json(img, true)));
  MediaHashResult text;
  text.path = "notes.txt";
  text.error = "not media";
  text.error_reason = "unsupported";
  EXPECT_EQ(written(to_json(text, false, false), text), dump(to_json(text, false)));
}

// `hashmatch scan`: matches merged into the (sorted) object.
TEST(HashMediaJson, SortedLineWithTheCallersMembers) {
  for (const bool with_size : {true, false}) {
    const MediaHashResult r = video_result(5, with_size, 11);
    nlohmann::json j = to_json(r, false, false), whole = to_json(r, false);
    for (nlohmann::json* o : {&j, &whole}) {
      (*o)["matches"] =
          nlohmann::json::array({{{"list", "l"}, {"id", "1"}, {"frames_matched", 2}}});
      (*o)["match_error"] = "x";
      (*o)["zeta"] = 1;  // a member after "vpdq"
    }
    EXPECT_EQ(written(j, r), dump(whole)) << with_size;
  }
}

// `hashmatch match`: an ordered object (to_json's sorted members, then matches, video_matches,
// match_error in that order): the frames go where they were among the sorted members.
TEST(HashMediaJson, OrderedLineKeepsTheAppendedMembersLast) {
  for (const bool with_size : {true, false}) {
    for (const bool failed : {false, true}) {
      MediaHashResult r = video_result(4, with_size, 21);
      if (failed) {
        r.error = "damaged";
        r.error_reason = "corrupt";
      }
      nlohmann::ordered_json j = to_json(r, false, false);
      nlohmann::ordered_json whole = to_json(r, false);
      for (nlohmann::ordered_json* o : {&j, &whole}) {
        (*o)["matches"] = nlohmann::ordered_json::array({{{"list", "l"}, {"id", "1"}}});
        (*o)["video_matches"] = nlohmann::ordered_json::array();
        (*o)["match_error"] = "lists unreadable";
      }
      const std::string s = written(j, r);
      EXPECT_EQ(s, dump(whole)) << with_size << failed;
      const auto parsed = nlohmann::ordered_json::parse(s);
      std::vector<std::string> keys;
      for (auto it = parsed.begin(); it != parsed.end(); ++it) keys.push_back(it.key());
      ASSERT_GE(keys.size(), 3u);
      EXPECT_EQ(keys[keys.size() - 3], "matches");
      EXPECT_EQ(keys.back(), "match_error");
    }
  }
}

}  // namespace
}  // namespace hashmatch
