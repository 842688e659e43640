// Helpers for the hash-list tests: fresh random seeds (printed), random hashes, a brute-force
// oracle, and running the hashmatch binary.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "host/common/hash256.h"
#include "host/lists/hash_value.h"
#include "host/lists/list_store.h"
#include "tests/testutil/testutil.h"  // peak_rss_kib ...

namespace hashmatch::test {

// A fresh seed per test run (HASHMATCH_TEST_SEED overrides), printed so a failure can be replayed.
uint64_t fresh_seed(const char* what);

Hash256 random_hash(std::mt19937_64& rng);
// `h` with exactly `bits` distinct bits flipped.
Hash256 flip_bits(const Hash256& h, int bits, std::mt19937_64& rng);
std::string random_hex(std::mt19937_64& rng, int chars);
// prefix + decimal i (appending; GCC 12 warns falsely about "literal" + std::to_string()).
std::string numbered(const std::string& prefix, long long i);

HashValue pdq_value(const Hash256& h);
NewEntry entry(const HashValue& v, const std::string& id = "", const std::string& category = "");

// Every entry of the list (row order).
std::vector<StoredEntry> all_entries(ListStore& s, const std::string& list);

struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};
// Runs `hashmatch ARGS` (a shell command line fragment) and captures stdout and stderr.
RunResult run_cli(const std::string& args);
std::vector<std::string> split_lines(const std::string& s);

void write_text(const std::string& path, const std::string& text);

}  // namespace hashmatch::test
