// The scan pipeline in process, with an in-test matcher over known hashes: planted matches found
// (PDQ, re-encoded copies, MD5), broken files recorded and the scan going on, a file removed
// mid-scan, deterministic output whatever the number of workers, the batched stage path (and its
// CPU fallback) giving the same results, stop and resume giving the uninterrupted result, and a
// crash after the last commit recovered from the output's complete lines.
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <set>
#include <sstream>

#include "host/common/error.h"
#include "host/scan/checkpoint.h"
#include "host/scan/output.h"
#include "host/scan/scanner.h"
#include "tests/scan/scan_fixture.h"

namespace hashmatch::scan {
namespace {

namespace fs = std::filesystem;

// Matches PDQ within 31 of a known set (id = file name of the original) and MD5s.
class KnownMatcher : public ScanMatcher {
 public:
  std::vector<std::pair<std::string, Hash256>> pdq;
  std::map<std::string, std::string> md5;  // md5 -> id
  std::function<void(std::span<ScanItem* const>)> hook;
  std::atomic<int> calls{0};

  void match(std::span<ScanItem* const> items, bool) override {
    ++calls;
    if (hook) hook(items);
    for (ScanItem* it : items) {
      it->matches = nlohmann::json::array();
      const auto& r = it->result;
      if (r.pdq && r.ok()) {
        for (const auto& [id, h] : pdq) {
          const int d = hamming_distance(h, r.pdq->hashes[0]);
          if (d <= 31) it->matches.push_back({{"list", "known"}, {"id", id}, {"algo", "pdq"}, {"distance", d}});
        }
      }
      if (r.have_digests) {
        if (auto f = md5.find(r.digests.md5); f != md5.end()) {
          it->matches.push_back({{"list", "exact"}, {"id", f->second}, {"algo", "md5"}, {"distance", 0}});
        }
      }
    }
  }
  std::size_t batch_size() const override { return 8; }
  nlohmann::json describe() const override { return {{"known", pdq.size()}}; }
};

// A "GPU" stage that hashes batches on the CPU (bit-identical by construction), optionally failing.
class CpuStage : public BatchPdqStage {
 public:
  int fail_first = 0;
  bool take_bytes = false;
  std::atomic<int> batches{0};
  bool decodes(MediaFormat f) const override { return take_bytes && f == MediaFormat::kPng; }
  void hash(std::span<ScanItem* const> items, bool dihedral) override {
    if (batches++ < fail_first) throw CudaError("simulated device failure");
    pdq::PdqHasher h;
    for (ScanItem* it : items) {
      if (!it->bytes.empty()) {
        hash_image_bytes(it->bytes, HashOptions{}, h, &it->result);
        continue;
      }
      pdq::PdqDihedral d = h.hash_dihedral(it->image);
      if (!dihedral) std::fill(d.hashes.begin() + 1, d.hashes.end(), Hash256{});
      it->result.pdq = d;
    }
  }
  std::size_t batch_size() const override { return 5; }
  std::string describe() const override { return "cpu-test-stage"; }
};

std::vector<nlohmann::json> read_lines(const std::string& path) {
  std::vector<nlohmann::json> out;
  std::ifstream f(path);
  std::string l;
  while (std::getline(f, l)) out.push_back(nlohmann::json::parse(l));
  return out;
}

std::string slurp(const std::string& p) { return OutputFile::read_from(p, 0); }

class ScanPipeline : public ::testing::Test {
 protected:
  void SetUp() override {
    b_ = test::make_backlog(dir_ / "tree", 24, 3);
    for (const std::string& p : b_.planted) matcher_.pdq.emplace_back(fs::path(p).filename(), b_.pdq_of[p]);
    matcher_.md5[b_.text_md5] = "notes";
  }
  ScanOptions options(const std::string& out, int jobs) {
    ScanOptions o;
    o.paths = {(dir_ / "tree").string()};
    o.output = out;
    o.jobs = jobs;
    o.progress = ProgressMode::kOff;
    return o;
  }
  test::TempDir dir_;
  test::Backlog b_;
  KnownMatcher matcher_;
};

TEST_F(ScanPipeline, PlantedMatchesBrokenFilesAndEveryFileAccountedFor) {
  const std::string out = (dir_ / "out.jsonl").string();
  const ScanReport rep = run_scan(options(out, 2), &matcher_, nullptr);
  EXPECT_TRUE(rep.complete);
  const auto lines = read_lines(out);
  ASSERT_EQ(lines.size(), b_.files.size());
  std::set<std::string> seen;
  std::map<std::string, std::set<std::string>> matched;  // path -> ids
  for (const auto& j : lines) {
    seen.insert(j["path"]);
    ASSERT_TRUE(j.contains("matches")) << j.dump();
    for (const auto& m : j["matches"]) matched[j["path"]].insert(m["id"]);
  }
  EXPECT_EQ(seen, std::set<std::string>(b_.files.begin(), b_.files.end()));
  // Every planted original matches itself (distance 0), its JPEG copy matches it within 31, the
  // text file matches by MD5, and nothing else matches.
  std::map<std::string, std::set<std::string>> want;
  for (std::size_t i = 0; i < b_.planted.size(); ++i) {
    const std::string id = fs::path(b_.planted[i]).filename();
    want[b_.planted[i]].insert(id);
    want[b_.planted_copies[i]].insert(id);
  }
  want[b_.text_file].insert("notes");
  EXPECT_EQ(matched, want);
  // Broken files are recorded with a reason; the non-media file is "exact only", not a failure.
  std::map<std::string, std::string> reason;
  for (const auto& j : lines) {
    if (j.contains("error")) reason[j["path"]] = j["error_reason"];
  }
  for (const std::string& p : b_.broken) EXPECT_TRUE(reason.count(p)) << p;
  EXPECT_EQ(reason[(dir_ / "tree" / "bad" / "bomb.jpg").string()], "too_many_pixels");
  EXPECT_EQ(rep.counters.failed, b_.broken.size());
  EXPECT_EQ(rep.counters.exact_only, 1u);
  EXPECT_EQ(rep.counters.matched, want.size());
  EXPECT_EQ(rep.counters.files, b_.files.size());
  // Summary JSON carries the documented fields.
  const nlohmann::json s = rep.to_json(options(out, 2))["summary"];
  for (const char* k : {"files", "bytes", "matched", "failed", "failed_by_reason", "files_per_s",
                        "mb_per_s", "complete", "items"}) {
    EXPECT_TRUE(s.contains(k)) << k;
  }
}

TEST_F(ScanPipeline, OutputIsIdenticalWhateverTheWorkersAndTheStage) {
  const std::string a = (dir_ / "a.jsonl").string(), b = (dir_ / "b.jsonl").string(),
                    c = (dir_ / "c.jsonl").string(), d = (dir_ / "d.jsonl").string();
  run_scan(options(a, 1), &matcher_, nullptr);
  ScanOptions ob = options(b, 3);
  ob.window = 4;  // tiny window: workers wait for the emitter all the time
  run_scan(ob, &matcher_, nullptr);
  CpuStage stage;
  run_scan(options(c, 2), &matcher_, &stage);
  EXPECT_GT(stage.batches.load(), 0);
  CpuStage failing;
  failing.fail_first = 1000;  // every batch fails: CPU fallback, then the stage is switched off
  failing.take_bytes = true;
  const ScanReport rd = run_scan(options(d, 2), &matcher_, &failing);
  EXPECT_TRUE(rd.stage_disabled);
  const std::string ref = slurp(a);
  ASSERT_FALSE(ref.empty());
  EXPECT_EQ(slurp(b), ref);
  EXPECT_EQ(slurp(c), ref);
  EXPECT_EQ(slurp(d), ref);
}

TEST_F(ScanPipeline, FileRemovedMidScanIsARecordedErrorAndTheScanGoesOn) {
  const std::string out = (dir_ / "out.jsonl").string();
  const std::string victim = b_.files.back();  // walked last (notes.txt)
  ASSERT_EQ(victim, b_.text_file);
  matcher_.hook = [&](std::span<ScanItem* const>) {
    std::error_code ec;
    fs::remove(victim, ec);
  };
  ScanOptions o = options(out, 1);
  o.window = 2;  // the victim is dispatched long after the first match call
  const ScanReport rep = run_scan(o, &matcher_, nullptr);
  EXPECT_TRUE(rep.complete);
  const auto lines = read_lines(out);
  ASSERT_EQ(lines.size(), b_.files.size());
  bool found = false;
  for (const auto& j : lines) {
    if (j["path"] != victim) continue;
    found = true;
    EXPECT_EQ(j["error_reason"], "io");
    EXPECT_NE(j["error"].get<std::string>().find("no such file"), std::string::npos);
  }
  EXPECT_TRUE(found);
}

TEST_F(ScanPipeline, StopAndResumeGiveTheUninterruptedResult) {
  const std::string ref = (dir_ / "ref.jsonl").string();
  run_scan(options(ref, 2), &matcher_, nullptr);
  const std::string out = (dir_ / "out.jsonl").string(), ck = (dir_ / "ck").string();
  std::atomic<bool> stop{false};
  int sessions = 0;
  for (int stop_after : {3, 9, 17}) {
    KnownMatcher m = {};
    m.pdq = matcher_.pdq;
    m.md5 = matcher_.md5;
    std::atomic<int> seen{0};
    m.hook = [&](std::span<ScanItem* const> items) {
      if ((seen += static_cast<int>(items.size())) >= stop_after) stop = true;
    };
    stop = false;
    ScanOptions o = options(out, 2);
    o.checkpoint = ck;
    o.stop = &stop;
    o.window = 4;
    const ScanReport rep = run_scan(o, &m, nullptr);
    ++sessions;
    EXPECT_EQ(rep.resumed, sessions > 1);
    if (rep.complete) break;
    EXPECT_TRUE(rep.interrupted);
    EXPECT_LT(rep.done, rep.items);
  }
  ScanOptions o = options(out, 2);
  o.checkpoint = ck;
  const ScanReport last = run_scan(o, &matcher_, nullptr);
  EXPECT_TRUE(last.complete);
  EXPECT_TRUE(last.resumed);
  EXPECT_EQ(slurp(out), slurp(ref));
  EXPECT_EQ(last.counters.files, b_.files.size());
  EXPECT_EQ(last.counters.failed, b_.broken.size());
  // Running again once complete does nothing and changes nothing.
  const ScanReport again = run_scan(o, &matcher_, nullptr);
  EXPECT_TRUE(again.complete);
  EXPECT_EQ(again.session_files, 0u);
  EXPECT_EQ(slurp(out), slurp(ref));
  // Another scan's options are refused.
  ScanOptions other = o;
  other.hash.dihedral = true;
  EXPECT_THROW(run_scan(other, &matcher_, nullptr), Error);
  // ... and the refusal names the option within the result settings.
  ScanOptions sized = o;
  sized.result_config["vpdq_size"] = 128;
  try {
    run_scan(sized, &matcher_, nullptr);
    ADD_FAILURE() << "resumed with another --vpdq-size";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("result.vpdq_size"), std::string::npos) << e.what();
  }
}

// Changes the working directory for a scope.
class ScopedCwd {
 public:
  explicit ScopedCwd(const fs::path& dir) : old_(fs::current_path()) { fs::current_path(dir); }
  ~ScopedCwd() { fs::current_path(old_); }
  ScopedCwd(const ScopedCwd&) = delete;
  ScopedCwd& operator=(const ScopedCwd&) = delete;

