// The `hashmatch list` and `hashmatch match` commands end to end (the built binary).
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "host/common/digest.h"
#include "host/image/decode.h"
#include "host/pdq/pdq.h"
#include "tests/lists/lists_testutil.h"
#include "tests/testutil/encoders.h"
#include "tests/testutil/testutil.h"

namespace hashmatch {
namespace {

using nlohmann::json;
using test::run_cli;
using test::split_lines;

class ListCli : public ::testing::Test {
 protected:
  void SetUp() override {
    rng_.seed(test::fresh_seed(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    db_ = (dir_ / "cli.db").string();
  }
  std::string path(const std::string& name) { return (dir_ / name).string(); }
  json run_json(const std::string& args, int want_exit = 0) {
    const test::RunResult r = run_cli(args);
    EXPECT_EQ(r.exit_code, want_exit) << args << "\n" << r.err;
    const auto ls = split_lines(r.out);
    EXPECT_EQ(ls.size(), 1u) << r.out;
    return ls.empty() ? json() : json::parse(ls[0]);
  }
  test::TempDir dir_;
  std::string db_;
  std::mt19937_64 rng_;
};

// Output that cannot be written (a full disk: /dev/full) is an error (exit 1, said on stderr),
// not a success whose results were lost (from a hunt).
TEST_F(ListCli, AnOutputThatCannotBeWrittenIsAnError) {
  if (!std::filesystem::exists("/dev/full")) GTEST_SKIP() << "no /dev/full";
  run_json("list create --db " + db_ + " --list l");
  test::write_text(path("h.txt"), test::random_hex(rng_, 64) + "\n");
  for (const std::string& args :
       {"list import --db " + db_ + " --list l " + path("h.txt"), "list stats --db " + db_,
        "match --db " + db_ + " --pdq " + test::random_hex(rng_, 64), std::string("--version"),
        std::string("--help")}) {
    const test::RunResult r = run_cli(args + " >/dev/full");
    EXPECT_EQ(r.exit_code, 1) << args << "\n" << r.err;
    EXPECT_NE(r.err.find("write error on standard output"), std::string::npos) << r.err;
  }
}

TEST_F(ListCli, CreateImportStatsExportRemove) {
  json j = run_json("list create --db " + db_ + " --list industry --threshold 20");
  EXPECT_EQ(j["created"], true);
  EXPECT_EQ(j["threshold"], 20);
  j = run_json("list create --db " + db_ + " --list industry");
  EXPECT_EQ(j["created"], false);
  EXPECT_EQ(j["threshold"], 20);

  const std::string pdq = test::random_hex(rng_, 64), md5 = test::random_hex(rng_, 32);
  test::write_text(path("signals.txt"), "pdq " + pdq + "\nvideo_md5 " + md5 + "\n");
  j = run_json("list import --db " + db_ + " --list industry " + path("signals.txt"));
  EXPECT_EQ(j["list"], "industry");
  EXPECT_EQ(j["format"], "te");
  EXPECT_EQ(j["imported"], 2);
  EXPECT_EQ(j["removed"], 0);

  test::write_text(
      path("vics.json"),
      R"({"@odata.context":"x/$metadata#Media","value":[{"MediaID":9,"Category":1,"MD5":")" +
          test::random_hex(rng_, 32) + R"(","SHA1":")" + test::random_hex(rng_, 40) +
          R"(","IsDistributed":true}]})");
  j = run_json("list import --db " + db_ + " --list ncmec --source projectvic " +
               path("vics.json"));
  EXPECT_EQ(j["format"], "vics");
  EXPECT_EQ(j["imported"], 2);

  j = run_json("list stats --db " + db_);
  ASSERT_EQ(j["lists"].size(), 2u);
  EXPECT_EQ(j["entries"], 4);
  EXPECT_EQ(j["lists"][0]["list"], "industry");
  EXPECT_EQ(j["lists"][0]["threshold"], 20);
  EXPECT_EQ(j["lists"][0]["pdq"], 1);
  EXPECT_EQ(j["lists"][0]["md5"], 1);
  EXPECT_EQ(j["lists"][1]["records"], 1);
  j = run_json("list stats --db " + db_ + " --list ncmec");
  EXPECT_EQ(j["sha1"], 1);

