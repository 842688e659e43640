// hashmatch bench: the capacity benchmark suite (host/scan/bench_suite.h) and its report.
#include <cstdio>
#include <sstream>

#include "host/cli/args.h"
#include "host/common/error.h"
#include "host/scan/bench_suite.h"
#include "host/scan/commands.h"

namespace hashmatch::cli {
namespace {

constexpr const char* kUsage =
    "usage: hashmatch bench [--quick] [--report-dir DIR] [--tag NAME] [options]\n"
    "  Runs the capacity suite on this machine (CPU only, or with the GPU when one answers) and\n"
    "  writes DIR/results-TAG.json; bench/report.py then writes DIR/README.md (markdown tables:\n"
    "  ours beside the anchors as ratios) and plots (throughput vs list size, latency vs batch\n"
    "  size, scan images/s) for every results file in DIR, so a CPU run and a GPU run appear side\n"
    "  by side. Parts: matcher (list size x batch size), PDQ of frames, end-to-end scan of\n"
    "  generated 1080p JPEGs against a list of random hashes with planted matches, vPDQ of a\n"
    "  generated clip; anchors in the same run: pdqhash and vpdq (PyPI), faiss (bench_match);\n"
    "  per-area executables beside hashmatch (bench_pdq_gpu, bench_video, bench_server).\n"
    "options:\n"
    "  --quick               small sizes (a 2-core machine: about a minute)\n"
    "  --report-dir DIR      default docs/bench\n"
    "  --tag NAME            results-NAME.json (default: cpu, or gpu-<device name>)\n"
    "  --list-sizes A,B,...  matcher list sizes (1e6 style accepted)\n"
    "  --batches A,B,...     matcher query batch sizes\n"
    "  --frame-sizes WxH,... PDQ frame sizes (default 640x480,1920x1080)\n"
    "  --scan-images N       files in the scan backlog; --scan-distinct N distinct images among\n"
    "                        them (the rest are hard links); --scan-list N list entries;\n"
    "  --scan-size WxH       image size (default 1920x1080)\n"
    "  --scan-configs A,...  scan configurations: cpu1, cpu, gpu, nvjpeg (default: all there)\n"
    "  --seconds S           time budget per measurement\n"
    "  --jobs N              threads (default: all cores)\n"
    "  --source-dir DIR      repository root (bench scripts); default: where it was built from\n"
    "  --work-dir DIR        generated media (default: a temporary folder, removed)\n"
    "  --no-anchors, --no-areas, --no-report\n";

std::vector<std::size_t> sizes(const std::string& s) {
  std::vector<std::size_t> v;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item.empty()) continue;
    char* end = nullptr;
    const double x = std::strtod(item.c_str(), &end);
    if (*end || !(x >= 1)) throw InvalidArgument("bad size '" + item + "'");
    v.push_back(static_cast<std::size_t>(x));
  }
  return v;
}

}  // namespace

int cmd_bench(const std::vector<std::string>& argv) {
  Args a(argv,
         {"report-dir", "tag", "list-sizes", "batches", "frame-sizes", "scan-images",
          "scan-distinct", "scan-list", "scan-size", "scan-configs", "seconds", "jobs", "source-dir",
          "work-dir"},
         {"quick", "no-anchors", "no-areas", "no-report", "help"});
  if (a.flag("help")) {
    std::printf("%s", kUsage);
    return 0;
  }
  if (!a.positional().empty()) throw InvalidArgument("bench takes no positional arguments");
  scan::BenchOptions o;
  o.quick = a.flag("quick");
  o.report_dir = a.get_or("report-dir", "docs/bench");
  o.tag = a.get_or("tag", "");
  if (auto v = a.get("list-sizes")) o.list_sizes = sizes(*v);
  if (auto v = a.get("batches")) o.batches = sizes(*v);
  if (auto v = a.get("frame-sizes")) {
    std::stringstream ss(*v);
    std::string item;
    while (std::getline(ss, item, ',')) o.frame_sizes.push_back(item);
  }
  o.scan_images = static_cast<std::size_t>(a.get_int("scan-images", 0, 0, 100'000'000));
  o.scan_distinct = static_cast<std::size_t>(a.get_int("scan-distinct", 0, 0, 100'000'000));
  o.scan_list_size = static_cast<std::size_t>(a.get_int("scan-list", 0, 0, 2'000'000'000));
  if (auto v = a.get("scan-size")) {
    const auto x = v->find('x');
    if (x == std::string::npos) throw InvalidArgument("--scan-size must be WxH");
    o.scan_width = std::stoi(v->substr(0, x));
    o.scan_height = std::stoi(v->substr(x + 1));
  }
  if (auto v = a.get("scan-configs")) {
    std::stringstream ss(*v);
    std::string item;
    while (std::getline(ss, item, ',')) {
      if (item != "cpu1" && item != "cpu" && item != "gpu" && item != "nvjpeg") {
        throw InvalidArgument("--scan-configs takes cpu1, cpu, gpu, nvjpeg; got '" + item + "'");
      }
      o.scan_configs.push_back(item);
    }
  }
  if (auto v = a.get("seconds")) o.seconds = std::stod(*v);
  o.jobs = static_cast<int>(a.get_int("jobs", 0, 0, 4096));
  o.source_dir = a.get_or("source-dir", "");
  o.work_dir = a.get_or("work-dir", "");
  o.anchors = !a.flag("no-anchors");
  o.areas = !a.flag("no-areas");
  o.report = !a.flag("no-report");
  const nlohmann::json r = scan::run_bench(o);
  bool correct = true;
  for (const char* part : {"matcher", "scan"}) {
    for (const auto& row : r[part]) {
      if (row.contains("correct") && !row["correct"].get<bool>()) correct = false;
    }
  }
  if (!correct) {
    std::fprintf(stderr, "hashmatch bench: some results were wrong (see 'correct' in the JSON)\n");
    return 1;
  }
  return 0;
}

}  // namespace hashmatch::cli
