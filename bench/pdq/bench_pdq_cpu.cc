// CPU PDQ hashing throughput on a set of image files: per core (one thread) and on all cores, with
// decode (bytes in memory -> hash; the file system is left out) and without (pixels already
// decoded). Prints a table and writes JSON.
//   bench_pdq_cpu [--threads N] [--seconds S] [--json OUT] FILE_OR_DIR...
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "host/common/parallel.h"
#include "host/image/decode.h"
#include "host/media/media_file.h"
#include "host/pdq/pdq.h"
#include "kernels/rt/device.h"

using namespace hashmatch;
using Clock = std::chrono::steady_clock;

namespace {

struct Sample {
  std::string path;
  std::vector<uint8_t> bytes;
  Image image;
};

// Runs `fn(i)` over the samples round-robin on `threads` threads for at least `seconds`; returns
// items per second.
template <typename Fn>
double throughput(std::size_t n, int threads, double seconds, Fn fn) {
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> done{0};
  std::vector<std::thread> ts;
  const auto t0 = Clock::now();
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&, t] {
      pdq::PdqHasher hasher;
      uint64_t local = 0;
      for (std::size_t i = t % n; !stop.load(std::memory_order_relaxed); i = (i + threads) % n) {
        fn(hasher, i);
        ++local;
      }
      done += local;
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& th : ts) th.join();
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  return double(done) / secs;
}

}  // namespace

int main(int argc, char** argv) {
  int threads = default_jobs();
  double seconds = 3.0;
  std::string json_out;
  std::vector<std::string> inputs;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--threads" && i + 1 < argc) threads = std::atoi(argv[++i]);
    else if (a == "--seconds" && i + 1 < argc) seconds = std::atof(argv[++i]);
    else if (a == "--json" && i + 1 < argc) json_out = argv[++i];
    else inputs.push_back(a);
  }
  std::vector<std::pair<std::string, std::string>> errs;
  std::vector<Sample> samples;
  uint64_t pixels = 0;
  for (const std::string& p : expand_paths(inputs, &errs)) {
    try {
      MediaFile mf = read_media_file(p, DecodeLimits{});
      if (!is_image_format(mf.format)) continue;
      Sample s{p, std::move(mf.bytes), {}};
      s.image = decode_image(s.bytes, DecodeLimits{});
      pixels += s.image.pixel_count();
      samples.push_back(std::move(s));
    } catch (const std::exception&) {
    }
  }
  if (samples.empty()) {
    std::fprintf(stderr, "no decodable images in the inputs\n");
    return 2;
  }
  const double mean_mp = double(pixels) / samples.size() / 1e6;
  auto with_decode = [&](pdq::PdqHasher& h, std::size_t i) {
    const Image img = decode_image(samples[i].bytes, DecodeLimits{});
    (void)h.hash(img);
  };
  auto hash_only = [&](pdq::PdqHasher& h, std::size_t i) { (void)h.hash(samples[i].image); };
  auto dihedral = [&](pdq::PdqHasher& h, std::size_t i) { (void)h.hash_dihedral(samples[i].image); };
  nlohmann::json j;
  j["bench"] = "pdq_cpu";
  j["images"] = samples.size();
  j["mean_megapixels"] = mean_mp;
  j["threads"] = threads;
  j["hardware_threads"] = std::thread::hardware_concurrency();
  j["gpu"] = gpu_available();
  struct Row {
    const char* name;
    double one, all;
  };
  std::vector<Row> rows;
  rows.push_back({"decode+hash", throughput(samples.size(), 1, seconds, with_decode),
                  throughput(samples.size(), threads, seconds, with_decode)});
  rows.push_back({"hash only", throughput(samples.size(), 1, seconds, hash_only),
                  throughput(samples.size(), threads, seconds, hash_only)});
  rows.push_back({"hash+dihedral", throughput(samples.size(), 1, seconds, dihedral),
                  throughput(samples.size(), threads, seconds, dihedral)});
  std::printf("hashmatch CPU PDQ: %zu images, mean %.2f MP, %d threads\n", samples.size(), mean_mp,
              threads);
  std::printf("%-16s %14s %14s %14s\n", "mode", "img/s 1 core", "img/s all", "MP/s 1 core");
  for (const Row& r : rows) {
    std::printf("%-16s %14.1f %14.1f %14.1f\n", r.name, r.one, r.all, r.one * mean_mp);
    j["results"].push_back({{"mode", r.name}, {"images_per_s_one_thread", r.one},
                            {"images_per_s_all_threads", r.all},
                            {"megapixels_per_s_one_thread", r.one * mean_mp}});
  }
  if (!json_out.empty()) std::ofstream(json_out) << j.dump(2) << "\n";
  return 0;
}
