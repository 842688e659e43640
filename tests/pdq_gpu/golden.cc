#include "tests/pdq_gpu/golden.h"

#include <fstream>
#include <sstream>

#include "host/image/decode.h"
#include "tests/testutil/testutil.h"

namespace hashmatch::pdq::test {

std::vector<GoldenRow> load_golden() {
  const auto path = hashmatch::test::testdata_dir() / "pdq" / "expected_generated.tsv";
  std::ifstream in(path);
  std::vector<GoldenRow> rows;
  if (!in) {
    ADD_FAILURE() << "cannot read " << path;
    return rows;
  }
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#' || line.rfind("file\t", 0) == 0) continue;
    std::istringstream ss(line);
    GoldenRow r;
    std::string q;
    std::getline(ss, r.file, '\t');
    std::getline(ss, r.variant, '\t');
    std::getline(ss, q, '\t');
    r.quality = std::stoi(q);
    for (auto& h : r.hex) std::getline(ss, h, '\t');
    rows.push_back(r);
  }
  if (rows.empty()) ADD_FAILURE() << "no rows in " << path;
  return rows;
}

Image decode_golden(const std::string& file) {
  const auto bytes = hashmatch::test::read_file(hashmatch::test::testdata_dir() / "pdq" / file);
  return decode_image(bytes, DecodeLimits{});
}

}  // namespace hashmatch::pdq::test
