// The `hashmatch` executable end to end: JSON lines, the pdq line format, dihedral output, exit
// codes, and a bad file in the middle of a directory that does not stop the run.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>

#include "host/pdq/pdq.h"
#include "tests/testutil/encoders.h"
#include "tests/testutil/testutil.h"

namespace hashmatch {
namespace {

struct RunResult {
  int exit_code = -1;
  std::string out;
};

RunResult run(const std::string& args) {
  const std::string cmd = std::string(HASHMATCH_BINARY) + " " + args + " 2>/dev/null";
  RunResult r;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) r.out.append(buf, n);
  const int st = pclose(p);
  r.exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

std::vector<std::string> lines(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string l;
  while (std::getline(ss, l)) out.push_back(l);
  return out;
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(dir_ / "sub");
    a_ = test::procedural_image(120, 90, 11);
    b_ = test::procedural_image(64, 64, 12);
    test::write_file(dir_ / "a.png", test::encode_png(a_));
    test::write_file(dir_ / "sub" / "b.bmp", test::encode_bmp(b_));
    const auto png = test::encode_png(b_);
    test::write_file(dir_ / "sub" / "c-truncated.png", {png.begin(), png.begin() + png.size() / 3});
    test::write_file(dir_ / "sub" / "d.txt", {'h', 'i', '\n'});
  }
  test::TempDir dir_;
  Image a_, b_;
};

TEST_F(CliTest, JsonLinesForEveryFileNonZeroExitOnFailures) {
  const RunResult r = run("hash --jobs 2 " + dir_.path().string());
  EXPECT_EQ(r.exit_code, 1);
  const auto ls = lines(r.out);
  ASSERT_EQ(ls.size(), 4u) << r.out;
  pdq::PdqHasher hasher;
  std::map<std::string, nlohmann::json> by_name;
  for (const auto& l : ls) {
    const auto j = nlohmann::json::parse(l);
    by_name[std::filesystem::path(j["path"].get<std::string>()).filename().string()] = j;
  }
  const auto& a = by_name.at("a.png");
  EXPECT_EQ(a["pdq"], hasher.hash(a_).hash.to_hex());
  EXPECT_EQ(a["pdq_quality"], hasher.hash(a_).quality);
  for (const char* k : {"path", "size", "md5", "sha1", "sha256", "pdq", "pdq_quality"}) {
    EXPECT_TRUE(a.contains(k)) << k;
  }
  EXPECT_FALSE(a.contains("error"));
  EXPECT_EQ(by_name.at("b.bmp")["pdq"], hasher.hash(b_).hash.to_hex());
  EXPECT_EQ(by_name.at("c-truncated.png")["error_reason"], "truncated");
  EXPECT_TRUE(by_name.at("c-truncated.png").contains("md5"));
  EXPECT_EQ(by_name.at("d.txt")["error_reason"], "unsupported");
  // Order is deterministic: sorted walk.
  EXPECT_NE(ls[0].find("a.png"), std::string::npos);
}

// A dangling symlink whose name is not UTF-8: its error line (the walk's) has the name with
// U+FFFD, and every other file still gets its line (the JSON writer threw and no line came out).
TEST_F(CliTest, WalkErrorWithAnInvalidUtf8NameIsALineLikeOthers) {
  std::filesystem::create_symlink(dir_ / "missing", dir_ / "x\xff");
  const RunResult r = run("hash --jobs 2 " + dir_.path().string());
  EXPECT_EQ(r.exit_code, 1);
  const auto ls = lines(r.out);
  ASSERT_EQ(ls.size(), 5u) << r.out;
  int io = 0;
  for (const auto& l : ls) {
    const auto j = nlohmann::json::parse(l);
    if (j.value("error_reason", "") == "io") {
      ++io;
      EXPECT_NE(j["path"].get<std::string>().find("x\xef\xbf\xbd"), std::string::npos) << l;
    }
  }
  EXPECT_EQ(io, 1) << r.out;
}

TEST_F(CliTest, PdqFormatAndDihedral) {
  const std::string a = (dir_ / "a.png").string();
  const RunResult r = run("hash --format pdq " + a);
  EXPECT_EQ(r.exit_code, 0);
  pdq::PdqHasher hasher;
  const pdq::PdqDihedral d = hasher.hash_dihedral(a_);
  EXPECT_EQ(r.out, d.hashes[0].to_hex() + "," + std::to_string(d.quality) + "," + a + "\n");
  const RunResult j = run("hash --dihedral " + a);
  const auto js = nlohmann::json::parse(lines(j.out).at(0));
  ASSERT_EQ(js["pdq_dihedral"].size(), 8u);
  for (int v = 0; v < 8; ++v) EXPECT_EQ(js["pdq_dihedral"][v], d.hashes[v].to_hex()) << v;
}

// A BMP FFmpeg's decoder refuses: the item's error says why (the header field), and FFmpeg's own
// "[bmp @ 0x...]" line does not reach stderr (it did, once per such file, from hunts).
TEST_F(CliTest, ARefusedBmpSaysWhyWithoutFfmpegLogLines) {
  std::vector<uint8_t> bmp = test::encode_bmp(b_);
  bmp[28] = 235;  // biBitCount
  bmp[29] = 0;
  test::write_file(dir_ / "depth.bmp", bmp);
  // stdout and stderr together (run() drops stderr).
  const std::string cmd =
      std::string(HASHMATCH_BINARY) + " hash " + (dir_ / "depth.bmp").string() + " 2>&1";
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof(buf), p)) > 0;) out.append(buf, n);
  const int st = pclose(p);
  EXPECT_EQ(WIFEXITED(st) ? WEXITSTATUS(st) : -1, 1);
  EXPECT_NE(out.find("corrupt BMP: depth 235 not supported"), std::string::npos) << out;
  EXPECT_EQ(out.find("[bmp @"), std::string::npos) << out;
}

TEST_F(CliTest, UsageErrorsExitTwo) {
  EXPECT_EQ(run("hash").exit_code, 2);
  EXPECT_EQ(run("hash --format xml " + dir_.path().string()).exit_code, 2);
  EXPECT_EQ(run("hash --bogus x").exit_code, 2);
  EXPECT_EQ(run("nosuchcommand").exit_code, 2);
  const RunResult missing = run("hash " + (dir_ / "none.png").string());
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.out.find("no such file"), std::string::npos);
}

TEST(CliInfo, PrintsVersionBackendsAndGpuLine) {
  const RunResult r = run("info");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("hashmatch "), std::string::npos);
  EXPECT_NE(r.out.find("backends: cpu"), std::string::npos);
  const bool gpu_line = r.out.find("gpu 0:") != std::string::npos;
  const bool no_gpu_line = r.out.find("no GPU: CPU backend") != std::string::npos;
  EXPECT_TRUE(gpu_line != no_gpu_line) << r.out;
}

}  // namespace
}  // namespace hashmatch
