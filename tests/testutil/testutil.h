// Shared test helpers.
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace hashmatch::test {

// ../shared/testdata, read in place (HASHMATCH_TESTDATA overrides the compiled-in path).
// Fails the calling test when the folder is missing: the golden tests must not pass vacuously.
std::filesystem::path testdata_dir();

// A fresh, empty temporary directory, removed by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

// Sets (value non-null) or unsets an environment variable for a scope; the old value comes back
// after.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value);
  ~ScopedEnv();
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  std::string name_;
  std::optional<std::string> old_;
};

std::vector<uint8_t> read_file(const std::filesystem::path& p);
void write_file(const std::filesystem::path& p, const std::vector<uint8_t>& data);

// Peak resident set size of this process in KiB (VmHWM), and a reset of that peak (Linux
// /proc/self/clear_refs "5"); reset returns false when unsupported.
long peak_rss_kib();
long current_rss_kib();
bool reset_peak_rss();

// Runs `binary args...` in a child process, standard output written to `out` (truncated) and
// standard error appended to `err`; when both name the same file, both are appended to it.
// Returns the child's pid (-1 when fork fails).
pid_t spawn(const std::string& binary, const std::vector<std::string>& args, const std::string& out,
            const std::string& err);
// Waits for a child: its exit code, or 256 + the signal that ended it (distinct from an exit code
// such as 130).
int wait_exit(pid_t pid);

// Base fixture of every GPU test: skips with the reason when no GPU is present, and fails
// instead when HASHMATCH_REQUIRE_GPU=1.
class GpuTest : public ::testing::Test {
 protected:
  void SetUp() override;
};

}  // namespace hashmatch::test
