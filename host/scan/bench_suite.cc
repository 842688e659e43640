#include "host/scan/bench_suite.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>

#include <algorithm>
#include <atomic>
#include <cstdarg>
#include <chrono>
#include <cmath>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "host/common/error.h"
#include "host/common/parallel.h"
#include "host/image/decode.h"
#include "host/image/encode_jpeg.h"
#include "host/match/matcher.h"
#include "host/pdq/pdq.h"
#include "host/scan/output.h"
#include "host/scan/pdq_stage.h"
#include "host/scan/scanner.h"
#include "host/version.h"
#include "kernels/rt/device.h"
#if HM_SCAN_WITH_GPU_PDQ
#include "host/pdq/pdq_backend.h"
#include "kernels/pdq/gpu_pdq.h"
#endif
#if HM_SCAN_WITH_VIDEO
#include "video/synth_clip.h"
#endif

namespace hashmatch::scan {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// CPU time (user + system) of this process so far, all threads: per-core figures that hold on a
// machine shared with other work.
double cpu_seconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

double since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

void log(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void log(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  std::fprintf(stderr, "bench: ");
  std::vfprintf(stderr, fmt, ap);
  std::fprintf(stderr, "\n");
  va_end(ap);
}

uint64_t splitmix64(uint64_t& s) {
  uint64_t z = (s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

std::vector<Hash256> random_hashes(std::size_t n, uint64_t seed) {
  std::vector<Hash256> v(n);
  uint64_t s = seed;
  for (Hash256& h : v) {
    for (uint64_t& w : h.w) w = splitmix64(s);
  }
  return v;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[static_cast<std::size_t>(p * double(v.size() - 1) + 0.5)];
}

std::string exe_dir() {
  char buf[4096];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return ".";
  buf[n] = 0;
  return fs::path(buf).parent_path().string();
}

std::string cpu_model() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("model name", 0) == 0) {
      const auto c = line.find(':');
      if (c != std::string::npos) return line.substr(c + 2);
    }
  }
  return "unknown";
}

// Runs argv (argv[0] a path) with stdout to `out_file` (stderr passes through), killing it after
// `timeout` seconds. Returns the exit code, 124 on timeout, 127 when it could not start.
int run_child(const std::vector<std::string>& argv, const std::string& out_file, double timeout) {
  const pid_t pid = ::fork();
  if (pid < 0) return 127;
  if (pid == 0) {
    if (!out_file.empty()) {
      const int fd = ::open(out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd >= 0) ::dup2(fd, 1);
    }
    std::vector<char*> a;
    std::vector<std::string> copy = argv;
    for (auto& s : copy) a.push_back(s.data());
    a.push_back(nullptr);
    ::execvp(a[0], a.data());
    ::_exit(127);
  }
  const auto t0 = Clock::now();
  for (;;) {
    int st = 0;
    const pid_t r = ::waitpid(pid, &st, WNOHANG);
    if (r == pid) return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    if (r < 0 && errno != EINTR) return 127;
    if (since(t0) > timeout) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &st, 0);
      return 124;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

nlohmann::json read_json_file(const std::string& p) {
  std::ifstream f(p);
  if (!f) return nullptr;
  std::stringstream ss;
  ss << f.rdbuf();
  const std::string text = ss.str();
  // The last JSON object in the file (scripts may print progress lines first).
  for (std::size_t pos = text.rfind("\n{"); ; pos = text.rfind("\n{", pos - 1)) {
    const std::size_t start = pos == std::string::npos ? 0 : pos + 1;
    nlohmann::json j = nlohmann::json::parse(text.substr(start), nullptr, false);
    if (!j.is_discarded()) return j;
    if (pos == std::string::npos || pos == 0) break;
  }
  return nlohmann::json::parse(text, nullptr, false).is_discarded() ? nlohmann::json(nullptr)
                                                                     : nlohmann::json::parse(text);
}

bool python_has(const std::string& module) {
  return run_child({"python3", "-c", "import " + module}, "/dev/null", 120) == 0;
}

// ---- generated media --------------------------------------------------------------------------

// A procedural RGB image with structure at several scales (gradients, rings, blocks), distinct for
// every seed: what PDQ sees in a photo-like frame, without any third-party content.
Image make_image(int w, int h, uint32_t seed) {
  std::mt19937 rng(seed);
  const double fx = 1 + rng() % 9, fy = 1 + rng() % 7, cx = w * (0.2 + 0.6 * (rng() % 100) / 100.0),
               cy = h * (0.2 + 0.6 * (rng() % 100) / 100.0), ring = 20 + rng() % 90;
  const int block = 16 + rng() % 96;
  const uint8_t pal[3] = {uint8_t(rng()), uint8_t(rng()), uint8_t(rng())};
  Image img;
  img.width = w;
  img.height = h;
  img.channels = 3;
  img.pixels.resize(std::size_t(w) * h * 3);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      const double dx = x - cx, dy = y - cy;
      const int r = static_cast<int>(std::sqrt(dx * dx + dy * dy) / ring);
      const int g = (x * int(fx) * 255 / w + y * int(fy) * 255 / h) & 255;
      const int b = ((x / block + y / block) & 1) * 90;
      uint8_t* p = &img.pixels[(std::size_t(y) * w + x) * 3];
      p[0] = static_cast<uint8_t>((g + pal[0] + (r & 1) * 60) & 255);
      p[1] = static_cast<uint8_t>((b + pal[1] + g / 2) & 255);
      p[2] = static_cast<uint8_t>(((r * 37) + pal[2] + b) & 255);
    }
  }
  return img;
}

