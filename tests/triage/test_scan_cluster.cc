// `hashmatch scan --cluster` end to end: a generated backlog with known duplicate structure gives
// the same clusters as `hashmatch scan` then `hashmatch cluster`; every line carries `cluster`
// (null for the bad and unhashable files); the summary carries files / unique / known / new
// clusters; a scan interrupted (SIGINT, SIGKILL) and resumed clusters every result, those written
// before the interruption included; the seen-before memory counts each arrival once.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "tests/testutil/encoders.h"
#include "tests/testutil/testutil.h"
#include "tests/triage/smooth_image.h"

namespace hashmatch::triage {
namespace {

namespace fs = std::filesystem;

int run(const std::vector<std::string>& args, const std::string& log,
        const std::string& out = "/dev/null") {
  return test::wait_exit(test::spawn(HASHMATCH_BINARY, args, out, log));
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::vector<nlohmann::json> json_lines(const fs::path& p) {
  std::vector<nlohmann::json> out;
  std::ifstream in(p);
  std::string l;
  while (std::getline(in, l)) {
    if (!l.empty()) out.push_back(nlohmann::json::parse(l));
  }
  return out;
}

std::size_t line_count(const fs::path& p) {
  const std::string s = slurp(p);
  return static_cast<std::size_t>(std::count(s.begin(), s.end(), '\n'));
}

// The backlog: kGroups pictures, each as a PNG original, a JPEG re-encoding, a half-size PNG and,
// for some, a byte-identical copy elsewhere; plus broken files and a text file (never clustered).
constexpr int kGroups = 10;

class ScanCluster : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::TempDir();
    const fs::path tree = dir_->path() / "tree";
    for (int g = 0; g < kGroups; ++g) {
      const uint32_t seed = 20261124u + 7919u * g;
      const Image big = smooth_image(320 + 8 * g, 240, seed);
      const Image small = smooth_image(160 + 4 * g, 120, seed);
      const fs::path d = tree / ("g" + std::to_string(g % 3));
      fs::create_directories(d);
      const std::string tag = std::to_string(g);
      const auto png = test::encode_png(big);
      test::write_file(d / ("orig" + tag + ".png"), png);
      test::write_file(d / ("jpeg" + tag + ".jpg"), test::encode_jpeg(big, 70));
      test::write_file(d / ("half" + tag + ".png"), test::encode_png(small));
      if (g % 3 == 0) {
        fs::create_directories(tree / "copies");
        test::write_file(tree / "copies" / ("same" + tag + ".png"), png);
      }
    }
    fs::create_directories(tree / "bad");
    test::write_file(tree / "bad" / "truncated.jpg", {0xff, 0xd8, 0xff, 0xe0, 1, 2, 3});
    test::write_file(tree / "bad" / "empty.png", {});
    test::write_file(tree / "notes.txt", {'h', 'i', '\n'});
    // The reference: scan, then cluster the output.
    ref_ = dir_->path() / "ref.jsonl";
    const fs::path plain = dir_->path() / "plain.jsonl";
    ASSERT_EQ(run({"scan", "--jobs", "2", "--progress", "off", "--output", plain.string(), tree.string()},
                  (dir_->path() / "ref.log").string()),
              0);
    ASSERT_EQ(run({"cluster", "--output", ref_.string(), plain.string()},
                  (dir_->path() / "ref.log").string()),
              0)
        << slurp(dir_->path() / "ref.log");
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static std::string tree() { return (dir_->path() / "tree").string(); }
  // Group of a path (-1 for the files that must not be clustered).
  static int group_of(const std::string& path) {
    const std::string name = fs::path(path).stem().string();
    if (path.find("/bad/") != std::string::npos || name == "notes") return -1;
    std::size_t i = name.size();
    while (i > 0 && std::isdigit(static_cast<unsigned char>(name[i - 1]))) --i;
    return std::stoi(name.substr(i));
  }
  static test::TempDir* dir_;
  static fs::path ref_;
};
test::TempDir* ScanCluster::dir_ = nullptr;
fs::path ScanCluster::ref_;

TEST_F(ScanCluster, SameClustersAsScanThenClusterAndThePlantedStructure) {
  const fs::path out = dir_->path() / "a.jsonl", report = dir_->path() / "a.report.json",
                 queue = dir_->path() / "a.queue.jsonl", log = dir_->path() / "a.log";
  ASSERT_EQ(run({"scan", "--cluster", "--jobs", "2", "--progress", "off", "--output", out.string(),
                 "--report", report.string(), "--queue", queue.string(), tree()},
                log.string()),
            0)
      << slurp(log);
  const auto lines = json_lines(out);
  const auto ref = json_lines(ref_);
  ASSERT_EQ(lines.size(), ref.size());
  for (std::size_t i = 0; i < lines.size(); ++i) EXPECT_EQ(lines[i], ref[i]) << "line " << i;
  // The planted structure: one cluster per picture; bad and unhashable files not clustered.
  std::map<int, int> cluster_of_group;
  std::set<int> ids;
  std::size_t unclustered = 0;
  for (const auto& j : lines) {
    ASSERT_TRUE(j.contains("cluster")) << j.dump();
    const int g = group_of(j["path"]);
    if (g < 0) {
      EXPECT_TRUE(j["cluster"].is_null()) << j.dump();
      ++unclustered;
      continue;
    }
    ASSERT_TRUE(j["cluster"].is_number_integer()) << j.dump();
    const int c = j["cluster"];
    auto [it, fresh] = cluster_of_group.emplace(g, c);
    EXPECT_EQ(it->second, c) << j["path"] << " is not with the rest of picture " << g;
    ids.insert(c);
  }
  EXPECT_EQ(unclustered, 3u);
  EXPECT_EQ(ids.size(), std::size_t(kGroups)) << "pictures merged";
  // The summary: files / unique / known / new clusters, in the file and as the last stderr line.
  const nlohmann::json s = nlohmann::json::parse(slurp(out.string() + ".summary.json"))["summary"];
  EXPECT_EQ(s["files"], lines.size());
  EXPECT_EQ(s["unique_clusters"], kGroups);
  EXPECT_EQ(s["known_clusters"], 0);
  EXPECT_EQ(s["new_clusters"], kGroups);
  EXPECT_EQ(s["cluster"]["unclustered"], 3);
  EXPECT_EQ(s["cluster"]["files"], lines.size());
  const std::string err = slurp(log);
  EXPECT_NE(err.find("unique clusters"), std::string::npos) << err;
  const nlohmann::json r = nlohmann::json::parse(slurp(report));
  EXPECT_EQ(r["clusters"].size(), std::size_t(kGroups));
  EXPECT_EQ(line_count(queue), std::size_t(kGroups));
  // Standard output: the same clustered lines.
  const fs::path so = dir_->path() / "stdout.jsonl";
  ASSERT_EQ(run({"scan", "--cluster", "--progress", "off", tree()}, (dir_->path() / "so.log").string(),
                so.string()),
            0);
  EXPECT_EQ(slurp(so), slurp(out));
  // The clustering options need --cluster.
  EXPECT_EQ(run({"scan", "--report", report.string(), tree()}, (dir_->path() / "so.log").string()), 2);
}

TEST_F(ScanCluster, SigintThenResumeClustersEverythingAndCountsArrivalsOnce) {
  const fs::path out = dir_->path() / "int.jsonl", ck = dir_->path() / "int.ckpt",
                 db = dir_->path() / "memory.db", log = dir_->path() / "int.log";
  const std::vector<std::string> args = {"scan",         "--cluster",      "--jobs",     "1",
                                         "--progress",   "off",            "--output",   out.string(),
                                         "--checkpoint", ck.string(),      "--memory-db", db.string(),
                                         "--checkpoint-interval", "0.01", tree()};
  const pid_t pid = test::spawn(HASHMATCH_BINARY, args, "/dev/null", log.string());
  // Once the checkpoint exists the scan is under way (and its handler installed).
  for (int i = 0; i < 2000 && !fs::exists(ck); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  std::this_thread::sleep_for(std::chrono::milliseconds(40));
  ::kill(pid, SIGINT);
  const int rc = test::wait_exit(pid);
  if (rc == 130) {
    const nlohmann::json s = nlohmann::json::parse(slurp(out.string() + ".summary.json"))["summary"];
    EXPECT_EQ(s["interrupted"], true);
    EXPECT_EQ(s["cluster"]["pending"], true);
    EXPECT_FALSE(s.contains("unique_clusters"));
    for (const auto& j : json_lines(out)) EXPECT_FALSE(j.contains("cluster")) << "clustered before the end";
    EXPECT_LT(line_count(out), json_lines(ref_).size());
  } else {
    ASSERT_EQ(rc, 0) << slurp(log);
    std::printf("the scan finished before the signal\n");
  }
  ASSERT_EQ(run(args, log.string()), 0) << slurp(log);
  const auto lines = json_lines(out);
  const auto ref = json_lines(ref_);
  ASSERT_EQ(lines.size(), ref.size());
  for (std::size_t i = 0; i < lines.size(); ++i) {
    nlohmann::json l = lines[i];
    EXPECT_FALSE(l.contains("seen_before")) << "nothing was remembered before this scan";
    EXPECT_EQ(l, ref[i]) << "line " << i;
  }
  const std::string once = slurp(out);
  // Running the finished scan again changes nothing and records nothing.
  ASSERT_EQ(run(args, log.string()), 0) << slurp(log);
  EXPECT_EQ(slurp(out), once);
  const nlohmann::json s = nlohmann::json::parse(slurp(out.string() + ".summary.json"))["summary"];
  EXPECT_EQ(s["unique_clusters"], kGroups);
  // Asked for a report then, it says that none is written (it said nothing).
  std::vector<std::string> with_report = args;
  with_report.insert(with_report.end() - 1, {"--report", (dir_->path() / "late.json").string()});
  ASSERT_EQ(run(with_report, log.string()), 0) << slurp(log);
  EXPECT_NE(slurp(log).find("already complete and clustered: --report/--queue not written"),
            std::string::npos)
      << slurp(log);
  EXPECT_EQ(slurp(out), once);
  // A second scan of the same backlog with the memory: each cluster was seen once before, with as
  // many arrivals as it has members (not twice that: the re-run did not count again).
  const fs::path again = dir_->path() / "again.jsonl";
  ASSERT_EQ(run({"scan", "--cluster", "--progress", "off", "--output", again.string(), "--memory-db",
                 db.string(), tree()},
                log.string()),
            0);
  std::map<int, int> size;
  const auto second = json_lines(again);
  for (const auto& j : second) {
    if (!j["cluster"].is_null()) ++size[j["cluster"].get<int>()];
  }
  for (const auto& j : second) {
    if (j["cluster"].is_null()) continue;
    ASSERT_TRUE(j.contains("seen_before")) << j.dump();
    EXPECT_EQ(j["seen_before"]["count"], size[j["cluster"].get<int>()]) << j.dump();
  }
  const nlohmann::json s2 = nlohmann::json::parse(slurp(again.string() + ".summary.json"))["summary"];
  EXPECT_EQ(s2["cluster"]["new_clusters_seen_before"], kGroups);
}

TEST_F(ScanCluster, KilledAtRandomPointsAndResumedClustersEverything) {
  const fs::path out = dir_->path() / "kill.jsonl", ck = dir_->path() / "kill.ckpt",
                 log = dir_->path() / "kill.log";
  const std::vector<std::string> args = {"scan",     "--cluster", "--jobs",       "1",
                                         "--progress", "off",     "--output",     out.string(),
                                         "--checkpoint", ck.string(), "--checkpoint-interval", "0.02",
                                         tree()};
  int kills = 0, rc = -1;
  for (int attempt = 0; attempt < 60; ++attempt) {
    const pid_t pid = test::spawn(HASHMATCH_BINARY, args, "/dev/null", log.string());
    std::this_thread::sleep_for(std::chrono::milliseconds(40 + 15 * attempt));
    ::kill(pid, SIGKILL);
    rc = test::wait_exit(pid);
    if (rc == 0) break;
    ++kills;
  }
  if (rc != 0) rc = run(args, log.string());
  ASSERT_EQ(rc, 0) << slurp(log);
  std::printf("%d kills before the scan completed\n", kills);
  const auto lines = json_lines(out);
  const auto ref = json_lines(ref_);
  ASSERT_EQ(lines.size(), ref.size()) << "lost or duplicated lines after " << kills << " kills";
  for (std::size_t i = 0; i < lines.size(); ++i) EXPECT_EQ(lines[i], ref[i]) << "line " << i;
}

}  // namespace
// --cluster with an output that is a FIFO (or a pipe, a device) writes the clustered lines to it
// once the scan is done (it read the FIFO back and hung for ever); with a symbolic link, the link's
// target is clustered and the link stays (it was replaced by a file, the target left unclustered).
TEST_F(ScanCluster, AFifoOrALinkAsTheOutputGetsTheClusteredLines) {
  const auto ref = json_lines(ref_);
  const fs::path fifo = dir_->path() / "out.fifo", got = dir_->path() / "from-fifo.jsonl",
                 log = dir_->path() / "fifo.log";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  std::thread reader([&] {
    std::ifstream in(fifo);
    std::ofstream out(got);
    out << in.rdbuf();
  });
  // A scan that opens the FIFO again to read it back blocks until a writer comes: after 120 s the
  // watchdog comes, and the test fails instead of hanging.
  std::atomic<bool> done{false};
  std::thread watchdog([&] {
    for (int i = 0; i < 1200 && !done; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (done) return;
    const int fd = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK);
    if (fd >= 0) ::close(fd);
  });
  const int rc = run(
      {"scan", "--cluster", "--jobs", "2", "--progress", "off", "--output", fifo.string(), tree()},
      log.string());
  done = true;
  watchdog.join();
  if (rc != 0) {  // let the reader end
    const int fd = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK);
    if (fd >= 0) ::close(fd);
  }
  reader.join();
  ASSERT_EQ(rc, 0) << slurp(log);
  const auto lines = json_lines(got);
  ASSERT_EQ(lines.size(), ref.size());
  for (std::size_t i = 0; i < lines.size(); ++i) EXPECT_EQ(lines[i], ref[i]) << "line " << i;

