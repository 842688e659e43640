// The scan's GPU stage against the CPU oracle (label gpu: skipped without a device, failing with
// HASHMATCH_REQUIRE_GPU=1): the batched GPU PDQ stage gives byte-identical result lines; with
// nvJPEG decoding, every JPEG's hash stays within a small distance of the CPU's and the planted
// matches are the same.
#include <gtest/gtest.h>

#include <fstream>

#include "host/scan/output.h"
#include "host/scan/pdq_stage.h"
#include "host/scan/scanner.h"
#include "tests/scan/scan_fixture.h"

namespace hashmatch::scan {
namespace {

class ScanGpu : public test::GpuTest {};

std::vector<nlohmann::json> read_lines(const std::string& path) {
  std::vector<nlohmann::json> out;
  std::ifstream f(path);
  std::string l;
  while (std::getline(f, l)) out.push_back(nlohmann::json::parse(l));
  return out;
}

ScanOptions options(const test::TempDir& d, const std::string& out, bool dihedral) {
  ScanOptions o;
  o.paths = {(d / "tree").string()};
  o.output = (d / out).string();
  o.progress = ProgressMode::kOff;
  o.hash.dihedral = dihedral;
  return o;
}

TEST_F(ScanGpu, GpuStageGivesTheCpuResultLines) {
  test::TempDir d;
  test::make_backlog(d / "tree", 300, 4);
  for (const bool dihedral : {false, true}) {
    const ScanOptions cpu = options(d, "cpu.jsonl", dihedral);
    run_scan(cpu, nullptr, nullptr);
    PdqStageOptions so;
    so.backend = "cuda";
    so.batch = 37;  // odd batches: partial and mixed-size chunks
    std::string why;
    auto stage = make_pdq_stage(so, &why);
    ASSERT_TRUE(stage) << why;
    const ScanOptions gpu = options(d, "gpu.jsonl", dihedral);
    const ScanReport rep = run_scan(gpu, nullptr, stage.get());
    EXPECT_FALSE(rep.stage_disabled);
    EXPECT_EQ(OutputFile::read_from(gpu.output, 0), OutputFile::read_from(cpu.output, 0))
        << "dihedral=" << dihedral;
  }
}

TEST_F(ScanGpu, NvjpegStageStaysCloseToTheCpu) {
  test::TempDir d;
  const test::Backlog b = test::make_backlog(d / "tree", 120, 4);
  const ScanOptions cpu = options(d, "cpu.jsonl", false);
  run_scan(cpu, nullptr, nullptr);
  PdqStageOptions so;
  so.backend = "cuda";
  so.jpeg_decoder = "gpu";
  std::string why;
  std::unique_ptr<BatchPdqStage> stage;
  try {
    stage = make_pdq_stage(so, &why);
  } catch (const std::exception& e) {
    GTEST_SKIP() << "nvJPEG not usable: " << e.what();
  }
  const ScanOptions gpu = options(d, "nvjpeg.jsonl", false);
  run_scan(gpu, nullptr, stage.get());
  const auto a = read_lines(cpu.output), g = read_lines(gpu.output);
  ASSERT_EQ(a.size(), g.size());
  int jpegs = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i]["path"], g[i]["path"]);
    EXPECT_EQ(a[i].contains("error"), g[i].contains("error")) << a[i].dump() << "\n" << g[i].dump();
    if (!a[i].contains("pdq") || !g[i].contains("pdq")) continue;
    const int dist = hamming_distance(Hash256::from_hex(a[i]["pdq"].get<std::string>()),
                                      Hash256::from_hex(g[i]["pdq"].get<std::string>()));
    if (a[i]["format"] == "jpeg") {
      ++jpegs;
      EXPECT_LE(dist, 16) << a[i]["path"];
    } else {
      EXPECT_EQ(dist, 0) << a[i]["path"];  // other formats: the CPU decoder, bit-identical
    }
  }
  EXPECT_GE(jpegs, 4);
}

}  // namespace
}  // namespace hashmatch::scan
