#include "tests/lists/lists_testutil.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace hashmatch::test {

uint64_t fresh_seed(const char* what) {
  uint64_t seed;
  if (const char* env = std::getenv("HASHMATCH_TEST_SEED")) {
    seed = std::strtoull(env, nullptr, 10);
  } else {
    std::random_device rd;
    seed = (uint64_t(rd()) << 32) ^ rd();
  }
  std::printf("[ seed     ] %s: HASHMATCH_TEST_SEED=%llu\n", what,
              static_cast<unsigned long long>(seed));
  ::testing::Test::RecordProperty("seed", std::to_string(seed));
  return seed;
}

Hash256 random_hash(std::mt19937_64& rng) {
  Hash256 h;
  for (auto& w : h.w) w = rng();
  return h;
}

Hash256 flip_bits(const Hash256& h, int bits, std::mt19937_64& rng) {
  Hash256 out = h;
  std::vector<int> idx(Hash256::kBits);
  for (int i = 0; i < Hash256::kBits; ++i) idx[i] = i;
  std::shuffle(idx.begin(), idx.end(), rng);
  for (int i = 0; i < bits; ++i) out.w[idx[i] / 64] ^= uint64_t{1} << (idx[i] % 64);
  return out;
}

std::string random_hex(std::mt19937_64& rng, int chars) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s;
  for (int i = 0; i < chars; ++i) s += kDigits[rng() & 15];
  return s;
}

std::string numbered(const std::string& prefix, long long i) {
  std::string s = prefix;
  s += std::to_string(i);
  return s;
}

HashValue pdq_value(const Hash256& h) { return HashValue::from_hash256(h); }

NewEntry entry(const HashValue& v, const std::string& id, const std::string& category) {
  NewEntry e;
  e.hash = v;
  e.id = id;
  e.labels.category = category;
  return e;
}

std::vector<StoredEntry> all_entries(ListStore& s, const std::string& list) {
  std::vector<StoredEntry> out;
  s.for_each_entry(list, [&](const StoredEntry& e) { out.push_back(e); });
  return out;
}

RunResult run_cli(const std::string& args) {
  char err_path[] = "/tmp/hashmatch-cli-err-XXXXXX";
  const int fd = mkstemp(err_path);
  if (fd >= 0) close(fd);
  const std::string cmd = std::string(HASHMATCH_BINARY) + " " + args + " 2>" + err_path;
  RunResult r;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) r.out.append(buf, n);
  const int st = pclose(p);
  r.exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  std::ifstream ef(err_path);
  std::stringstream ss;
  ss << ef.rdbuf();
  r.err = ss.str();
  std::remove(err_path);
  return r;
}

std::vector<std::string> split_lines(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string l;
  while (std::getline(ss, l)) {
    if (!l.empty()) out.push_back(l);
  }
  return out;
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary);
  f << text;
}

}  // namespace hashmatch::test
