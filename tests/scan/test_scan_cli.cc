// `hashmatch scan` end to end: the process killed with SIGKILL at random points and started again
// until it completes gives exactly the output of an uninterrupted scan (no lost, no duplicated
// lines); SIGINT stops cleanly (exit 130) and resumes; shards from the command line partition the
// backlog; the summary is written where documented.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <thread>

#include "host/common/digest.h"
#include "host/scan/output.h"
#if HM_SCAN_TEST_VIDEO
#include "video/synth_clip.h"
#endif
#include "tests/scan/scan_fixture.h"

namespace hashmatch {
namespace {

namespace fs = std::filesystem;

// Starts `hashmatch args...` with stdout and stderr appended to `log`; returns the pid.
pid_t spawn(const std::vector<std::string>& args, const std::string& log) {
  return test::spawn(HASHMATCH_BINARY, args, log, log);
}

int run(const std::vector<std::string>& args, const std::string& log) {
  return test::wait_exit(spawn(args, log));
}

std::string slurp(const std::string& p) { return scan::OutputFile::read_from(p, 0); }

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t nl = text.find('\n', pos);
    out.push_back(text.substr(pos, nl - pos));
    pos = nl + 1;
  }
  return out;
}

class ScanCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::TempDir();
    // Images large enough that a 1-worker scan takes a good fraction of a second.
    fs::create_directories(dir_->path() / "tree");
    for (int i = 0; i < 90; ++i) {
      const Image img = test::procedural_image(200 + i % 50, 180 + i % 40, 500 + i);
      fs::create_directories(dir_->path() / "tree" / ("d" + std::to_string(i % 5)));
      test::write_file(dir_->path() / "tree" / ("d" + std::to_string(i % 5)) / ("f" + std::to_string(i) + ".png"),
                       test::encode_png(img));
    }
    fs::create_directories(dir_->path() / "tree" / "bad");
    test::write_file(dir_->path() / "tree" / "bad" / "x.jpg", {0xff, 0xd8, 0xff, 1, 2, 3});
    ref_ = (dir_->path() / "ref.jsonl").string();
    ASSERT_EQ(run({"scan", "--jobs", "2", "--progress", "off", "--output", ref_, tree()},
                  (dir_->path() / "ref.log").string()),
              0);
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static std::string tree() { return (dir_->path() / "tree").string(); }
  static test::TempDir* dir_;
  static std::string ref_;
};
test::TempDir* ScanCli::dir_ = nullptr;
std::string ScanCli::ref_;

TEST_F(ScanCli, ReferenceRunHasEveryFileAndASummary) {
  const auto lines = lines_of(slurp(ref_));
  EXPECT_EQ(lines.size(), 91u);
  const nlohmann::json s = nlohmann::json::parse(slurp(ref_ + ".summary.json"))["summary"];
  EXPECT_EQ(s["files"], 91);
  EXPECT_EQ(s["failed"], 1);
  EXPECT_EQ(s["complete"], true);
  EXPECT_GT(s["files_per_s"].get<double>(), 0);
  // The last line on stderr is the JSON summary.
  const auto log = lines_of(slurp((dir_->path() / "ref.log").string()));
  ASSERT_FALSE(log.empty());
  EXPECT_EQ(nlohmann::json::parse(log.back())["summary"]["files"], 91);
}

