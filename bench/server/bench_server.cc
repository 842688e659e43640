// bench_server: an HTTP load generator for `hashmatch serve` (loopback only).
//
// Closed loop (default): `--connections N` clients, each with one keep-alive connection and one
// request outstanding, for `--seconds S`: the server's saturation throughput.
// Open loop (`--rate R`): requests are scheduled at fixed intervals (1/R) and handed to a pool of
// `--connections N` clients; latency is measured from the *scheduled* send time, so a server that
// falls behind is charged for the queueing it causes (no coordinated omission).
//
// The request bodies are the files given (media for /v1/hash and /v1/match, read into memory once
// and sent round-robin) or, for /v1/match/hashes, generated JSON with `--hashes-per-request` random
// PDQ hashes. Prints one JSON object: requests, responses by status, throughput (successful
// requests/s and items/s), latency percentiles of successful requests (seconds).
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string host = "127.0.0.1";
  int port = 0;
  std::string endpoint = "/v1/hash";
  std::string token;
  int connections = 16;
  double seconds = 10;
  double warmup = 1;
  double rate = 0;  // 0: closed loop
  int hashes_per_request = 0;
  uint64_t seed = 1;
  std::vector<std::string> files;
};

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "bench_server: %s\n"
               "usage: bench_server --port P [--host 127.0.0.1] [--endpoint /v1/hash]\n"
               "         [--token T] [--connections N] [--seconds S] [--warmup S] [--rate R]\n"
               "         [--hashes-per-request K] [--seed N] [FILE|DIR ...]\n",
               why);
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) usage(("missing value after " + a).c_str());
      return argv[++i];
    };
    if (a == "--host")
      o.host = next();
    else if (a == "--port")
      o.port = std::stoi(next());
    else if (a == "--endpoint")
      o.endpoint = next();
    else if (a == "--token")
      o.token = next();
    else if (a == "--connections")
      o.connections = std::stoi(next());
    else if (a == "--seconds")
      o.seconds = std::stod(next());
    else if (a == "--warmup")
      o.warmup = std::stod(next());
    else if (a == "--rate")
      o.rate = std::stod(next());
    else if (a == "--hashes-per-request")
      o.hashes_per_request = std::stoi(next());
    else if (a == "--seed")
      o.seed = std::stoull(next());
    else if (a.rfind("--", 0) == 0)
      usage(("unknown option " + a).c_str());
    else
      o.files.push_back(a);
  }
  if (o.port <= 0) usage("--port is required");
  if (o.host != "127.0.0.1" && o.host != "localhost" && o.host != "::1") {
    usage("loopback only (--host 127.0.0.1)");
  }
  if (o.connections < 1) usage("--connections must be >= 1");
  return o;
}

