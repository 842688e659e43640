// The server's media pipeline: videos are decoded on a pool of their own (video.sessions,
// video.queue), so that an image never waits behind a long video, and a full video queue refuses
// videos (429) while images still go through.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <random>
#include <sstream>
#include <thread>
#include <vector>

#include "host/server/config.h"
#include "host/server/media_pipeline.h"
#include "monitoring/metrics.h"
#include "tests/testutil/testutil.h"
#include "video/synth_clip.h"
#include "video/vpdq.h"

namespace hashmatch::server {
namespace {

using namespace std::chrono_literals;

std::vector<uint8_t> clip(const test::TempDir& d, const char* name, int frames) {
  video::SynthClipSpec s;
  s.width = 640;
  s.height = 480;
  s.frames = frames;
  s.gop = 60;
  video::write_synth_clip(d / name, s);
  return test::read_file(d / name);
}

std::vector<uint8_t> image() {
  return test::read_file(test::testdata_dir() / "pdq" / "misc-images" / "small.jpg");
}

// One image decoder and one video session; every frame of the videos hashed on the CPU, so a
// 600-frame video holds its session for seconds.
ServerConfig one_of_each() {
  ServerConfig cfg;
  cfg.backend = "cpu";
  cfg.decode_threads = 1;
  cfg.video_sessions = 1;
  cfg.video_queue = 1;
  cfg.video_decoder = "cpu";
  cfg.video_threads = 1;
  cfg.video_seconds_per_hash = 0;
  return cfg;
}

// Hashes a video on a thread of its own (one that holds the only video session for a while).
// Frames hashed so far (hashmatch_frames_hashed_total, every backend).
double frames_hashed(const monitoring::Metrics& m) {
  std::istringstream text(m.render());
  double sum = 0;
  for (std::string line; std::getline(text, line);) {
    if (line.rfind("hashmatch_frames_hashed_total", 0) == 0) {
      sum += std::stod(line.substr(line.rfind(' ') + 1));
    }
  }
  return sum;
}

struct InBackground {
  InBackground(MediaPipeline& p, const std::vector<uint8_t>& video)
      : t([this, &p, &video] {
          p.hash(video, &out);
          done = true;
        }) {}
  ~InBackground() { join(); }
  void join() {
    if (t.joinable()) t.join();
  }
  MediaOutcome out;
  std::atomic<bool> done{false};
  std::thread t;  // last: starts once out and done are there
};

TEST(MediaPipeline, AnImageDoesNotWaitBehindAVideo) {
  test::TempDir d;
  const std::vector<uint8_t> video = clip(d, "long.mp4", 600);
  const std::vector<uint8_t> img = image();
  monitoring::Metrics metrics;
  MediaPipeline p(one_of_each(), metrics);

  InBackground bg(p, video);
  const MediaOutcome& v = bg.out;
  std::this_thread::sleep_for(300ms);  // the video is being decoded
  ASSERT_FALSE(bg.done) << "the video ended before the image was sent: the test needs a longer one";
  MediaOutcome i;
  p.hash(img, &i);
  EXPECT_FALSE(bg.done) << "the image was decoded only after the video";
  EXPECT_TRUE(i.status.ok()) << i.status.message;
  EXPECT_TRUE(i.result.ok()) << i.result.error;
  EXPECT_FALSE(i.video);
  bg.join();
  EXPECT_TRUE(v.status.ok()) << v.status.message;
  EXPECT_TRUE(v.result.ok()) << v.result.error;
  EXPECT_TRUE(v.video);
  EXPECT_EQ(v.video_frames().size(), 600u);
}

TEST(MediaPipeline, AFullVideoQueueRefusesVideosNotImages) {
  test::TempDir d;
  const std::vector<uint8_t> long_video = clip(d, "long.mp4", 600);
  const std::vector<uint8_t> short_video = clip(d, "short.mp4", 30);
  const std::vector<uint8_t> img = image();
  monitoring::Metrics metrics;
  MediaPipeline p(one_of_each(), metrics);

  InBackground bg(p, long_video);
  const MediaOutcome& first = bg.out;
  std::this_thread::sleep_for(300ms);  // the only session is busy
  MediaOutcome queued;
  std::thread t2([&] { p.hash(short_video, &queued); });
  std::this_thread::sleep_for(200ms);  // the one place in the video queue is taken
  ASSERT_FALSE(bg.done) << "the first video ended too early: the test needs a longer one";
  MediaOutcome refused;
  p.hash(short_video, &refused);
  EXPECT_EQ(refused.status.code, Status::kQueueFull);
  EXPECT_EQ(refused.status.message, "video: queue full");
  MediaOutcome i;
  p.hash(img, &i);
  EXPECT_TRUE(i.status.ok()) << i.status.message;
  EXPECT_TRUE(i.result.ok()) << i.result.error;
  bg.join();
  t2.join();
  EXPECT_TRUE(first.status.ok()) << first.status.message;
  EXPECT_TRUE(queued.status.ok()) << queued.status.message;
  EXPECT_EQ(queued.video_frames().size(), 30u);
}

// video.time_budget counts from the request's arrival: a video that waited in the video queue
// past it is a timeout (504) at once, not decoded for another whole budget; one that waited less
// gets what is left. The budget is lowered (reconfigure) while the first video, which took the
// old one, holds the only session.
// Refusals counted by hashmatch_queue_rejections_total for one queue.
double rejections(const monitoring::Metrics& m, const std::string& queue) {
  std::istringstream text(m.render());
  const std::string head = "hashmatch_queue_rejections_total{queue=\"" + queue + "\"}";
  for (std::string line; std::getline(text, line);) {
    if (line.rfind(head, 0) == 0) return std::stod(line.substr(line.rfind(' ') + 1));
  }
  return 0;
}

// `videos` video sessions (every frame hashed) in front of a PDQ queue of 2 frames and one batch in
// flight: each video keeps more chunks outstanding than the queue takes, so their chunks wait.
ServerConfig crowded_pdq_queue(int videos) {
  ServerConfig cfg = one_of_each();
  cfg.video_sessions = videos;
  cfg.video_queue = videos;
  cfg.max_queue_frames = 2;
  cfg.max_batch_frames = 1;
  cfg.batches_in_flight = 1;
  return cfg;
}

// Two videos hashed frame by frame into a PDQ queue of 2 frames: their chunks wait for room
// (retried every millisecond), which is no refused request: the rejection metric (its help: the
// 429s) stays 0 while both videos are hashed whole. It counted every retry (thousands).
// Every video request holds an HTTP worker while it is hashed or waits for a session, so videos
// are kept to half of http.threads whatever video.queue says: with 4 workers, a third video is
// refused (429) while two hold workers, and images still go through.
TEST(MediaPipeline, VideosHoldAtMostHalfOfTheHttpWorkers) {
  test::TempDir d;
  const std::vector<uint8_t> long_video = clip(d, "long.mp4", 600);
  const std::vector<uint8_t> short_video = clip(d, "short.mp4", 30);
  const std::vector<uint8_t> img = image();
  ServerConfig cfg = one_of_each();
  cfg.http_threads = 4;
  cfg.video_queue = 16;  // room in the queue: the workers are the bound
  monitoring::Metrics metrics;
  MediaPipeline p(cfg, metrics);

  InBackground bg(p, long_video);
  std::this_thread::sleep_for(300ms);  // the only session is busy
  MediaOutcome queued;
  std::thread t2([&] { p.hash(short_video, &queued); });
  std::this_thread::sleep_for(200ms);  // a second worker waits for the session
  ASSERT_FALSE(bg.done) << "the first video ended too early: the test needs a longer one";
  MediaOutcome refused;
  p.hash(short_video, &refused);
  EXPECT_EQ(refused.status.code, Status::kQueueFull);
  EXPECT_EQ(refused.status.message, "video: queue full (videos hold half of http.threads)");
  EXPECT_EQ(rejections(metrics, "video"), 1);
  MediaOutcome i;
  p.hash(img, &i);
  EXPECT_TRUE(i.status.ok()) << i.status.message;
  EXPECT_TRUE(i.result.ok()) << i.result.error;
  bg.join();
  t2.join();
  EXPECT_TRUE(bg.out.status.ok()) << bg.out.status.message;
  EXPECT_TRUE(queued.status.ok()) << queued.status.message;
  // The places are given back: a video is taken again once the others are done.
  MediaOutcome later;
  p.hash(short_video, &later);
  EXPECT_TRUE(later.status.ok()) << later.status.message;
  EXPECT_EQ(later.video_frames().size(), 30u);
}

TEST(MediaPipeline, VideoFramesWaitingForTheQueueAreNoRejections) {
  test::TempDir d;
  const std::vector<uint8_t> video = clip(d, "v.mp4", 240);
  monitoring::Metrics metrics;
  MediaPipeline p(crowded_pdq_queue(2), metrics);
  InBackground a(p, video), b(p, video);
  a.join();
  b.join();
  for (const MediaOutcome* o : {&a.out, &b.out}) {
    ASSERT_TRUE(o->status.ok()) << o->status.message;
    ASSERT_TRUE(o->result.ok()) << o->result.error;
    EXPECT_EQ(o->video_frames().size(), 240u);
  }
  EXPECT_EQ(rejections(metrics, "pdq-cpu"), 0.0) << metrics.render().substr(0, 3000);
}

// A budget that runs out while a video's frames wait for room in the PDQ queue is the video's
// timeout (a 504 with its digests and matches), as when decoding takes too long: it was the
// queue's refusal (a 429 that dropped the digests' exact matches and the work done).
TEST(MediaPipeline, ABudgetSpentWaitingForThePdqQueueIsATimeout) {
  test::TempDir d;
  const std::vector<uint8_t> video = clip(d, "v.mp4", 1200);
  monitoring::Metrics metrics;
  ServerConfig cfg = crowded_pdq_queue(3);
  cfg.video_time_budget = Seconds(0.3);
  MediaPipeline p(cfg, metrics);
  InBackground a(p, video), b(p, video), c(p, video);
  a.join();
  b.join();
  c.join();
  for (const MediaOutcome* o : {&a.out, &b.out, &c.out}) {
    EXPECT_TRUE(o->status.ok()) << o->status.message;
    EXPECT_EQ(o->result.error_reason, "timeout") << o->result.error;
    EXPECT_TRUE(o->result.have_digests);
  }
}

TEST(MediaPipeline, TheWaitForAVideoSessionCountsAgainstTheBudget) {
  test::TempDir d;
  const std::vector<uint8_t> long_video = clip(d, "long.mp4", 1200);
  const std::vector<uint8_t> short_video = clip(d, "short.mp4", 30);
  monitoring::Metrics metrics;
  ServerConfig cfg = one_of_each();
  MediaPipeline p(cfg, metrics);

  InBackground bg(p, long_video);
  const MediaOutcome& first = bg.out;
  // The only session is busy, the first video's frames on their way: it took the old budget (a
  // fixed 100 ms here left a loaded machine, ctest -j2, reconfiguring before it started: it then
  // timed out under the new budget).
  for (int i = 0; i < 1000 && frames_hashed(metrics) == 0 && !bg.done; ++i) {
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_FALSE(bg.done) << "the first video ended too early: the test needs a longer one";
  ASSERT_GT(frames_hashed(metrics), 0) << "the first video did not start within 10 s";
  const double budget = 0.1;
  cfg.video_time_budget = Seconds(budget);
  p.reconfigure(cfg);
  const auto sent = std::chrono::steady_clock::now();
  MediaOutcome waited;
  std::thread t2([&] { p.hash(short_video, &waited); });
  bg.join();
  const double held =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - sent).count();
  t2.join();
  ASSERT_GT(held, budget + 0.1) << "the first video ended too early: the test needs a longer one";
  EXPECT_TRUE(first.status.ok()) << first.status.message;
  EXPECT_TRUE(first.result.ok()) << first.result.error;  // its budget was the one it started with
  EXPECT_EQ(first.video_frames().size(), 1200u);
  EXPECT_TRUE(waited.status.ok()) << waited.status.message;
  EXPECT_EQ(waited.result.error_reason, "timeout") << waited.result.error;
  EXPECT_NE(waited.result.error.find("waited"), std::string::npos) << waited.result.error;
  EXPECT_TRUE(waited.video_frames().empty());
  EXPECT_TRUE(waited.result.have_digests);  // the digests are known all the same

  // Alone, with a budget it fits in: hashed.
  cfg.video_time_budget = Seconds(60);
  p.reconfigure(cfg);
  MediaOutcome alone;
  p.hash(short_video, &alone);
  EXPECT_TRUE(alone.result.ok()) << alone.result.error;
  EXPECT_EQ(alone.video_frames().size(), 30u);
}

}  // namespace
}  // namespace hashmatch::server