TEST_F(ScanCli, KilledAtRandomPointsAndResumedGivesTheUninterruptedOutput) {
  const std::string ref = slurp(ref_);
  std::mt19937 rng(std::random_device{}());
  for (int trial = 0; trial < 2; ++trial) {
    const std::string out = (dir_->path() / ("kill" + std::to_string(trial) + ".jsonl")).string();
    const std::string ck = out + ".ckpt";
    const std::string log = out + ".log";
    const std::vector<std::string> args = {"scan",   "--jobs",  "1",  "--progress", "off",
                                           "--checkpoint-interval", "0.03", "--output", out,
                                           "--checkpoint", ck,       tree()};
    int kills = 0, rc = -1;
    for (int round = 0; round < 40; ++round) {
      const pid_t pid = spawn(args, log);
      // Random point: early rounds often die before or right after the checkpoint is created.
      const int ms = static_cast<int>(rng() % 120) + 10 * round;
      std::this_thread::sleep_for(std::chrono::milliseconds(ms));
      ::kill(pid, SIGKILL);
      rc = test::wait_exit(pid);
      if (rc == 0) break;  // it finished before the kill
      ASSERT_EQ(rc, 256 + SIGKILL) << slurp(log);
      ++kills;
    }
    if (rc != 0) rc = run(args, log);
    ASSERT_EQ(rc, 0) << slurp(log);
    EXPECT_GT(kills, 0);
    const std::string got = slurp(out);
    const auto got_lines = lines_of(got), ref_lines = lines_of(ref);
    EXPECT_EQ(std::multiset<std::string>(got_lines.begin(), got_lines.end()),
              std::multiset<std::string>(ref_lines.begin(), ref_lines.end()))
        << "lost or duplicated lines after " << kills << " kills";
    EXPECT_EQ(got, ref) << "after " << kills << " kills";
    const nlohmann::json s = nlohmann::json::parse(slurp(out + ".summary.json"))["summary"];
    EXPECT_EQ(s["files"], 91) << "the cumulative counters survive the kills";
    std::printf("trial %d: %d kills, last session resumed at item %d (%d lines salvaged)\n", trial,
                kills, s.value("resumed_from", 0), s.value("salvaged", 0));
    EXPECT_EQ(s["failed"], 1);
  }
}

TEST_F(ScanCli, SigintStopsCleanlyAndResumes) {
  const std::string out = (dir_->path() / "int.jsonl").string(), ck = out + ".ckpt";
  const std::vector<std::string> args = {"scan", "--jobs", "1", "--progress", "off", "--output",
                                         out, "--checkpoint", ck, tree()};
  const pid_t pid = spawn(args, out + ".log");
  // Once the checkpoint exists the scan is under way (and its handler installed).
  for (int i = 0; i < 500 && !fs::exists(ck); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(60));
  ::kill(pid, SIGINT);
  const int rc = test::wait_exit(pid);
  if (rc == 0) GTEST_SKIP() << "the scan finished before the signal";
  ASSERT_EQ(rc, 130) << slurp(out + ".log");
  const nlohmann::json s = nlohmann::json::parse(slurp(out + ".summary.json"))["summary"];
  EXPECT_EQ(s["interrupted"], true);
  EXPECT_LT(s["done"].get<int>(), 91);
  // Everything written was committed: the output holds exactly `done` complete lines.
  EXPECT_EQ(lines_of(slurp(out)).size(), s["done"].get<std::size_t>());
  ASSERT_EQ(run(args, out + ".log"), 0);
  EXPECT_EQ(slurp(out), slurp(ref_));
}

// Exit codes as documented: 2 a usage error (the command line alone is wrong), 1 a fatal one (an
// unusable or foreign checkpoint, an output changed since); checkpoint and output must differ, and
// an emptied output after a complete scan is noticed.
TEST_F(ScanCli, CheckpointAndOutputProblemsHaveTheDocumentedExitCodes) {
  const std::string out = (dir_->path() / "codes.jsonl").string(), ck = out + ".ckpt";
  const std::string log = out + ".log";
  auto scan = [&](std::vector<std::string> extra) {
    std::vector<std::string> a = {"scan", "--jobs",       "2", "--progress", "off", "--output",
                                  out,    "--checkpoint", ck};
    a.insert(a.end(), extra.begin(), extra.end());
    a.push_back(tree());
    return run(a, log);
  };
  EXPECT_EQ(run({"scan", "--progress", "off", "--output", out, "--checkpoint", out, tree()}, log),
            2)
      << slurp(log);
  EXPECT_FALSE(fs::exists(out)) << "the same file as output and checkpoint was used";
  ASSERT_EQ(scan({}), 0) << slurp(log);
  EXPECT_EQ(scan({"--dihedral"}), 1) << "another scan's checkpoint: " << slurp(log);
  std::ofstream(out, std::ios::trunc);  // emptied after the complete scan
  EXPECT_EQ(scan({}), 1) << "an emptied output went unnoticed: " << slurp(log);
  EXPECT_NE(slurp(log).find("has 0 bytes"), std::string::npos) << slurp(log);
  std::ofstream(ck, std::ios::trunc) << "garbage\n";
  EXPECT_EQ(scan({}), 1) << "an unusable checkpoint: " << slurp(log);
  std::ofstream(ck, std::ios::trunc) << "{\"format\"";  // a header cut without its newline
  EXPECT_EQ(scan({}), 1) << slurp(log);
  EXPECT_NE(slurp(log).find("torn"), std::string::npos) << slurp(log);
}

