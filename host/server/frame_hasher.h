// The PDQ backend behind the server's frame queues, and the one place that decides which runs.
//
// A FrameHasher belongs to one batch slot of one queue: a CPU hasher with its scratch buffers,
// or (kernels/pdq, when linked) a CUDA stream with its pinned and device buffers. Slots never
// share one, so several batches are in flight per queue without locks. make_pdq_queues() returns
// one queue for the CPU, or one per visible GPU.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "host/image/image.h"
#include "host/pdq/pdq.h"

namespace hashmatch::server {

class FrameHasher {
 public:
  virtual ~FrameHasher() = default;
  // The 8 dihedral hashes and quality of each image (result i for images[i]). Throws on a device
  // failure: the whole batch fails, is counted, and the server goes on.
  virtual std::vector<pdq::PdqDihedral> hash(std::span<const Image* const> images) = 0;
  virtual std::string_view backend() const = 0;  // "cpu", "cuda"
};

struct PdqQueueSpec {
  std::string name;                                 // "pdq-cpu", "pdq-cuda0", ...
  std::string backend;                              // label of hashmatch_frames_hashed_total
  std::vector<std::unique_ptr<FrameHasher>> slots;  // one per batch in flight
};

// want: "auto" | "cpu" | "cuda". slots_per_queue 0: automatic (CPU: all cores, GPU: 2).
// `why` receives the reason for the choice. Throws CudaError when "cuda" cannot be had.
std::vector<PdqQueueSpec> make_pdq_queues(const std::string& want, int slots_per_queue,
                                          int prescale, std::string* why);

}  // namespace hashmatch::server
