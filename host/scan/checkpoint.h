// The checkpoint of a resumable scan (docs/scan.md has the full account).
//
// One text file, written in two steps:
//   1. at the start, atomically (written to FILE.tmp, fsync'd, renamed, directory fsync'd):
//        {"format":"hashmatch-scan-checkpoint","version":1,"items":N,"config":{...},...}
//        N item lines, in scan order: a JSON string (the path), or [path, error] for an item that
//        could not be listed
//        {"end_items":N}
//   2. then, append-only, one commit line now and then:
//        {"done":K,"offset":O,"elapsed":S,"summary":{...}}
//      meaning: the results of items 0..K-1, and nothing else, are the first O bytes of the output,
//      and those bytes were fsync'd before this line was written (and this line is fsync'd too).
// A torn last line (a crash while appending) fails to parse and is ignored: the last complete
// commit wins, and the torn tail is cut off before anything is appended again.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "host/scan/scan_items.h"

namespace hashmatch::scan {

struct CheckpointCommit {
  uint64_t done = 0;     // items 0..done-1 have their result lines in the output
  uint64_t offset = 0;   // output bytes holding exactly those lines
  double elapsed = 0;    // seconds spent scanning so far (all sessions)
  nlohmann::json summary = nlohmann::json::object();  // cumulative counters (ScanSummary)
};

class Checkpoint {
 public:
  ~Checkpoint();
  Checkpoint(const Checkpoint&) = delete;
  Checkpoint& operator=(const Checkpoint&) = delete;

  // Writes a new checkpoint for `items` (replacing any file at `path`). Throws IoError.
  static std::unique_ptr<Checkpoint> create(const std::string& path, const nlohmann::json& config,
                                            const ItemList& items);
  // Reads an existing checkpoint: its config, items and last complete commit (nullopt when none
  // was written yet). Cuts a torn tail off. Throws IoError, or InvalidArgument when the file is not
  // a checkpoint or its item list is incomplete.
  static std::unique_ptr<Checkpoint> open(const std::string& path, nlohmann::json* config,
                                          ItemList* items, std::optional<CheckpointCommit>* last);

  // Appends one commit line and fsyncs it. The output must already be synced up to c.offset.
  void commit(const CheckpointCommit& c);
  const std::string& path() const { return path_; }
  uint64_t commits() const { return commits_; }

 private:
  Checkpoint(std::string path, int fd);
  std::string path_;
  int fd_ = -1;
  uint64_t commits_ = 0;
};

bool file_exists(const std::string& path);

}  // namespace hashmatch::scan