#if HM_SCAN_TEST_VIDEO
// After Ctrl-C (stop after the files in flight), SIGTERM ends the process at once, as a second
// Ctrl-C does (it only repeated the message and waited for the video in flight).
TEST(ScanCliSignals, SigtermAfterSigintAbortsAtOnce) {
  test::TempDir t;
  video::SynthClipSpec spec;
  spec.width = 320;
  spec.height = 240;
  spec.frames = 6000;  // every frame hashed: seconds of work on one worker
  const std::string clip = (t / "long.mp4").string();
  video::write_synth_clip(clip, spec);
  const std::string log = (t / "log").string();
  const pid_t pid = spawn(
      {"scan", "--jobs", "1", "--backend", "cpu", "--video-decoder", "cpu", "--vpdq-every-frame",
       "--progress", "off", "--output", (t / "out.jsonl").string(), clip},
      log);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  int status = 0;
  if (::waitpid(pid, &status, WNOHANG) == pid) GTEST_SKIP() << "the scan ended before the signals";
  ::kill(pid, SIGINT);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  ::kill(pid, SIGTERM);
  const auto t0 = std::chrono::steady_clock::now();
  const int rc = test::wait_exit(pid);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(rc, 256 + SIGTERM) << slurp(log);
  EXPECT_LT(secs, 0.5) << "SIGTERM waited for the video in flight";
}
#endif

// --output to a FIFO (or /dev/stdout, a process substitution) is written as a stream: it was a
// fatal "cannot truncate"; with --checkpoint it is refused as a usage error.
TEST_F(ScanCli, OutputToAFifo) {
  const std::string fifo = (dir_->path() / "out.fifo").string(), log = fifo + ".log";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0644), 0);
  std::string got;
  std::thread reader([&] {
    std::ifstream in(fifo, std::ios::binary);
    got.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  });
  const int rc = run({"scan", "--progress", "off", "--output", fifo, tree()}, log);
  if (rc != 0) {
    const int fd = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK);  // let the reader go
    if (fd >= 0) ::close(fd);
  }
  reader.join();
  ASSERT_EQ(rc, 0) << slurp(log);
  EXPECT_EQ(got, slurp(ref_));
  EXPECT_FALSE(fs::exists(fifo + ".summary.json"));
  EXPECT_EQ(
      run({"scan", "--progress", "off", "--output", fifo, "--checkpoint", fifo + ".ck", tree()},
          log),
      2)
      << slurp(log);
}

TEST_F(ScanCli, CommandLineShardsPartitionTheBacklog) {
  std::multiset<std::string> united;
  for (int i = 0; i < 3; ++i) {
    const std::string out = (dir_->path() / ("shard" + std::to_string(i))).string();
    ASSERT_EQ(run({"scan", "--shard", std::to_string(i) + "/3", "--progress", "off", "--output",
                   out, tree()},
                  out + ".log"),
              0);
    for (const auto& l : lines_of(slurp(out))) united.insert(l);
  }
  const auto ref_lines = lines_of(slurp(ref_));
  EXPECT_EQ(united, std::multiset<std::string>(ref_lines.begin(), ref_lines.end()));
  // 1-based shard numbers are refused with a usage error.
  EXPECT_EQ(run({"scan", "--shard", "3/3", tree()}, (dir_->path() / "bad.log").string()), 2);
}