  // CSV export reads back into an identical list.
  test::RunResult r = run_cli("list export --db " + db_ + " --list ncmec");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto rows = split_lines(r.out);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0], "id,algo,hash,category,source,tags,added");
  EXPECT_NE(rows[1].find("9,md5,"), std::string::npos) << rows[1];
  EXPECT_NE(rows[1].find(",1,projectvic,distributed,"), std::string::npos) << rows[1];
  test::write_text(path("export.csv"), r.out);
  j = run_json("list import --db " + db_ + " --list copy " + path("export.csv"));
  EXPECT_EQ(j["format"], "csv");
  EXPECT_EQ(j["imported"], 2);
  const test::RunResult again = run_cli("list export --db " + db_ + " --list copy");
  auto rows2 = split_lines(again.out);
  ASSERT_EQ(rows2.size(), 3u);
  for (int i = 1; i < 3; ++i) {  // all but the added time
    EXPECT_EQ(rows2[i].substr(0, rows2[i].rfind(',')), rows[i].substr(0, rows[i].rfind(',')));
  }
  r = run_cli("list export --db " + db_ + " --list industry --format te");
  EXPECT_EQ(r.out, "pdq " + pdq + "\nmd5 " + md5 + "\n");

  j = run_json("list remove --db " + db_ + " --list ncmec --id 9");
  EXPECT_EQ(j["removed"], 2);
  j = run_json("list remove --db " + db_ + " --list industry --all");
  EXPECT_EQ(j["removed"], 2);
  EXPECT_EQ(run_cli("list remove --db " + db_ + " --list industry").exit_code, 2);
  EXPECT_EQ(run_cli("list stats --db " + path("missing.db")).exit_code, 1);
  EXPECT_EQ(run_cli("list frobnicate --db " + db_).exit_code, 2);
}

