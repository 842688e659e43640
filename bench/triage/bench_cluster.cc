// Clustering capacity: N PDQ hashes (random, with planted near-duplicate groups) clustered
// all-pairs at threshold t, on the chosen backend/index. Prints and writes JSON.
//   bench_cluster [--n N] [--threshold T] [--backend auto|cpu|cuda] [--index auto|brute|mih]
//                 [--dup-fraction F] [--seed S] [--json OUT]
#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>

#include "host/triage/cluster.h"
#include "kernels/rt/device.h"

using namespace hashmatch;

int main(int argc, char** argv) {
  std::size_t n = 1'000'000;
  int threshold = 31;
  double dup_fraction = 0.2;
  uint64_t seed = std::random_device{}();
  std::string backend = "auto", index = "auto", json_out;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i], v = argv[i + 1];
    if (a == "--n") n = std::stoull(v);
    else if (a == "--threshold") threshold = std::stoi(v);
    else if (a == "--backend") backend = v;
    else if (a == "--index") index = v;
    else if (a == "--dup-fraction") dup_fraction = std::stod(v);
    else if (a == "--seed") seed = std::stoull(v);
    else if (a == "--json") json_out = v;
    else {
      std::fprintf(stderr, "unknown option %s\n", a.c_str());
      return 2;
    }
  }
  std::mt19937_64 rng(seed);
  std::vector<triage::TriageItem> items(n);
  std::size_t planted = 0;
  for (std::size_t i = 0; i < n; ++i) {
    Hash256 h;
    if (i > 0 && std::uniform_real_distribution<double>(0, 1)(rng) < dup_fraction) {
      h = *items[rng() % i].pdq;  // a near copy of an earlier item
      const int bits = static_cast<int>(rng() % (threshold + 1));
      for (int k = 0; k < bits; ++k) {
        const int b = static_cast<int>(rng() % 256);
        h.w[b >> 6] ^= uint64_t{1} << (b & 63);
      }
      ++planted;
    } else {
      for (auto& w : h.w) w = rng();
    }
    items[i].pdq = h;
    items[i].pdq_quality = 100;
  }
  triage::ClusterOptions o;
  o.threshold = threshold;
  o.matcher.backend = parse_backend(backend);
  o.matcher.cpu_index = parse_cpu_index(index);
  const auto t0 = std::chrono::steady_clock::now();
  const triage::ClusterResult r = triage::cluster_items(items, o);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double pairs = double(n) * double(n);
  std::printf("clustered %zu hashes (t=%d, %zu planted near copies) on %s in %.2f s: %zu clusters, "
              "%.3g all-pairs comparisons/s equivalent\n",
              n, threshold, planted, r.backend.c_str(), secs, r.clusters.size(), pairs / secs);
  if (!json_out.empty()) {
    nlohmann::json j{{"bench", "cluster"}, {"n", n}, {"threshold", threshold}, {"seed", seed},
                     {"planted", planted}, {"backend", r.backend}, {"seconds", secs},
                     {"clusters", r.clusters.size()}, {"all_pairs", pairs},
                     {"all_pairs_per_s", pairs / secs}, {"gpu", gpu_available()}};
    std::ofstream(json_out) << j.dump(2) << "\n";
  }
  return 0;
}