TEST_F(ScanCli, ManifestAndStdoutOutput) {
  const std::string manifest = (dir_->path() / "manifest.txt").string();
  {
    std::ofstream m(manifest);
    m << tree() << "/d0/f0.png\n" << tree() << "/nope.png\n" << tree() << "/d1/f1.png\n";
  }
  const std::string out = (dir_->path() / "manifest.out").string();
  // stdout output: the log gets both the lines and the summary; pick the result lines.
  ASSERT_EQ(run({"scan", "--progress", "off", "--quiet", "--manifest", manifest}, out), 0);
  std::vector<nlohmann::json> results;
  for (const auto& l : lines_of(slurp(out))) {
    const auto j = nlohmann::json::parse(l);
    if (!j.contains("summary")) results.push_back(j);
  }
  ASSERT_EQ(results.size(), 3u);
  EXPECT_EQ(results[0]["path"], tree() + "/d0/f0.png");
  EXPECT_TRUE(results[0].contains("pdq"));
  EXPECT_EQ(results[1]["error_reason"], "io");
  EXPECT_EQ(results[2]["path"], tree() + "/d1/f1.png");
}

#ifdef HM_SCAN_WITH_LISTS
Image rotate90(const Image& a) {
  Image r;
  r.width = a.height;
  r.height = a.width;
  r.channels = a.channels;
  r.pixels.resize(a.pixels.size());
  for (int y = 0; y < a.height; ++y) {
    for (int x = 0; x < a.width; ++x) {
      // (x, y) -> (height - 1 - y, x)
      for (int c = 0; c < a.channels; ++c) {
        r.pixels[(std::size_t(x) * r.width + (a.height - 1 - y)) * a.channels + c] =
            a.pixels[(std::size_t(y) * a.width + x) * a.channels + c];
      }
    }
  }
  return r;
}

// A list built from known hashes (plus random decoys) through `hashmatch list import`; the scan
// finds exactly the planted files: originals, a re-encoded copy, a rotated copy (with --dihedral)
// and a file listed by MD5, with the list's ids and labels.
TEST(ScanCliLists, PlantedMatchesThroughTheDatabase) {
  test::TempDir t;
  const fs::path tree = t / "tree";
  fs::create_directories(tree / "copies");
  pdq::PdqHasher hasher;
  std::ofstream csv(t / "list.csv");
  csv << "id,algo,hash,category,source,tags\n";
  std::mt19937_64 rng(42);
  for (int i = 0; i < 2000; ++i) {  // decoys
    Hash256 h;
    for (auto& w : h.w) w = rng();
    csv << "decoy" << i << ",pdq," << h.to_hex() << ",,decoys,\n";
  }
  std::map<std::string, std::string> want;  // file -> id
  for (int i = 0; i < 12; ++i) {
    const Image img = test::procedural_image(160, 120, 900 + i);
    const std::string p = (tree / ("img" + std::to_string(10 + i) + ".png")).string();
    test::write_file(p, test::encode_png(img));
    if (i < 3) {
      const std::string id = "known" + std::to_string(i);
      csv << id << ",pdq," << hasher.hash(img).hash.to_hex() << ",A1,test,planted\n";
      want[p] = id;
      const std::string jpg = (tree / "copies" / ("c" + std::to_string(i) + ".jpg")).string();
      test::write_file(jpg, test::encode_jpeg(img, 80));
      want[jpg] = id;
      const std::string rot = (tree / "copies" / ("r" + std::to_string(i) + ".png")).string();
      test::write_file(rot, test::encode_png(rotate90(img)));
      want[rot] = id;
    }
  }
  test::write_file(tree / "doc.bin", {'s', 'e', 'c', 'r', 'e', 't'});
  csv << "exact1,md5," << digest_bytes("secret").md5 << ",B,test,\n";
  csv.close();
  want[(tree / "doc.bin").string()] = "exact1";
  const std::string db = (t / "lists.db").string(), log = (t / "log").string();
  ASSERT_EQ(run({"list", "import", "--db", db, "--list", "planted", (t / "list.csv").string()}, log), 0)
      << slurp(log);
  const std::string out = (t / "out.jsonl").string();
  ASSERT_EQ(run({"scan", "--db", db, "--list", "planted", "--dihedral", "--backend", "cpu",
                 "--progress", "off", "--output", out, tree.string()},
                log),
            0)
      << slurp(log);
  std::map<std::string, std::string> got;
  std::size_t lines = 0;
  for (const auto& l : lines_of(slurp(out))) {
    const auto j = nlohmann::json::parse(l);
    ++lines;
    for (const auto& m : j["matches"]) {
      EXPECT_FALSE(got.count(j["path"])) << "one match per planted file expected: " << l;
      got[j["path"]] = m["id"];
      EXPECT_EQ(m["list"], "planted");
      ASSERT_TRUE(m.contains("labels"));
      if (m["algo"] == "pdq") {
        EXPECT_EQ(m["labels"]["category"], "A1");
        EXPECT_LE(m["distance"].get<int>(), 31);
        if (j["path"].get<std::string>().find("/r") != std::string::npos) {
          EXPECT_NE(m["variant"], "original") << l;
        }
      }
    }
  }
  EXPECT_EQ(lines, 12u + 6u + 1u);
  EXPECT_EQ(got, want);
  const nlohmann::json s = nlohmann::json::parse(slurp(out + ".summary.json"))["summary"];
  EXPECT_EQ(s["matched"], want.size());
  EXPECT_EQ(s["matched_by_list"]["planted"], want.size());
  EXPECT_EQ(s["matcher"]["entries"], 2000 + 3 + 1);
}
#endif