std::vector<std::string> load_bodies(const Options& o, int* items_per_request) {
  std::vector<std::string> bodies;
  *items_per_request = 1;
  if (o.hashes_per_request > 0) {
    std::mt19937_64 rng(o.seed);
    for (int b = 0; b < 16; ++b) {
      nlohmann::json j;
      j["hashes"] = nlohmann::json::array();
      for (int k = 0; k < o.hashes_per_request; ++k) {
        char hex[65];
        for (int w = 0; w < 4; ++w)
          std::snprintf(hex + 16 * w, 17, "%016llx", (unsigned long long)rng());
        j["hashes"].push_back(std::string(hex, 64));
      }
      bodies.push_back(j.dump());
    }
    *items_per_request = o.hashes_per_request;
    return bodies;
  }
  std::vector<std::filesystem::path> paths;
  for (const std::string& f : o.files) {
    if (std::filesystem::is_directory(f)) {
      for (const auto& e : std::filesystem::recursive_directory_iterator(f)) {
        if (e.is_regular_file()) paths.push_back(e.path());
      }
    } else {
      paths.push_back(f);
    }
  }
  std::sort(paths.begin(), paths.end());
  for (const auto& p : paths) {
    std::ifstream in(p, std::ios::binary);
    bodies.emplace_back((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }
  if (bodies.empty()) usage("no request bodies: give media files or --hashes-per-request");
  return bodies;
}

struct Stats {
  std::mutex mu;
  std::vector<double> latencies;  // successful requests, seconds
  std::map<int, uint64_t> by_status;
  uint64_t transport_errors = 0;
  void add(int status, double secs) {
    std::lock_guard<std::mutex> lk(mu);
    ++by_status[status];
    if (status == 200) latencies.push_back(secs);
  }
  void error() {
    std::lock_guard<std::mutex> lk(mu);
    ++transport_errors;
  }
};

double percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  const std::size_t k = std::min(v.size() - 1, static_cast<std::size_t>(p * (v.size() - 1) + 0.5));
  std::nth_element(v.begin(), v.begin() + static_cast<long>(k), v.end());
  return v[k];
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  int items = 1;
  const std::vector<std::string> bodies = load_bodies(o, &items);
  const std::string ctype =
      o.hashes_per_request > 0 ? "application/json" : "application/octet-stream";
  httplib::Headers headers;
  if (!o.token.empty()) headers.emplace("Authorization", "Bearer " + o.token);

  Stats stats;
  std::atomic<uint64_t> next{0};
  std::atomic<bool> measuring{false};
  const auto start = Clock::now();
  const auto measure_from =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.warmup));
  const auto stop_at = measure_from + std::chrono::duration_cast<Clock::duration>(
                                          std::chrono::duration<double>(o.seconds));
  auto worker = [&] {
    httplib::Client cli(o.host, o.port);
    cli.set_keep_alive(true);
    cli.set_read_timeout(60, 0);
    cli.set_write_timeout(60, 0);
    cli.set_connection_timeout(10, 0);
    for (;;) {
      const uint64_t i = next.fetch_add(1);
      Clock::time_point scheduled = Clock::now();
      if (o.rate > 0) {
        scheduled = start + std::chrono::duration_cast<Clock::duration>(
                                std::chrono::duration<double>(static_cast<double>(i) / o.rate));
        if (scheduled >= stop_at) return;
        std::this_thread::sleep_until(scheduled);
      } else if (scheduled >= stop_at) {
        return;
      }
      const std::string& body = bodies[i % bodies.size()];
      auto res = cli.Post(o.endpoint.c_str(), headers, body, ctype.c_str());
      const auto done = Clock::now();
      if (scheduled < measure_from) continue;  // warm-up
      measuring = true;
      if (!res) {
        stats.error();
        cli.stop();
        continue;
      }
      stats.add(res->status, std::chrono::duration<double>(done - scheduled).count());
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < o.connections; ++t) threads.emplace_back(worker);
  for (auto& t : threads) t.join();
  const double elapsed =
      std::chrono::duration<double>(std::min(Clock::now(), stop_at) - measure_from).count();

  std::vector<double> lat = stats.latencies;
  const double ok = static_cast<double>(lat.size());
  nlohmann::json out;
  out["endpoint"] = o.endpoint;
  out["mode"] = o.rate > 0 ? "open" : "closed";
  out["connections"] = o.connections;
  if (o.rate > 0) out["offered_rate"] = o.rate;
  out["seconds"] = elapsed;
  out["bodies"] = bodies.size();
  out["items_per_request"] = items;
  nlohmann::json st = nlohmann::json::object();
  uint64_t total = 0;
  for (const auto& [code, n] : stats.by_status) {
    st[std::to_string(code)] = n;
    total += n;
  }
  out["responses"] = st;
  out["transport_errors"] = stats.transport_errors;
  out["requests"] = total;
  out["ok_per_second"] = elapsed > 0 ? ok / elapsed : 0;
  out["items_per_second"] = elapsed > 0 ? ok * items / elapsed : 0;
  out["latency_seconds"] = {{"p50", percentile(lat, 0.50)},
                            {"p90", percentile(lat, 0.90)},
                            {"p99", percentile(lat, 0.99)},
                            {"max", lat.empty() ? 0 : *std::max_element(lat.begin(), lat.end())}};
  std::printf("%s\n", out.dump().c_str());
  return 0;
}