std::pair<int, int> parse_size(const std::string& s) {
  const auto x = s.find('x');
  if (x == std::string::npos) throw InvalidArgument("size must be WxH, got '" + s + "'");
  return {std::stoi(s.substr(0, x)), std::stoi(s.substr(x + 1))};
}

// ---- matcher ----------------------------------------------------------------------------------

nlohmann::json bench_matcher(const BenchOptions& o, const std::vector<std::size_t>& sizes,
                             const std::vector<std::size_t>& batches, double budget,
                             const std::vector<Backend>& backends) {
  nlohmann::json rows = nlohmann::json::array();
  const std::size_t max_batch = *std::max_element(batches.begin(), batches.end());
  constexpr int kThreshold = 31;
  constexpr double kMaxCall = 20.0;
  for (const std::size_t n : sizes) {
    log("matcher: list of %zu random hashes", n);
    const std::vector<Hash256> list = random_hashes(n, 1000 + n);
    // Queries: even positions near-duplicates of list entries (0..31 bits flipped), odd random.
    std::vector<Hash256> queries = random_hashes(max_batch, 77);
    uint64_t s = 99;
    for (std::size_t q = 0; q < max_batch; q += 2) {
      Hash256 h = list[splitmix64(s) % n];
      const int flips = static_cast<int>(splitmix64(s) % (kThreshold + 1));
      for (int f = 0; f < flips; ++f) {
        const int bit = static_cast<int>(splitmix64(s) % 256);
        h.w[bit >> 6] ^= uint64_t{1} << (bit & 63);
      }
      queries[q] = h;
    }
    for (const Backend be : backends) {
      if (be == Backend::kCpu && n > 10'000'000 && backends.size() > 1) {
        rows.push_back({{"backend", "cpu"}, {"list_size", n},
                        {"skipped", "CPU matcher measured up to 10 M entries on a GPU machine"}});
        continue;
      }
      MatcherOptions mo;
      mo.backend = be;
      mo.threads = o.jobs;
      const auto t0 = Clock::now();
      std::unique_ptr<PdqMatcher> m;
      try {
        m = make_pdq_matcher(list, mo);
      } catch (const std::exception& e) {
        rows.push_back({{"backend", std::string(backend_name(be))}, {"list_size", n},
                        {"skipped", e.what()}});
        continue;
      }
      const double build_s = since(t0);
      double per_query = 0;
      for (const std::size_t b : batches) {
        if (per_query > 0 && per_query * double(b) > kMaxCall) {
          rows.push_back({{"backend", m->backend()}, {"list_size", n}, {"batch", b},
                          {"skipped", "estimated call time over the limit"}});
          continue;
        }
        std::vector<double> times;
        std::vector<PdqHit> hits;
        const auto tb = Clock::now();
        std::size_t found = 0;
        while (times.empty() || (since(tb) < budget && times.size() < 200)) {
          hits.clear();
          const auto tc = Clock::now();
          m->range_search(std::span<const Hash256>(queries.data(), b), kThreshold, hits);
          times.push_back(since(tc));
          if (times.size() == 1) {
            std::vector<bool> q_hit(b, false);
            for (const PdqHit& h : hits) q_hit[h.query] = true;
            for (std::size_t q = 0; q < b; q += 2) found += q_hit[q];
          }
        }
        const double p50 = percentile(times, 0.5);
        per_query = p50 / double(b);
        const std::size_t expected = (b + 1) / 2;
        rows.push_back({{"backend", m->backend()},
                        {"detail", m->detail()},
                        {"list_size", n},
                        {"batch", b},
                        {"repeats", times.size()},
                        {"p50_s", p50},
                        {"p99_s", percentile(times, 0.99)},
                        {"queries_per_s", double(b) / p50},
                        {"comparisons_per_s", double(n) * double(b) / p50},
                        {"build_s", build_s},
                        {"near_duplicates", expected},
                        {"near_duplicates_found", found},
                        {"correct", found == expected}});
        log("matcher: %-10s n=%-10zu batch=%-5zu p50 %9.3f ms  %10.1f q/s%s", m->backend().c_str(),
            n, b, p50 * 1e3, double(b) / p50, found == expected ? "" : "  MISSED NEAR-DUPLICATES");
      }
    }
  }
  return rows;
}

