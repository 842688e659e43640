// PDQ range-search capacity: lists of random PDQ hashes (sizes configurable), query batches of
// several sizes, each backend asked for by name. Per (backend, list size, batch): build/load time,
// memory per entry, per-call latency p50/p99 over repeats, comparisons/s and queries/s (from the
// median call), and the result set as a count and an order-independent digest, so that runs of
// different backends (and faiss, bench/match/run_faiss_compare.py) can be checked for identity.
// Prints a table and writes JSON.
//
//   bench_match [--sizes 1000000,10000000] [--batches 1,64,1024,8192] [--threshold 31]
//               [--backends cpu-brute,cpu-mih,cuda-b1mma,cuda-popc] [--repeats 20]
//                 (also cpu-brute-popcnt, cpu-brute-avx2, cpu-brute-avx512: one SIMD level;
//                  cpu: the automatic choice)
//               [--budget-seconds 4] [--max-call-seconds 30] [--seed N] [--threads N]
//               [--write-data DIR] [--json OUT] [--strict]
//
// Queries: even positions are near-duplicates of random list entries (0..threshold bits flipped),
// odd positions random; batch b is the first b queries (single-query latency: a different query
// per repeat, from a pool of at least 1,024). --write-data DIR writes, per list size,
// list_<n>.bin (n x 32 bytes, the Hash256 words little-endian: faiss reads them as uint8 codes)
// and queries_<n>.bin, which run_faiss_compare.py loads.
#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "host/common/error.h"
#include "host/match/matcher.h"
#include "kernels/rt/device.h"

using namespace hashmatch;
using Clock = std::chrono::steady_clock;

namespace {

std::vector<std::size_t> parse_sizes(const std::string& s) {
  std::vector<std::size_t> v;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (!item.empty()) v.push_back(std::size_t(std::stod(item)));  // accepts 1e6
  }
  return v;
}

std::vector<std::string> parse_names(const std::string& s) {
  std::vector<std::string> v;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (!item.empty()) v.push_back(item);
  }
  return v;
}

// CPU time of the whole process (all threads): on a shared machine it shows the work a call
// costs, which the wall clock hides behind other processes.
double process_cpu_s() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// Order-independent digest of a result set (the same formula in run_faiss_compare.py).
uint64_t digest(const std::vector<PdqHit>& hits) {
  uint64_t d = 0;
  for (const PdqHit& h : hits) {
    d += splitmix64((uint64_t(h.query) << 32) | h.index) + uint64_t(h.distance);
  }
  return d;
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  }
  return "unknown";
}

std::string now_iso() {
  const std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  const double pos = p * double(v.size() - 1);
  const std::size_t i = std::size_t(pos);
  const double f = pos - double(i);
  return i + 1 < v.size() ? v[i] * (1 - f) + v[i + 1] * f : v.back();
}

struct BackendSpec {
  std::string name;
  MatcherOptions opts;
};

BackendSpec backend_spec(const std::string& name, int threshold, int threads) {
  MatcherOptions o;
  o.expected_threshold = threshold;
  o.threads = threads;
  if (name == "cpu-brute" || name == "cpu-brute-popcnt" || name == "cpu-brute-avx2" ||
      name == "cpu-brute-avx512") {
    o.backend = Backend::kCpu;
    o.cpu_index = CpuIndex::kBrute;
    if (name == "cpu-brute-popcnt") o.cpu_simd = CpuSimd::kScalar;
    if (name == "cpu-brute-avx2") o.cpu_simd = CpuSimd::kAvx2;
    if (name == "cpu-brute-avx512") o.cpu_simd = CpuSimd::kAvx512;
  } else if (name == "cpu-mih") {
    o.backend = Backend::kCpu;
    o.cpu_index = CpuIndex::kMih;
  } else if (name == "cpu") {
    o.backend = Backend::kCpu;
  } else if (name == "cuda-b1mma") {
    o.backend = Backend::kCuda;
    o.gpu_kernel = GpuKernel::kB1Mma;
  } else if (name == "cuda-popc") {
    o.backend = Backend::kCuda;
    o.gpu_kernel = GpuKernel::kPopc;
  } else {
    throw InvalidArgument("unknown backend '" + name +
                          "' (cpu-brute[-popcnt|-avx2|-avx512], cpu-mih, cpu, cuda-b1mma, "
                          "cuda-popc)");
  }
  return {name, o};
}

