#include "tests/testutil/testutil.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <random>

#include "kernels/rt/device.h"

namespace hashmatch::test {

std::filesystem::path testdata_dir() {
  std::filesystem::path p = HASHMATCH_TESTDATA_DIR;
  if (const char* env = std::getenv("HASHMATCH_TESTDATA")) p = env;
  if (!std::filesystem::is_directory(p / "pdq")) {
    ADD_FAILURE() << "reference test data not found at " << p
                  << " (expected ../shared/testdata beside the repository; set HASHMATCH_TESTDATA)";
  }
  return p;
}

TempDir::TempDir() {
  std::random_device rd;
  const auto base = std::filesystem::temp_directory_path();
  for (int attempt = 0; attempt < 100; ++attempt) {
    auto p = base / ("hashmatch-test-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
    if (std::filesystem::create_directory(p)) {
      path_ = p;
      return;
    }
  }
  throw std::runtime_error("cannot create a temporary directory");
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::vector<uint8_t> read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + p.string());
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_file(const std::filesystem::path& p, const std::vector<uint8_t>& data) {
  std::ofstream out(p, std::ios::binary);
  out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
  if (!out) throw std::runtime_error("cannot write " + p.string());
}

void GpuTest::SetUp() {
  std::string why;
  if (list_gpus(&why).empty()) {
    if (gpu_required()) {
      FAIL() << "HASHMATCH_REQUIRE_GPU=1 but no GPU is usable: " << why;
    }
    GTEST_SKIP() << "no GPU: " << why;
  }
}

ScopedEnv::ScopedEnv(const char* name, const char* value) : name_(name) {
  if (const char* old = std::getenv(name)) old_ = old;
  if (value) {
    setenv(name, value, 1);
  } else {
    unsetenv(name);
  }
}

ScopedEnv::~ScopedEnv() {
  if (old_) {
    setenv(name_.c_str(), old_->c_str(), 1);
  } else {
    unsetenv(name_.c_str());
  }
}

namespace {
long status_field(const char* name) {
  std::ifstream f("/proc/self/status");
  std::string line;
  const std::string key = std::string(name) + ":";
  while (std::getline(f, line)) {
    if (line.rfind(key, 0) == 0) return std::strtol(line.c_str() + key.size(), nullptr, 10);
  }
  return -1;
}
}  // namespace

long peak_rss_kib() { return status_field("VmHWM"); }
long current_rss_kib() { return status_field("VmRSS"); }

bool reset_peak_rss() {
  std::ofstream f("/proc/self/clear_refs");
  if (!f) return false;
  f << "5";
  f.flush();
  return static_cast<bool>(f);
}

pid_t spawn(const std::string& binary, const std::vector<std::string>& args, const std::string& out,
            const std::string& err) {
  // Everything the child needs is made before fork: between fork and exec it only calls
  // async-signal-safe functions (the test process may have threads).
  std::string bin = binary;
  std::vector<std::string> copy = args;
  std::vector<char*> argv;
  argv.push_back(bin.data());
  for (auto& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  const bool same = out == err;
  const pid_t pid = ::fork();
  if (pid != 0) return pid;
  if (same) {
    const int fd = ::open(err.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
  } else {
    const int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (o >= 0) ::dup2(o, 1);
    if (e >= 0) ::dup2(e, 2);
  }
  ::execv(bin.c_str(), argv.data());
  ::_exit(127);
}

int wait_exit(pid_t pid) {
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(st) ? WEXITSTATUS(st) : 256 + WTERMSIG(st);
}

}  // namespace hashmatch::test