// ---- PDQ hashing of frames --------------------------------------------------------------------

nlohmann::json bench_pdq(const BenchOptions& o, const std::vector<std::string>& sizes, double budget,
                         bool gpu) {
  nlohmann::json rows = nlohmann::json::array();
  const int threads = o.jobs > 0 ? o.jobs : default_jobs();
  for (const std::string& sz : sizes) {
    const auto [w, h] = parse_size(sz);
    std::vector<Image> frames;
    for (int i = 0; i < 8; ++i) frames.push_back(make_image(w, h, 300 + i));
    const double mp = double(w) * h / 1e6;
    double cpu_per_cpu_second = 0;  // of the last cpu_rate() call
    auto cpu_rate = [&](int nthreads) {
      std::atomic<bool> stop{false};
      std::atomic<uint64_t> done{0};
      std::vector<std::thread> ts;
      const auto t0 = Clock::now();
      const double c0 = cpu_seconds();
      for (int t = 0; t < nthreads; ++t) {
        ts.emplace_back([&, t] {
          pdq::PdqHasher hasher;
          uint64_t k = 0;
          for (std::size_t i = t % frames.size(); !stop.load(std::memory_order_relaxed);
               i = (i + 1) % frames.size()) {
            (void)hasher.hash(frames[i]);
            ++k;
          }
          done += k;
        });
      }
      std::this_thread::sleep_for(std::chrono::duration<double>(budget));
      stop = true;
      for (auto& th : ts) th.join();
      const double cpu = cpu_seconds() - c0;
      cpu_per_cpu_second = cpu > 0 ? double(done.load()) / cpu : 0.0;
      return double(done.load()) / since(t0);
    };
    const double one = cpu_rate(1);
    rows.push_back({{"backend", "cpu"}, {"threads", 1}, {"size", sz}, {"images_per_s", one},
                    {"megapixels_per_s", one * mp}, {"images_per_cpu_second", cpu_per_cpu_second}});
    log("pdq: cpu, 1 thread, %s: %.1f images/s", sz.c_str(), one);
    if (threads > 1) {
      const double all = cpu_rate(threads);
      rows.push_back({{"backend", "cpu"}, {"threads", threads}, {"size", sz}, {"images_per_s", all},
                      {"megapixels_per_s", all * mp}, {"images_per_cpu_second", cpu_per_cpu_second}});
      log("pdq: cpu, %d threads, %s: %.1f images/s", threads, sz.c_str(), all);
    }
#if HM_SCAN_WITH_GPU_PDQ
    if (gpu) {
      try {
        pdq::register_gpu_backend();
        auto hasher = pdq::make_batch_hasher(pdq::BackendKind::kCuda, pdq::BatchOptions{});
        for (const std::size_t batch : {16ul, 256ul}) {
          std::vector<const Image*> ptrs;
          for (std::size_t i = 0; i < batch; ++i) ptrs.push_back(&frames[i % frames.size()]);
          (void)hasher->hash_images(ptrs, false);  // warm-up (buffers)
          std::vector<double> times;
          const auto tb = Clock::now();
          while (times.size() < 3 || (since(tb) < budget && times.size() < 100)) {
            const auto tc = Clock::now();
            (void)hasher->hash_images(ptrs, false);
            times.push_back(since(tc));
          }
          const double r = double(batch) / percentile(times, 0.5);
          rows.push_back({{"backend", "cuda"}, {"detail", hasher->description()}, {"size", sz},
                          {"batch", batch}, {"source", "host memory (decoded images)"},
                          {"images_per_s", r}, {"megapixels_per_s", r * mp}});
          log("pdq: cuda, batch %zu, %s: %.1f images/s", batch, sz.c_str(), r);
        }
      } catch (const std::exception& e) {
        rows.push_back({{"backend", "cuda"}, {"size", sz}, {"skipped", e.what()}});
      }
    }
#else
    (void)gpu;
#endif
  }
  return rows;
}