void write_hashes(const std::filesystem::path& p, const std::vector<Hash256>& v) {
  std::ofstream out(p, std::ios::binary);
  out.write(reinterpret_cast<const char*>(v.data()), std::streamsize(v.size() * sizeof(Hash256)));
  if (!out) throw IoError("cannot write " + p.string());
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::size_t> sizes = {1000000};
  std::vector<std::size_t> batches = {1, 64, 1024, 8192};
  std::vector<std::string> backends = {"cpu-brute", "cpu-mih"};
  int threshold = 31, threads = 0, max_repeats = 20;
  double budget = 4.0, max_call = 30.0;
  uint64_t seed = std::random_device{}();
  std::string json_out, data_dir;
  bool strict = false;  // a backend that cannot be built is an error, not a skip
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "bench_match: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--sizes") sizes = parse_sizes(next());
    else if (a == "--batches") batches = parse_sizes(next());
    else if (a == "--backends") backends = parse_names(next());
    else if (a == "--threshold") threshold = std::stoi(next());
    else if (a == "--threads") threads = std::stoi(next());
    else if (a == "--repeats") max_repeats = std::stoi(next());
    else if (a == "--budget-seconds") budget = std::stod(next());
    else if (a == "--max-call-seconds") max_call = std::stod(next());
    else if (a == "--seed") seed = std::stoull(next());
    else if (a == "--json") json_out = next();
    else if (a == "--write-data") data_dir = next();
    else if (a == "--strict") strict = true;
    else {
      std::fprintf(stderr, "usage: see the comment at the top of bench/match/bench_match.cc\n");
      return 2;
    }
  }
  const std::size_t max_batch = batches.empty() ? 0 : *std::max_element(batches.begin(), batches.end());

  nlohmann::json report;
  report["benchmark"] = "pdq_range_search";
  report["date"] = now_iso();
  report["cpu"] = cpu_model();
  report["hardware_threads"] = std::thread::hardware_concurrency();
  report["seed"] = seed;
  report["threshold"] = threshold;
  nlohmann::json gpus = nlohmann::json::array();
  for (const GpuInfo& g : list_gpus()) {
    gpus.push_back({{"index", g.index}, {"name", g.name}, {"memory_bytes", g.total_memory_bytes},
                    {"cc", std::to_string(g.cc_major) + "." + std::to_string(g.cc_minor)},
                    {"sms", g.multiprocessors}});
  }
  report["gpus"] = gpus;
  report["results"] = nlohmann::json::array();
  std::printf("# seed %llu, threshold %d, cpu %s, %zu GPU(s)\n", (unsigned long long)seed,
              threshold, cpu_model().c_str(), gpus.size());
  std::printf("%-16s %11s %6s %8s %10s %10s %10s %12s %11s %9s %8s %7s %10s\n", "backend",
              "list", "batch", "repeats", "p50_ms", "p99_ms", "build_s", "cmp/s", "queries/s",
              "hits", "B/entry", "digest", "cpu_us/q");

  // (list size, batch) -> (hits, digest) of the first backend measured: every other backend must
  // give the same result set.
  std::map<std::pair<std::size_t, std::size_t>, std::pair<std::size_t, std::string>> first_result;
  int mismatches = 0;
  for (std::size_t n : sizes) {
    std::mt19937_64 rng(seed ^ (n * 0x9e3779b97f4a7c15ull));
    std::vector<Hash256> list(n);
    for (auto& h : list) {
      for (auto& w : h.w) w = rng();
    }
    // At least 1,024 queries: single-query latencies rotate through them.
    std::vector<Hash256> queries(std::max<std::size_t>(max_batch, 1024));
    for (std::size_t q = 0; q < queries.size(); ++q) {
      if (q % 2 == 0 && n > 0) {
        Hash256 h = list[rng() % n];
        const int flips = int(rng() % uint64_t(threshold + 1));
        for (int f = 0; f < flips; ++f) h.w[rng() % 4] ^= uint64_t{1} << (rng() % 64);
        queries[q] = h;
      } else {
        for (auto& w : queries[q].w) w = rng();
      }
    }
    if (!data_dir.empty()) {
      std::filesystem::create_directories(data_dir);
      write_hashes(std::filesystem::path(data_dir) / ("list_" + std::to_string(n) + ".bin"), list);
      write_hashes(std::filesystem::path(data_dir) / ("queries_" + std::to_string(n) + ".bin"),
                   queries);
    }
    for (const std::string& bname : backends) {
      BackendSpec spec;
      try {
        spec = backend_spec(bname, threshold, threads);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_match: %s\n", e.what());
        return 2;
      }
      std::unique_ptr<PdqMatcher> m;
      double build_s = 0;
      try {
        const auto t0 = Clock::now();
        m = make_pdq_matcher(list, spec.opts);
        build_s = std::chrono::duration<double>(Clock::now() - t0).count();
      } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_match: %s on %zu entries: %s (%s)\n", bname.c_str(), n,
                     e.what(), strict ? "error" : "skipped");
        if (strict) return 1;
        continue;
      }
      double per_query_s = 0;  // from the smallest batch, to skip batches that would take too long
      for (std::size_t b : batches) {
        if (per_query_s > 0 && per_query_s * double(b) > max_call) {
          std::fprintf(stderr, "bench_match: %s, %zu entries, batch %zu: ~%.0f s per call, skipped\n",
                       bname.c_str(), n, b, per_query_s * double(b));
          continue;
        }
        const std::span<const Hash256> qs(queries.data(), b);
        std::vector<PdqHit> hits;
        auto t0 = Clock::now();
        m->range_search(qs, threshold, hits);  // warm-up, and the result set
        const double first = std::chrono::duration<double>(Clock::now() - t0).count();
        std::vector<double> times, cpu_times;
        const int reps = std::clamp(int(budget / std::max(first, 1e-6)), 3, max_repeats);
        std::vector<PdqHit> again;
        for (int r = 0; r < reps; ++r) {
          again.clear();
          // Single queries: a different query each repeat (the same one again would find its
          // candidates in the caches); batches: the same batch, checked to give the same result.
          const std::span<const Hash256> rq =
              b == 1 ? std::span<const Hash256>(queries.data() + (r + 1) % queries.size(), 1) : qs;
          const double c0 = process_cpu_s();
          t0 = Clock::now();
          m->range_search(rq, threshold, again);
          times.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
          cpu_times.push_back(process_cpu_s() - c0);
        }
        if (b == 1) {
          again.clear();
          m->range_search(qs, threshold, again);
        }
        if (again.size() != hits.size() || digest(again) != digest(hits)) {
          std::fprintf(stderr, "bench_match: %s: repeated call gave a different result set\n",
                       bname.c_str());
          return 1;
        }
        const double p50 = percentile(times, 0.5), p99 = percentile(times, 0.99);
        per_query_s = p50 / double(b);
        const double cmps = double(n) * double(b) / p50, qps = double(b) / p50;
        const double bpe = n ? double(m->memory_bytes()) / double(n) : 0.0;
        char dg[20];
        std::snprintf(dg, sizeof dg, "%016llx", (unsigned long long)digest(hits));
        const auto key = std::make_pair(n, b);
        const auto res = std::make_pair(hits.size(), std::string(dg));
        if (!first_result.count(key)) first_result[key] = res;
        const bool identical = first_result[key] == res;
        if (!identical) {
          ++mismatches;
          std::fprintf(stderr, "bench_match: RESULT MISMATCH %s, %zu entries, batch %zu\n",
                       bname.c_str(), n, b);
        }
        std::printf("%-16s %11zu %6zu %8d %10.3f %10.3f %10.3f %12.3e %11.1f %9zu %8.1f %.7s %10.1f\n",
                    bname.c_str(), n, b, reps, p50 * 1e3, p99 * 1e3, build_s, cmps, qps,
                    hits.size(), bpe, dg, percentile(cpu_times, 0.5) / double(b) * 1e6);
        std::fflush(stdout);
        report["results"].push_back({{"backend", bname},
                                     {"detail", m->detail()},
                                     {"list_size", n},
                                     {"batch", b},
                                     {"repeats", reps},
                                     {"p50_s", p50},
                                     {"p99_s", p99},
                                     {"min_s", *std::min_element(times.begin(), times.end())},
                                     {"cpu_s_per_call", percentile(cpu_times, 0.5)},
                                     {"cpu_s_per_query", percentile(cpu_times, 0.5) / double(b)},
                                     {"comparisons_per_s", cmps},
                                     {"queries_per_s", qps},
                                     {"build_s", build_s},
                                     {"memory_bytes", m->memory_bytes()},
                                     {"memory_bytes_per_entry", bpe},
                                     {"hits", hits.size()},
                                     {"digest", std::string(dg)},
                                     {"identical_to_first_backend", identical}});
      }
    }
  }
  report["mismatches"] = mismatches;
  if (!json_out.empty()) {
    if (auto parent = std::filesystem::path(json_out).parent_path(); !parent.empty()) {
      std::filesystem::create_directories(parent);
    }
    std::ofstream(json_out) << report.dump(2) << "\n";
  }
  if (mismatches) {
    std::fprintf(stderr, "bench_match: %d result set(s) differ between backends\n", mismatches);
    return 1;
  }
  return 0;
}
