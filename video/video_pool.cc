#include "video/video_pool.h"

#include "host/common/error.h"
#include "host/common/parallel.h"

namespace hashmatch::video {

void hash_videos(std::span<const VideoInput> inputs, const VideoOptions& opts,
                 const DecodeLimits& limits, int sessions,
                 const std::function<void(std::size_t, VpdqResult&)>& on_done) {
  auto work = [&](std::size_t i) -> VpdqResult {
    try {
      return hash_video(inputs[i], opts, limits);
    } catch (const std::exception& e) {  // a bad option: the same for every video
      VpdqResult r;
      r.error = e.what();
      r.error_reason = "invalid_argument";
      return r;
    }
  };
  ordered_parallel_map<VpdqResult>(inputs.size(), std::max(1, sessions), work, on_done);
}

std::vector<VpdqResult> hash_videos(std::span<const VideoInput> inputs, const VideoOptions& opts,
                                    const DecodeLimits& limits, int sessions) {
  std::vector<VpdqResult> out(inputs.size());
  hash_videos(inputs, opts, limits, sessions,
              [&](std::size_t i, VpdqResult& r) { out[i] = std::move(r); });
  return out;
}

}  // namespace hashmatch::video
