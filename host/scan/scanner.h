// Bulk backlog scan: every file of a tree or manifest hashed (exact digests, PDQ, vPDQ), matched
// against hash lists, and written as one JSON line per file, in item order, resumably.
//
// Pipeline (threads):
//   decode pool (`jobs` workers)  read the file (digests), decode, and either hash it on the CPU
//                                 (no batch stage) or hand the decoded image (or, for a stage that
//                                 decodes itself, the bytes) to the batch stage
//   batch stage (1 thread)        PDQ of batches of images on the GPU (BatchPdqStage); on a device
//                                 failure the batch is hashed on the CPU instead and, after
//                                 repeated failures, the stage is switched off
//   matcher (1 thread)            batches of hashed items against the lists (ScanMatcher)
//   emitter (the caller's thread) result lines in item order, summary counters, progress,
//                                 checkpoint commits
// At most `window` items are between dispatch and emission (memory stays bounded, whatever the
// backlog); decoded images waiting for the batch stage are bounded by `max_pending_pixels`.
// Ordered emission makes the output deterministic: the same items give the same lines in the same
// order, however many workers ran, and a resumed scan continues the very same stream.
//
// Resumability: see host/scan/checkpoint.h and docs/scan.md.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "host/media/hash_media.h"
#include "host/scan/progress.h"
#include "host/scan/scan_items.h"
#include "host/scan/scan_matcher.h"
#include "host/scan/summary.h"

namespace hashmatch::scan {

struct ScanOptions {
  std::vector<std::string> paths;      // files and directories (walked)
  std::vector<std::string> manifests;  // files with one path per line ("-": standard input)
  Shard shard;
  std::string output;      // "" or "-": standard output
  std::string checkpoint;  // "": not resumable; else the checkpoint file (output must be a file)
  HashOptions hash;        // limits, PDQ pipeline, dihedral, video options
  int jobs = 0;            // decode workers (0: all cores)
  std::size_t window = 0;  // items between dispatch and emission (0: max(1024, 64 x jobs))
  uint64_t max_pending_pixels = uint64_t(1) << 29;  // decoded pixels queued for the batch stage
  double checkpoint_interval = 1.0;                 // seconds between checkpoint commits
  ProgressMode progress = ProgressMode::kAuto;
  double progress_interval = 10.0;  // seconds between progress lines (not a terminal)
  // Options that change the results (database, lists, thresholds, decoder): recorded in the
  // checkpoint and compared on resume together with the inputs, shard and hash options.
  nlohmann::json result_config = nlohmann::json::object();
  // Set (e.g. by a SIGINT handler) to stop: items in flight are finished, written and
  // checkpointed, and run_scan returns with `interrupted`.
  const std::atomic<bool>* stop = nullptr;
  // Informational, copied into the summary.
  std::string pdq_backend = "cpu";
  // Optional finishing step, run once when every item has its result line (never for an
  // interrupted scan): it may rewrite the output file in place (atomically, e.g. clustering adds
  // `cluster` to every line) and returns a JSON object, recorded in the checkpoint's final commit
  // (with the output's new size) and in the summary under "finish". A resumed scan whose
  // checkpoint already records it does not run it again: the recorded object is reported. Not
  // called for standard output.
  std::function<nlohmann::json(const std::string& output)> finish;
};

struct ScanReport {
  ScanCounters counters;      // all sessions of this scan
  WalkStats walk;             // this session's walk (zero when resumed from a checkpoint)
  uint64_t items = 0;         // items in the scan (this shard)
  uint64_t done = 0;          // items with their result line written
  uint64_t resumed_from = 0;  // items done by earlier sessions (checkpoint + salvaged lines)
  uint64_t salvaged = 0;      // result lines found complete after the last commit and kept
  uint64_t session_files = 0, session_bytes = 0;
  double session_seconds = 0;
  double elapsed_seconds = 0;  // all sessions
  bool resumed = false;
  bool interrupted = false;
  bool complete = false;
  uint64_t checkpoint_commits = 0;
  std::string pdq_stage;       // "" (CPU in the workers) or the batch stage's description
  bool stage_disabled = false;  // the batch stage failed repeatedly and was switched off
  nlohmann::json matcher = nullptr;
  nlohmann::json finish = nullptr;  // what ScanOptions::finish returned (or recorded earlier)
  bool finish_pending = false;      // a finishing step is configured but the scan is incomplete
  bool finish_recorded = false;     // `finish` is an earlier run's (the step did not run again)
  nlohmann::json to_json(const ScanOptions& opts) const;  // {"summary": {...}}
};

// Runs (or resumes) a scan. `matcher` may be null (hashes only); `stage` may be null (CPU PDQ in
// the decode workers). Throws for what stops the scan as a whole (unreadable checkpoint, a
// checkpoint of another scan, output not writable); one bad file never does.
ScanReport run_scan(const ScanOptions& opts, ScanMatcher* matcher, BatchPdqStage* stage);

// The JSON object of one result line, but for a video's frames: run_scan writes it with
// write_json_line (host/media/hash_media.h), which adds the `vpdq` array from item.result.vpdq.
nlohmann::json result_line(const ScanItem& item, bool dihedral);

// Writes `summary` (pretty JSON) to `path` atomically (temporary file, fsync, rename).
void write_summary_file(const std::string& path, const nlohmann::json& summary);

// The configuration a checkpoint records for `opts` (inputs, shard, output, hash options and
// result_config). A resumed scan must present the same.
nlohmann::json checkpoint_config(const ScanOptions& opts);

}  // namespace hashmatch::scan