 private:
  fs::path old_;
};

// Relative items are relative to the working directory: a resume from another one is refused
// (it used to find every remaining file missing and complete the scan with them as io errors).
TEST_F(ScanPipeline, ResumingRelativeItemsFromAnotherDirectoryIsRefused) {
  const std::string out = (dir_ / "rel.jsonl").string(), ck = (dir_ / "rel.ckpt").string();
  ScanOptions o = options(out, 2);
  o.paths = {"tree"};  // relative to dir_
  o.checkpoint = ck;
  {
    ScopedCwd in(dir_.path());
    const ScanReport rep = run_scan(o, &matcher_, nullptr);
    ASSERT_TRUE(rep.complete);
  }
  const std::string ref = slurp(out);
  // Back to "checkpoint created, nothing done": the item list alone, the output empty.
  {
    const std::string text = slurp(ck);
    std::size_t pos = text.find("{\"end_items\"");
    ASSERT_NE(pos, std::string::npos);
    std::ofstream(ck, std::ios::trunc) << text.substr(0, text.find('\n', pos) + 1);
    std::ofstream(out, std::ios::trunc);
  }
  {
    ScopedCwd elsewhere(dir_ / "tree" / "d0");
    ScanOptions abs = o;
    abs.paths = {(dir_ / "tree").string()};  // the same directory spelt absolute
    try {
      const ScanReport rep = run_scan(abs, &matcher_, nullptr);
      ADD_FAILURE() << "resumed from another directory: " << rep.counters.failed << " failed";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("cwd"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(dir_.path().string()), std::string::npos) << e.what();
    }
  }
  EXPECT_EQ(slurp(out), "") << "the refused resume wrote results";
  ScopedCwd in(dir_.path());
  const ScanReport rep = run_scan(o, &matcher_, nullptr);
  EXPECT_TRUE(rep.complete);
  EXPECT_EQ(slurp(out), ref);
}

TEST_F(ScanPipeline, CrashAfterTheLastCommitKeepsCompleteLinesAndDropsTornOnes) {
  const std::string ref = (dir_ / "ref.jsonl").string();
  run_scan(options(ref, 2), &matcher_, nullptr);
  const std::string ref_text = slurp(ref);
  const std::string out = (dir_ / "out.jsonl").string(), ck = (dir_ / "ck").string();
  ScanOptions o = options(out, 2);
  o.checkpoint = ck;
  run_scan(o, &matcher_, nullptr);
  // Simulate a crash: the checkpoint keeps only its first commit (0 done), and the output holds
  // 7 complete lines plus half of the 8th.
  {
    const std::string text = slurp(ck);
    std::size_t pos = text.find("{\"end_items\"");
    ASSERT_NE(pos, std::string::npos);
    pos = text.find('\n', pos) + 1;
    pos = text.find('\n', pos) + 1;  // the first commit line
    std::ofstream(ck, std::ios::trunc) << text.substr(0, pos);
  }
  std::size_t cut = 0;
  for (int i = 0; i < 7; ++i) cut = ref_text.find('\n', cut) + 1;
  const std::size_t next = ref_text.find('\n', cut) + 1;
  std::ofstream(out, std::ios::trunc) << ref_text.substr(0, cut + (next - cut) / 2);
  const ScanReport rep = run_scan(o, &matcher_, nullptr);
  EXPECT_TRUE(rep.complete);
  EXPECT_EQ(rep.salvaged, 7u);
  EXPECT_EQ(rep.resumed_from, 7u);
  EXPECT_EQ(rep.session_files, b_.files.size() - 7);
  EXPECT_EQ(slurp(out), ref_text);
  EXPECT_EQ(rep.counters.files, b_.files.size());
  EXPECT_EQ(rep.counters.matched, run_scan(options(ref, 1), &matcher_, nullptr).counters.matched);
}

TEST_F(ScanPipeline, ShardsTogetherGiveTheWholeScan) {
  const std::string ref = (dir_ / "ref.jsonl").string();
  run_scan(options(ref, 2), &matcher_, nullptr);
  std::multiset<std::string> all;
  for (const auto& j : read_lines(ref)) all.insert(j.dump());
  std::multiset<std::string> united;
  for (uint32_t i = 0; i < 3; ++i) {
    ScanOptions o = options((dir_ / ("s" + std::to_string(i))).string(), 2);
    o.shard = Shard{i, 3};
    run_scan(o, &matcher_, nullptr);
    for (const auto& j : read_lines(o.output)) united.insert(j.dump());
  }
  EXPECT_EQ(united, all);
}

}  // namespace
}  // namespace hashmatch::scan