// ---- end-to-end scan --------------------------------------------------------------------------

// The scan's list: a PdqMatcher over random hashes plus planted ones (no SQLite: a 100 M-entry
// list is built in memory in seconds).
class BenchMatcher : public ScanMatcher {
 public:
  BenchMatcher(std::vector<Hash256> list, Backend be, int threads) {
    MatcherOptions mo;
    mo.backend = be;
    mo.threads = threads;
    n_ = list.size();
    m_ = make_pdq_matcher(std::move(list), mo);
  }
  void match(std::span<ScanItem* const> items, bool) override {
    std::vector<Hash256> q;
    std::vector<ScanItem*> owner;
    for (ScanItem* it : items) {
      it->matches = nlohmann::json::array();
      if (it->result.pdq && it->result.ok()) {
        q.push_back(it->result.pdq->hashes[0]);
        owner.push_back(it);
      }
    }
    std::vector<PdqHit> hits;
    m_->range_search(q, 31, hits);
    for (const PdqHit& h : hits) {
      owner[h.query]->matches.push_back({{"list", "bench"}, {"id", "e" + std::to_string(h.index)},
                                         {"algo", "pdq"}, {"distance", h.distance}});
    }
  }
  std::size_t batch_size() const override { return 4096; }
  nlohmann::json describe() const override {
    return {{"entries", n_}, {"pdq_matcher", m_->backend()}};
  }
  std::string backend() const { return m_->backend(); }

 private:
  std::size_t n_ = 0;
  std::unique_ptr<PdqMatcher> m_;
};

struct Backlog {
  std::string dir;           // the files to scan
  std::string distinct_dir;  // one file per distinct image (the anchors read these)
  std::size_t files = 0, distinct = 0;
  std::vector<Hash256> planted;  // PDQ of the planted distinct images
  std::size_t planted_files = 0;
  uint64_t bytes = 0;
};

Backlog make_backlog(const std::string& work, std::size_t files, std::size_t distinct, int w, int h,
                     int jobs) {
  Backlog b;
  b.dir = work + "/backlog";
  b.distinct_dir = work + "/distinct";
  b.files = files;
  b.distinct = distinct;
  fs::remove_all(b.dir);
  fs::remove_all(b.distinct_dir);
  fs::create_directories(b.distinct_dir);
  std::vector<std::vector<uint8_t>> jpegs(distinct);
  std::vector<Hash256> hashes(distinct);
  log("scan: generating %zu distinct %dx%d JPEGs (quality 90)", distinct, w, h);
  ordered_parallel_map<int>(
      distinct, jobs,
      [&](std::size_t i) {
        const Image img = make_image(w, h, 5000 + static_cast<uint32_t>(i));
        jpegs[i] = encode_jpeg(img, JpegEncodeOptions{.quality = 90});
        pdq::PdqHasher hasher;
        hashes[i] = hasher.hash(decode_image(jpegs[i], DecodeLimits{})).hash;
        return 0;
      },
      [](std::size_t, int&) {});
  char name[64];
  for (std::size_t i = 0; i < distinct; ++i) {
    std::snprintf(name, sizeof name, "/img%06zu.jpg", i);
    std::ofstream(b.distinct_dir + name, std::ios::binary)
        .write(reinterpret_cast<const char*>(jpegs[i].data()), std::streamsize(jpegs[i].size()));
    if (i % 8 == 0) b.planted.push_back(hashes[i]);
  }
  // The backlog: `files` paths over 16 folders; file k holds distinct image k % distinct (a hard
  // link, so a large backlog costs no disk; reads come from the page cache, as on a warm store).
  for (std::size_t k = 0; k < files; ++k) {
    const std::size_t i = k % distinct;
    char dir[32];
    std::snprintf(dir, sizeof dir, "/d%02zu", k % 16);
    fs::create_directories(b.dir + dir);
    std::snprintf(name, sizeof name, "/f%07zu.jpg", k);
    const std::string src = b.distinct_dir + "/img" + [&] {
      char x[32];
      std::snprintf(x, sizeof x, "%06zu.jpg", i);
      return std::string(x);
    }();
    std::error_code ec;
    fs::create_hard_link(src, b.dir + dir + name, ec);
    if (ec) fs::copy_file(src, b.dir + dir + name, ec);
    b.bytes += jpegs[i].size();
    if (i % 8 == 0) ++b.planted_files;
  }
  return b;
}