#if HM_SCAN_TEST_VIDEO
// Videos found by content in a scanned tree: hashed with vPDQ, matched video-level against a
// video listed with `hashmatch video add`; a re-encoded copy matches, another clip does not.
TEST(ScanCliVideo, ListedVideoAndItsReencodedCopyMatch) {
  test::TempDir t;
  fs::create_directories(t / "tree");
  video::SynthClipSpec spec;
  spec.width = 192;
  spec.height = 144;
  spec.fps_num = 10;
  spec.frames = 40;
  spec.pattern = 3;
  const std::string listed = (t / "listed.mp4").string();
  video::write_synth_clip(listed, spec);
  video::write_synth_clip(t / "tree" / "same.mp4", spec);
  spec.crf = 38;  // the same content re-encoded at a much lower quality, in another container
  video::write_synth_clip(t / "tree" / "copy-lowq.mkv", spec);
  spec.crf = 23;
  spec.pattern = 11;
  video::write_synth_clip(t / "tree" / "other.mp4", spec);
  const std::string db = (t / "v.db").string(), log = (t / "log").string();
  ASSERT_EQ(run({"video", "add", "--db", db, "--list", "videos", "--id", "clip-1", listed}, log), 0)
      << slurp(log);
  const std::string out = (t / "out.jsonl").string();
  ASSERT_EQ(run({"scan", "--db", db, "--backend", "cpu", "--video-decoder", "cpu", "--progress",
                 "off", "--output", out, (t / "tree").string()},
                log),
            0)
      << slurp(log);
  std::map<std::string, std::set<std::string>> got;  // file name -> algos matched against clip-1
  for (const auto& l : lines_of(slurp(out))) {
    const auto j = nlohmann::json::parse(l);
    const std::string name = fs::path(j["path"].get<std::string>()).filename();
    EXPECT_TRUE(j.contains("vpdq")) << l;
    EXPECT_FALSE(j.contains("error")) << l;
    got[name];
    for (const auto& m : j["matches"]) {
      EXPECT_EQ(m["id"], "clip-1");
      got[name].insert(m["algo"]);
      if (m["algo"] == "vpdq") {
        EXPECT_GE(m["query_match_percent"].get<double>(), 80.0) << l;
      }
    }
  }
  ASSERT_EQ(got.size(), 3u);
  EXPECT_TRUE(got["same.mp4"].count("vpdq"));
  EXPECT_TRUE(got["same.mp4"].count("md5"));  // byte-identical to the listed file
  EXPECT_EQ(got["copy-lowq.mkv"], std::set<std::string>{"vpdq"});
  EXPECT_TRUE(got["other.mp4"].empty());
  const nlohmann::json s = nlohmann::json::parse(slurp(out + ".summary.json"))["summary"];
  EXPECT_EQ(s["videos"], 3);
  EXPECT_EQ(s["matched"], 2);
}
#endif

}  // namespace
}  // namespace hashmatch
