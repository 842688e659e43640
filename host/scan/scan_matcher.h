// The seams of the scan pipeline: what a scanned file carries through it, the matcher that looks
// its hashes up in hash lists, and the optional batched PDQ stage (the GPU).
//
// The pipeline (host/scan/scanner.h) is independent of how lists are stored and of the hashing
// backend: make_list_scan_matcher (host/lists, when built) and make_batch_pdq_stage (host/pdq
// backends, when built) plug them in.
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "host/image/image.h"
#include "host/media/hash_media.h"

namespace hashmatch::scan {

// One file on its way through the pipeline.
struct ScanItem {
  std::size_t index = 0;  // position in the item list
  MediaHashResult result;
  // Batched PDQ stage input: the decoded image (CPU decoder) or, when the stage decodes itself
  // (nvJPEG), the file's bytes. Freed once hashed.
  Image image;
  std::vector<uint8_t> bytes;
  bool pending_pdq = false;  // waits for the batched PDQ stage
  // Matcher output: an array of match objects (list, id, algo, hash, distance, variant, labels);
  // stays null when no matcher ran (no --db).
  nlohmann::json matches;
  std::string match_error;  // the matcher failed for this item (recorded, the scan goes on)
};

class ScanMatcher {
 public:
  virtual ~ScanMatcher() = default;
  // Fills `matches` of every item (an empty array when nothing matched) from its hashes: exact
  // digests, PDQ (with the dihedral variants when present), vPDQ frames. Called from one thread, in
  // batches of up to batch_size() items. Items whose hashing failed still have their digests
  // matched when they were read. Throws on a failure of the whole batch (each item then records a
  // match_error).
  virtual void match(std::span<ScanItem* const> items, bool dihedral) = 0;
  virtual std::size_t batch_size() const { return 1024; }
  // Lists, entries, backend: for the summary.
  virtual nlohmann::json describe() const = 0;
};

// Batched PDQ hashing (the GPU): the decode pool hands over decoded images, the stage hashes them
// in batches. CPU hashing needs no stage (each decode worker hashes what it decoded).
class BatchPdqStage {
 public:
  virtual ~BatchPdqStage() = default;
  // True when the stage decodes this format itself from the file's bytes (nvJPEG): the worker
  // then only reads the file.
  virtual bool decodes(MediaFormat f) const { return false; }
  // Hashes every item (ScanItem::image or ScanItem::bytes), filling result.pdq (and width/height,
  // or the error). Throws on a device failure of the whole batch.
  virtual void hash(std::span<ScanItem* const> items, bool dihedral) = 0;
  virtual std::size_t batch_size() const { return 256; }
  virtual std::string describe() const = 0;  // "cuda: NVIDIA H100 ..., batches of 256"
};

}  // namespace hashmatch::scan
