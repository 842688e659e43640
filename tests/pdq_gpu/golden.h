// The shared golden PDQ expectations (../shared/testdata/pdq/expected_generated.tsv), read in place.
#pragma once

#include <array>
#include <string>
#include <vector>

#include "host/image/image.h"

namespace hashmatch::pdq::test {

struct GoldenRow {
  std::string file;     // relative to testdata/pdq
  std::string variant;  // "fullres" | "cli512"
  int quality = 0;
  std::array<std::string, 8> hex;  // original, rot90, ..., flipminus1
};

std::vector<GoldenRow> load_golden();          // fails the test (ADD_FAILURE) when missing
Image decode_golden(const std::string& file);  // decoded as `hashmatch hash` does

}  // namespace hashmatch::pdq::test