TEST_F(ListCli, FailedImportReportsLineAndImportsNothing) {
  std::string text;
  for (int i = 0; i < 10; ++i) text += "pdq " + test::random_hex(rng_, 64) + "\n";
  text += "tmk " + test::random_hex(rng_, 64) + "\n";
  test::write_text(path("bad.txt"), text);
  const test::RunResult r = run_cli("list import --db " + db_ + " --list l " + path("bad.txt"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("line 11: unknown signal type 'tmk'"), std::string::npos) << r.err;
  const json j = json::parse(split_lines(r.out).at(0));
  EXPECT_TRUE(j.contains("error"));
  const json s = run_json("list stats --db " + db_);
  EXPECT_EQ(s["entries"], 0);
}

TEST_F(ListCli, MatchPdqArgumentsAndFile) {
  const Hash256 h = test::random_hash(rng_);
  const Hash256 near = test::flip_bits(h, 12, rng_);
  test::write_text(path("l.txt"), "pdq " + h.to_hex() + "\n");
  run_json("list import --db " + db_ + " --list internal " + path("l.txt"));
  // Two queries: a hit at distance 12, a miss; one line each, in order.
  test::RunResult r = run_cli("match --db " + db_ + " --pdq " + near.to_hex() + " " +
                              test::random_hash(rng_).to_hex());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto ls = split_lines(r.out);
  ASSERT_EQ(ls.size(), 2u);
  json a = json::parse(ls[0]), b = json::parse(ls[1]);
  ASSERT_EQ(a["matches"].size(), 1u);
  EXPECT_EQ(a["matches"][0]["list"], "internal");
  EXPECT_EQ(a["matches"][0]["distance"], 12);
  EXPECT_EQ(a["matches"][0]["id"], h.to_hex());  // no id in a TE file: the hash is the id
  EXPECT_EQ(a["matches"][0]["variant"], "original");
  EXPECT_EQ(b["matches"].size(), 0u);
  // Threshold override below the distance: no match.
  r = run_cli("match --db " + db_ + " --threshold 11 --pdq " + near.to_hex());
  EXPECT_EQ(json::parse(split_lines(r.out).at(0))["matches"].size(), 0u);
  // A bad query fails alone, with a non-zero exit.
  r = run_cli("match --db " + db_ + " --pdq xyz --pdq " + near.to_hex());
  EXPECT_EQ(r.exit_code, 1);
  ls = split_lines(r.out);
  ASSERT_EQ(ls.size(), 2u);
  EXPECT_TRUE(json::parse(ls[0]).contains("error"));
  EXPECT_EQ(json::parse(ls[1])["matches"].size(), 1u);
  // --pdq-file: hex lines and `hashmatch hash` JSON lines.
  test::write_text(path("q.txt"), near.to_hex() + "\n# comment\n{\"path\":\"x.jpg\",\"pdq\":\"" +
                                      near.to_hex() + "\"}\nnot-a-hash\n");
  r = run_cli("match --db " + db_ + " --pdq-file " + path("q.txt"));
  EXPECT_EQ(r.exit_code, 1);
  ls = split_lines(r.out);
  ASSERT_EQ(ls.size(), 3u);
  EXPECT_EQ(json::parse(ls[0])["line"], 1);
  EXPECT_EQ(json::parse(ls[1])["path"], "x.jpg");
  EXPECT_EQ(json::parse(ls[1])["matches"].size(), 1u);
  EXPECT_EQ(json::parse(ls[2])["line"], 4);
  EXPECT_TRUE(json::parse(ls[2]).contains("error"));
  // Unknown list: usage error.
  EXPECT_EQ(run_cli("match --db " + db_ + " --list nope --pdq " + near.to_hex()).exit_code, 2);
}

TEST_F(ListCli, MatchFilesByPdqDihedralAndDigest) {
  const auto dih = test::testdata_dir() / "pdq" / "reg-test-input" / "dih";
  // The list: the PDQ of the rotated file, and the MD5 of a generated PNG.
  pdq::PdqHasher hasher;
  const auto rotated = test::read_file(dih / "bridge-2-rotate-90.jpg");
  const Hash256 rot = hasher.hash(decode_image(rotated, DecodeLimits{})).hash;
  const auto png = test::encode_png(test::procedural_image(96, 80, 7));
  test::write_file(dir_ / "gen.png", png);
  const std::string png_md5 =
      digest_bytes(std::string_view(reinterpret_cast<const char*>(png.data()), png.size())).md5;
  test::write_text(path("l.csv"), "id,algo,hash,category\nrot,pdq," + rot.to_hex() +
                                      ",A1\npng,md5," + png_md5 + ",B2\n");
  run_json("list import --db " + db_ + " --list ncmec " + path("l.csv"));

  const std::string orig = (dih / "bridge-1-original.jpg").string();
  test::RunResult r = run_cli("match --db " + db_ + " --dihedral " + orig + " " + path("gen.png"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto ls = split_lines(r.out);
  ASSERT_EQ(ls.size(), 2u);
  json a = json::parse(ls[0]), b = json::parse(ls[1]);
  EXPECT_EQ(a["path"], orig);
  ASSERT_EQ(a["matches"].size(), 1u) << ls[0];
  EXPECT_EQ(a["matches"][0]["id"], "rot");
  EXPECT_EQ(a["matches"][0]["variant"], "rot90");
  EXPECT_EQ(a["matches"][0]["category"], "A1");
  EXPECT_EQ(a["pdq_dihedral"].size(), 8u);
  ASSERT_EQ(b["matches"].size(), 1u) << ls[1];
  EXPECT_EQ(b["matches"][0]["algo"], "md5");
  EXPECT_EQ(b["matches"][0]["id"], "png");
  // Without --dihedral the rotated entry is out of reach.
  r = run_cli("match --db " + db_ + " " + orig);
  EXPECT_EQ(json::parse(split_lines(r.out).at(0))["matches"].size(), 0u);
  // A missing file fails, the others are still matched.
  r = run_cli("match --db " + db_ + " " + path("gen.png") + " " + path("missing.jpg"));
  EXPECT_EQ(r.exit_code, 1);
  ls = split_lines(r.out);
  ASSERT_EQ(ls.size(), 2u);
}

}  // namespace
}  // namespace hashmatch