namespace hashmatch::server {
namespace {

// A damaged video decoded with frame threads is decoded again on one thread (video/vpdq.cc); in
// the server its frames of the first pass are in the PDQ queue's sink already: they are dropped
// and the second pass's sent again, so the answer is the same every time and the same as one
// thread's on the CPU path.
TEST(MediaPipeline, ADamagedVideoGivesTheSameFramesEveryTime) {
  test::TempDir d;
  std::vector<uint8_t> video = clip(d, "damaged.mp4", 120);
  std::mt19937 rng(5);
  for (int k = 0; k < 12; ++k) {
    const std::size_t at = video.size() / 2 + std::size_t(k) * (video.size() / 30);
    for (std::size_t i = at; i < at + 200 && i < video.size(); ++i) video[i] ^= uint8_t(rng() | 1);
  }
  VideoOptions o;
  o.decoder = "cpu";
  o.threads = 1;
  o.seconds_per_hash = 0;
  const video::VpdqResult one = video::hash_video(video::VideoInput::memory(video), o);
  ASSERT_FALSE(one.ok()) << "the damage went unseen";
  ASSERT_GT(one.frames.size(), 60u) << one.error;
  ServerConfig cfg = one_of_each();
  cfg.video_threads = 4;
  monitoring::Metrics metrics;
  MediaPipeline p(cfg, metrics);
  for (int run = 0; run < 3; ++run) {
    MediaOutcome out;
    p.hash(video, &out);
    ASSERT_TRUE(out.status.ok()) << out.status.message;
    EXPECT_EQ(out.result.error_reason, one.error_reason) << out.result.error;
    ASSERT_EQ(out.video_frames().size(), one.frames.size()) << "run " << run;
    int differ = 0;
    for (std::size_t i = 0; i < one.frames.size(); ++i) {
      differ += out.video_frames()[i].frame_number != one.frames[i].frame_number ||
                out.video_frames()[i].hash != one.frames[i].hash ||
                out.video_frames()[i].quality != one.frames[i].quality;
    }
    EXPECT_EQ(differ, 0) << "run " << run << ": frames unlike one thread's";
  }
}

// A frame queue smaller than a batch: a video's chunks fit the queue (a chunk larger than the
// whole queue was refused as too large, every video a 413), and with no time budget a full queue
// is waited for (it was a 429 at once: the deadline for retries was 'now').
TEST(MediaPipeline, VideosFitASmallQueueAndWaitForItWithoutABudget) {
  test::TempDir d;
  const std::vector<uint8_t> video = clip(d, "v.mp4", 90);
  for (const int budget : {120, 0}) {
    ServerConfig cfg = one_of_each();
    cfg.video_sessions = 4;
    cfg.video_queue = 4;
    cfg.max_queue_frames = 8;  // below max_batch_frames
    cfg.batches_in_flight = 1;
    cfg.video_time_budget = std::chrono::seconds(budget);
    ASSERT_LT(cfg.max_queue_frames, cfg.max_batch_frames);
    monitoring::Metrics metrics;
    MediaPipeline p(cfg, metrics);
    std::vector<MediaOutcome> outs(4);
    std::vector<std::thread> ts;
    for (auto& o : outs) ts.emplace_back([&p, &video, &o] { p.hash(video, &o); });
    for (auto& t : ts) t.join();
    for (const MediaOutcome& o : outs) {
      EXPECT_TRUE(o.status.ok()) << "budget " << budget << ": " << o.status.message;
      EXPECT_TRUE(o.result.ok()) << o.result.error;
      EXPECT_EQ(o.video_frames().size(), 90u) << "budget " << budget;
    }
  }
}

// The decode and video pools in the metrics: when every request has been answered the queues
// show a depth of 0 (the depth used to be set only at submission, so an idle server reported the
// last one), and every request's wait for a thread is observed under its pool's name.
TEST(MediaPipeline, PoolQueuesInTheMetricsFollowTheWork) {
  test::TempDir d;
  const std::vector<uint8_t> video = clip(d, "v.mp4", 60);
  const std::vector<uint8_t> img = image();
  ServerConfig cfg = one_of_each();
  cfg.video_queue = 4;
  monitoring::Metrics metrics;
  MediaPipeline p(cfg, metrics);
  std::vector<MediaOutcome> outs(3);
  std::vector<std::thread> ts;
  for (auto& o : outs) ts.emplace_back([&p, &video, &o] { p.hash(video, &o); });
  MediaOutcome i;
  p.hash(img, &i);
  for (auto& t : ts) t.join();
  for (const MediaOutcome& o : outs) {
    ASSERT_TRUE(o.status.ok()) << o.status.message;
    ASSERT_TRUE(o.result.ok()) << o.result.error;
  }
  ASSERT_TRUE(i.status.ok() && i.result.ok()) << i.status.message << i.result.error;
  const std::string text = metrics.render();
  for (const char* line :
       {"hashmatch_queue_depth{queue=\"video\"} 0\n", "hashmatch_queue_depth{queue=\"decode\"} 0\n",
        "hashmatch_queue_wait_seconds_count{queue=\"video\"} 3\n",
        "hashmatch_queue_wait_seconds_count{queue=\"decode\"} 1\n"}) {
    EXPECT_NE(text.find(line), std::string::npos) << "missing: " << line << text;
  }
}

}  // namespace
}  // namespace hashmatch::server
