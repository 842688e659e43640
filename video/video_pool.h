// Many videos at once: `sessions` decode sessions run in parallel. With decoder "auto", up to
// HASHMATCH_NVDEC_SESSIONS sessions per GPU decode on NVDEC (all of its decoders busy) and the rest
// decode on CPU threads, side by side; with "cpu" all decode on CPU threads. Results are handed
// over in input order; memory stays bounded (a small window of finished results).
#pragma once

#include <cstddef>
#include <functional>
#include <span>
#include <vector>

#include "video/vpdq.h"

namespace hashmatch::video {

// Calls on_done(i, result) on the calling thread, in input order. Never throws for bad media.
void hash_videos(std::span<const VideoInput> inputs, const VideoOptions& opts,
                 const DecodeLimits& limits, int sessions,
                 const std::function<void(std::size_t, VpdqResult&)>& on_done);

// Same, collecting every result.
std::vector<VpdqResult> hash_videos(std::span<const VideoInput> inputs, const VideoOptions& opts,
                                    const DecodeLimits& limits, int sessions);

}  // namespace hashmatch::video