  const fs::path target = dir_->path() / "target.jsonl", link = dir_->path() / "link.jsonl";
  std::ofstream(target) << "";
  fs::create_symlink(target, link);
  ASSERT_EQ(run({"scan", "--cluster", "--jobs", "2", "--progress", "off", "--output", link.string(),
                 tree()},
                log.string()),
            0)
      << slurp(log);
  EXPECT_TRUE(fs::is_symlink(link));
  const auto linked = json_lines(target);
  ASSERT_EQ(linked.size(), ref.size());
  for (std::size_t i = 0; i < linked.size(); ++i) EXPECT_EQ(linked[i], ref[i]) << "line " << i;
  // A link whose target is not there yet (relative, through a second link): the target is made.
  const fs::path missing = dir_->path() / "made.jsonl", hop = dir_->path() / "hop.jsonl",
                 dangling = dir_->path() / "dangling.jsonl";
  fs::create_symlink("made.jsonl", hop);
  fs::create_symlink("hop.jsonl", dangling);
  ASSERT_EQ(run({"scan", "--cluster", "--jobs", "2", "--progress", "off", "--output",
                 dangling.string(), tree()},
                log.string()),
            0)
      << slurp(log);
  EXPECT_TRUE(fs::is_symlink(dangling));
  EXPECT_TRUE(fs::is_symlink(hop));
  const auto made = json_lines(missing);
  ASSERT_EQ(made.size(), ref.size());
  for (std::size_t i = 0; i < made.size(); ++i) EXPECT_EQ(made[i], ref[i]) << "line " << i;
}

}  // namespace hashmatch::triage
