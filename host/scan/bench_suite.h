// The capacity benchmark suite behind `hashmatch bench`: the same measurements on a CPU-only
// machine and on a GPU machine, written as one JSON file per machine; bench/report.py turns the
// files of a folder into a markdown report with plots (docs/bench/).
//
// In process (public interfaces only, so it runs from an installed binary):
//   matcher   make_pdq_matcher over random lists (sizes) x query batches (sizes), per backend
//             (the CPU; the GPU when one answers): p50/p99 latency per call, queries/s,
//             comparisons/s, build time; every near-duplicate query must find its entry.
//   pdq_hash  PDQ of generated frames (sizes): the CPU on one thread and on all, the GPU batch
//             hasher when there is one: images/s and megapixels/s.
//   scan      end to end: generated JPEGs (default 1920x1080) as a backlog of files, scanned by
//             run_scan against a list of random hashes plus the hashes of some of the images
//             (planted): images/s, images/s per core, MB/s, and the planted matches found.
// Beside it, in the same run, when available (each recorded as "skipped" with the reason if not):
//   anchors   the reference PDQ hasher (pdqhash from PyPI, Pillow decoding) on the same JPEGs and
//             frames, and vPDQ (vpdq from PyPI) on a generated clip: bench/scan/ref_hashers.py;
//             faiss beside our matcher: bench/match/run_faiss_compare.py (bench_match).
//   areas     the per-area benches when built beside `hashmatch`: bench_pdq_gpu (GPU frames),
//             bench_video (vPDQ of generated clips, CPU / NVDEC, with the vpdq anchor),
//             bench_server (`hashmatch serve` under load, via bench/server/run_server_bench.py);
//             each writes JSON that is kept as it is in the results ("skipped" with the reason
//             when not built or not applicable).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace hashmatch::scan {

struct BenchOptions {
  bool quick = false;
  std::string report_dir = "docs/bench";  // results-<tag>.json, README.md and PNGs go here
  std::string tag;                         // "" : "cpu" or "gpu-<device>" (from the machine)
  std::string source_dir;                  // repository root (scripts); "": compiled-in / env
  std::string work_dir;                    // generated media and lists ("": a temporary folder)
  std::vector<std::size_t> list_sizes;     // matcher; empty: the mode's default
  std::vector<std::size_t> batches;        // matcher; empty: the mode's default
  std::vector<std::string> frame_sizes;    // pdq_hash, "WxH"; empty: the mode's default
  int scan_width = 1920, scan_height = 1080;
  std::size_t scan_images = 0;       // files in the backlog (0: the mode's default)
  std::size_t scan_distinct = 0;     // distinct images among them (others are hard links)
  std::size_t scan_list_size = 0;    // entries of the scan's list (0: the mode's default)
  // Scan configurations to run (cpu1, cpu, gpu, nvjpeg); empty: all that the machine has.
  std::vector<std::string> scan_configs;
  double seconds = 0;                // time budget per measurement (0: the mode's default)
  bool anchors = true;               // run the Python anchors
  bool areas = true;                 // run the per-area bench executables
  bool report = true;                // run bench/report.py
  int jobs = 0;                      // 0: all cores
};

// Runs the suite; returns the results JSON (also written to REPORT_DIR/results-<tag>.json).
nlohmann::json run_bench(const BenchOptions& opts);

}  // namespace hashmatch::scan