nlohmann::json bench_scan(const BenchOptions& o, const Backlog& bl, std::size_t list_size,
                          bool gpu, const std::string& work) {
  nlohmann::json rows = nlohmann::json::array();
  const int all = o.jobs > 0 ? o.jobs : default_jobs();
  std::vector<Hash256> list = random_hashes(list_size, 4242);
  list.insert(list.end(), bl.planted.begin(), bl.planted.end());
  struct Config {
    std::string name;
    int jobs;
    std::string backend;  // PDQ stage backend
    std::string jpeg;     // cpu | gpu
    Backend matcher;
  };
  // On a GPU machine the list is large (100 M): every configuration matches on the GPU, the CPU
  // ones measure CPU hashing.
  const Backend cpu_cfg_matcher = gpu ? Backend::kCuda : Backend::kCpu;
  std::vector<std::pair<std::string, Config>> all_configs = {
      {"cpu1", {"cpu, 1 worker", 1, "cpu", "cpu", cpu_cfg_matcher}},
      {"cpu", {"cpu, all workers", all, "cpu", "cpu", cpu_cfg_matcher}}};
  if (gpu) {
    all_configs.push_back({"gpu", {"gpu (CPU decode, GPU PDQ + matcher)", all, "cuda", "cpu", Backend::kCuda}});
    all_configs.push_back({"nvjpeg", {"gpu (nvJPEG decode, GPU PDQ + matcher)", all, "cuda", "gpu", Backend::kCuda}});
  }
  std::vector<Config> configs;
  for (const auto& [key, c] : all_configs) {
    if (o.scan_configs.empty() ||
        std::find(o.scan_configs.begin(), o.scan_configs.end(), key) != o.scan_configs.end()) {
      configs.push_back(c);
    }
  }
  std::unique_ptr<BenchMatcher> cpu_matcher, gpu_matcher;
  for (const Config& c : configs) {
    nlohmann::json row{{"config", c.name}, {"jobs", c.jobs}, {"files", bl.files},
                       {"distinct_images", bl.distinct}, {"list_size", list.size()},
                       {"width", o.scan_width}, {"height", o.scan_height}};
    try {
      std::unique_ptr<BenchMatcher>& mref = c.matcher == Backend::kCuda ? gpu_matcher : cpu_matcher;
      if (!mref) {
        log("scan: building the %s matcher over %zu entries", std::string(backend_name(c.matcher)).c_str(),
            list.size());
        const auto t0 = Clock::now();
        mref = std::make_unique<BenchMatcher>(list, c.matcher, all);
        row["matcher_build_s"] = since(t0);
      }
      PdqStageOptions so;
      so.backend = c.backend;
      so.jpeg_decoder = c.jpeg;
      std::string why;
      std::unique_ptr<BatchPdqStage> stage = make_pdq_stage(so, &why);
      ScanOptions sopts;
      sopts.paths = {bl.dir};
      sopts.output = work + "/scan-out.jsonl";
      sopts.jobs = c.jobs;
      sopts.progress = ProgressMode::kOff;
      log("scan: %s, %zu files", c.name.c_str(), bl.files);
      const double cpu0 = cpu_seconds();
      const ScanReport rep = run_scan(sopts, mref.get(), stage.get());
      const double cpu_s = cpu_seconds() - cpu0;
      const double secs = rep.session_seconds;
      const double ips = double(rep.counters.images) / secs;
      row["backend"] = stage ? stage->describe() : why;
      row["matcher"] = mref->backend();
      row["seconds"] = secs;
      row["images_per_s"] = ips;
      row["images_per_s_per_core"] = c.jobs > 0 ? ips / std::min(c.jobs, all) : ips;
      row["mb_per_s"] = double(rep.counters.bytes) / 1e6 / secs;
      row["cpu_seconds"] = cpu_s;
      row["images_per_cpu_second"] = cpu_s > 0 ? double(rep.counters.images) / cpu_s : 0.0;
      row["failed"] = rep.counters.failed;
      row["matched"] = rep.counters.matched;
      row["planted_files"] = bl.planted_files;
      row["correct"] = rep.counters.matched == bl.planted_files && rep.counters.failed == 0;
      log("scan: %s: %.1f images/s (%.1f MB/s), %.1f images per CPU-second, matched %llu of %zu "
          "planted", c.name.c_str(), ips, double(rep.counters.bytes) / 1e6 / secs,
          cpu_s > 0 ? double(rep.counters.images) / cpu_s : 0.0,
          (unsigned long long)rep.counters.matched, bl.planted_files);
    } catch (const std::exception& e) {
      row["skipped"] = e.what();
      log("scan: %s skipped: %s", c.name.c_str(), e.what());
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

std::string today() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d", &tm);
  return buf;
}

std::string slug(std::string s) {
  std::string out;
  for (char c : s) {
    if (std::isalnum(static_cast<unsigned char>(c))) {
      out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    } else if (!out.empty() && out.back() != '-') {
      out.push_back('-');
    }
  }
  while (!out.empty() && out.back() == '-') out.pop_back();
  return out;
}

}  // namespace

nlohmann::json run_bench(const BenchOptions& in) {
  BenchOptions o = in;
  const bool q = o.quick;
  if (o.list_sizes.empty()) o.list_sizes = q ? std::vector<std::size_t>{10'000, 100'000, 1'000'000}
                                             : std::vector<std::size_t>{100'000, 1'000'000, 10'000'000};
  if (o.batches.empty()) o.batches = q ? std::vector<std::size_t>{1, 16, 256}
                                       : std::vector<std::size_t>{1, 16, 256, 4096};
  if (o.frame_sizes.empty()) o.frame_sizes = {"640x480", "1920x1080"};
  if (o.seconds <= 0) o.seconds = q ? 0.5 : 2.0;
  std::string why_none;
  const std::vector<GpuInfo> gpus = list_gpus(&why_none);
  const bool gpu = !gpus.empty();
  if (gpu && !q && in.list_sizes.empty()) o.list_sizes.push_back(100'000'000);
  if (!o.scan_images) o.scan_images = q ? 96 : (gpu ? 20'000 : 1'000);
  if (!o.scan_distinct) o.scan_distinct = std::min<std::size_t>(o.scan_images, q ? 48 : 256);
  if (!o.scan_list_size) o.scan_list_size = q ? 100'000 : (gpu ? 100'000'000 : 10'000'000);
  if (o.tag.empty()) o.tag = gpu ? "gpu-" + slug(gpus[0].name) : "cpu";
  if (o.source_dir.empty()) {
    const char* env = std::getenv("HASHMATCH_SOURCE_DIR");
    o.source_dir = env ? env : HASHMATCH_SOURCE_DIR;
  }
  std::string work = o.work_dir;
  bool remove_work = false;
  if (work.empty()) {
    work = (fs::temp_directory_path() / ("hashmatch-bench-" + std::to_string(::getpid()))).string();
    remove_work = true;
  }
  fs::create_directories(work);
  fs::create_directories(o.report_dir);
  const int cores = static_cast<int>(std::thread::hardware_concurrency());

  nlohmann::json r;
  r["suite"] = "hashmatch-bench";
  r["format"] = 1;
  r["date"] = today();
  r["quick"] = q;
  r["tag"] = o.tag;
  nlohmann::json gl = nlohmann::json::array();
  for (const GpuInfo& g : gpus) {
    gl.push_back({{"name", g.name}, {"memory_bytes", g.total_memory_bytes},
                  {"compute_capability", std::to_string(g.cc_major) + "." + std::to_string(g.cc_minor)},
                  {"multiprocessors", g.multiprocessors}});
  }
  r["machine"] = {{"kind", gpu ? "gpu" : "cpu"},
                  {"cpu", cpu_model()},
                  {"cores", cores},
                  {"jobs", o.jobs > 0 ? o.jobs : default_jobs()},
                  {"gpus", gl},
                  {"no_gpu_reason", gpu ? "" : why_none},
                  {"hashmatch", kVersion},
                  {"cuda_compiled", cuda_compiled()}};
  log("machine: %s, %d cores, %s", cpu_model().c_str(), cores,
      gpu ? gpus[0].name.c_str() : ("no GPU (" + why_none + ")").c_str());

  std::vector<Backend> backends = {Backend::kCpu};
  if (gpu) backends.push_back(Backend::kCuda);
  r["matcher"] = bench_matcher(o, o.list_sizes, o.batches, o.seconds, backends);
  r["pdq_hash"] = bench_pdq(o, o.frame_sizes, o.seconds, gpu);
  const Backlog bl = make_backlog(work, o.scan_images, o.scan_distinct, o.scan_width,
                                  o.scan_height, o.jobs > 0 ? o.jobs : default_jobs());
  r["scan"] = bench_scan(o, bl, o.scan_list_size, gpu, work);

  // vPDQ: our hasher on a generated clip (one thread), the reference beside it.
  std::string clip;
#if HM_SCAN_WITH_VIDEO
  try {
    video::SynthClipSpec spec;
    spec.width = 1280;
    spec.height = 720;
    spec.frames = q ? 90 : 300;
    clip = work + "/clip.mp4";
    video::write_synth_clip(clip, spec);
    HashOptions ho;
    ho.video.seconds_per_hash = 0;  // every frame, as the anchor below
    ho.video.threads = 1;
    ho.video.decoder = "cpu";
    pdq::PdqHasher hasher;
    const auto t0 = Clock::now();
    const MediaHashResult res = hash_media_file(clip, ho, hasher);
    const double secs = since(t0);
    const std::size_t frames = res.vpdq ? res.vpdq->size() : 0;
    r["vpdq"] = {{"clip", "1280x720 H.264, " + std::to_string(spec.frames) + " frames"},
                 {"frames", frames}, {"seconds", secs}, {"frames_per_s", double(frames) / secs},
                 {"threads", 1}, {"error", res.error}};
    log("vpdq: %zu frames in %.2f s: %.1f frames/s (one thread)", frames, secs, double(frames) / secs);
  } catch (const std::exception& e) {
    r["vpdq"] = {{"skipped", e.what()}};
    clip.clear();
  }
#else
  r["vpdq"] = {{"skipped", "video/ not built"}};
#endif

  // Anchors (Python) in the same run.
  nlohmann::json anchors = nlohmann::json::object();
  const std::string ref_script = o.source_dir + "/bench/scan/ref_hashers.py";
  if (!o.anchors) {
    anchors["skipped"] = "--no-anchors";
  } else if (!fs::exists(ref_script)) {
    anchors["skipped"] = "bench/scan/ref_hashers.py not found (use --source-dir)";
  } else {
    log("anchors: reference hashers (pdqhash, vpdq)");
    const std::string out = work + "/ref.json";
    std::vector<std::string> cmd = {"python3", ref_script, "--jpegs", bl.distinct_dir, "--seconds",
                                    std::to_string(o.seconds * 2)};
    if (!clip.empty()) cmd.insert(cmd.end(), {"--clip", clip});
    const int rc = run_child(cmd, out, 1800);
    nlohmann::json j = read_json_file(out);
    if (rc == 0 && j.is_object()) {
      anchors.update(j);
    } else {
      anchors["reference_hashers"] = {{"skipped", "ref_hashers.py exited with " + std::to_string(rc)}};
    }
    // faiss beside our matcher (bench_match + run_faiss_compare.py).
    const std::string faiss_script = o.source_dir + "/bench/match/run_faiss_compare.py";
    const std::string bench_match = exe_dir() + "/bench_match";
    if (!fs::exists(faiss_script) || !fs::exists(bench_match)) {
      anchors["faiss"] = {{"skipped", "bench_match or bench/match/run_faiss_compare.py not found"}};
    } else if (!python_has("faiss")) {
      anchors["faiss"] = {{"skipped", "faiss not installed (pip install faiss-cpu)"}};
    } else {
      log("anchors: faiss beside bench_match");
      std::string sizes, batches;
      for (std::size_t n : o.list_sizes) {
        if (n <= 10'000'000) sizes += (sizes.empty() ? "" : ",") + std::to_string(n);
      }
      for (std::size_t b : o.batches) batches += (batches.empty() ? "" : ",") + std::to_string(b);
      const std::string fout = work + "/faiss.json";
      const int frc = run_child({"python3", faiss_script, "--build", exe_dir(), "--sizes", sizes,
                                 "--batches", batches, "--backends", "cpu-brute,cpu-mih",
                                 "--budget-seconds", std::to_string(o.seconds), "--out", fout},
                                work + "/faiss.log", 3600);
      nlohmann::json fj = read_json_file(fout);
      if (frc == 0 && fj.is_object()) {
        anchors["faiss"] = {{"comparison", fj["comparison"]},
                            {"faiss_version", fj.value("faiss_version", "?")},
                            {"faiss_threads", fj.value("faiss_threads", 0)},
                            {"mismatches", fj.value("mismatches", 0)}};
      } else {
        anchors["faiss"] = {{"skipped", "run_faiss_compare.py exited with " + std::to_string(frc)}};
      }
    }
  }
  r["anchors"] = anchors;

  // Per-area bench executables beside hashmatch, when built: their JSON kept as it is.
  nlohmann::json areas = nlohmann::json::object();
  if (o.areas) {
    struct Area {
      std::string name;                // executable beside hashmatch
      std::vector<std::string> cmd;    // {} : not applicable here (reason in `skip`)
      std::string out;                 // the JSON it writes
      std::string skip;
    };
    const std::string dir = exe_dir();
    // Beside hashmatch, or in its bench/ folder (where some areas put theirs).
    auto where = [&](const std::string& name) {
      for (const std::string& d : {dir, dir + "/bench"}) {
        if (fs::exists(d + "/" + name)) return d + "/" + name;
      }
      return std::string();
    };
    std::vector<Area> list;
    {
      Area a{"bench_pdq_gpu", {}, work + "/bench_pdq_gpu.json", ""};
      if (!gpu) a.skip = "no GPU";
      else a.cmd = {where("bench_pdq_gpu"), "--mode", "frames", "--repeats", q ? "3" : "5", "--json", a.out};
      list.push_back(a);
    }
    {
      Area a{"bench_video", {}, work + "/bench_video.json", ""};
      a.cmd = {where("bench_video"), "--json", a.out, "--codecs", "h264", "--clips", work + "/clips"};
      if (q) a.cmd.insert(a.cmd.end(), {"--seconds", "3", "--streams", "1,2", "--repeats", "1"});
      if (!gpu) a.cmd.insert(a.cmd.end(), {"--decoders", "cpu"});
      list.push_back(a);
    }
    {
      Area a{"bench_server", {}, work + "/bench_server.json", ""};
      const std::string script = o.source_dir + "/bench/server/run_server_bench.py";
      if (!fs::exists(script)) {
        a.skip = "bench/server/run_server_bench.py not found";
      } else {
        a.cmd = {"python3", script, "--build", dir, "--samples", bl.distinct_dir, "--backend",
                 gpu ? "cuda" : "cpu", "--endpoints", "hash,match", "--out", a.out};
        if (q) {
          a.cmd.insert(a.cmd.end(), {"--seconds", "3", "--warmup", "1", "--settings", "16:2ms",
                                     "--connections", "8", "--list-size", "10000"});
        }
      }
      list.push_back(a);
    }
    for (const Area& a : list) {
      if (where(a.name).empty()) {
        areas[a.name] = {{"skipped", "not built"}};
        continue;
      }
      if (!a.skip.empty()) {
        areas[a.name] = {{"skipped", a.skip}};
        continue;
      }
      log("areas: %s", a.name.c_str());
      const int rc = run_child(a.cmd, work + "/" + a.name + ".log", 1800);
      nlohmann::json j = read_json_file(a.out);
      areas[a.name] = (rc == 0 && !j.is_null())
                          ? j
                          : nlohmann::json{{"skipped", "exited with " + std::to_string(rc) +
                                                           " (log: " + a.name + ".log)"}};
    }
  } else {
    areas["skipped"] = "--no-areas";
  }
  r["areas"] = areas;

  const std::string results = o.report_dir + "/results-" + o.tag + ".json";
  std::ofstream(results) << r.dump(2) << "\n";
  log("wrote %s", results.c_str());
  if (o.report) {
    const std::string script = o.source_dir + "/bench/report.py";
    if (!fs::exists(script)) {
      log("report: bench/report.py not found (use --source-dir); JSON only");
    } else {
      const int rc = run_child({"python3", script, o.report_dir}, "", 600);
      if (rc != 0) log("report: bench/report.py exited with %d (pip install matplotlib?)", rc);
    }
  }
  if (remove_work) {
    std::error_code ec;
    fs::remove_all(work, ec);
  }
  return r;
}

}  // namespace hashmatch::scan
