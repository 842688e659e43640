// Internal to video/: the host RGB buffers that sampled frames are converted into, recycled by
// size across sinks and videos (one pool per process). A sink lives for one video; with a free
// list of its own, every video started with none and each of its frames (6 MB at 1080p) was a
// fresh allocation: zero-filled, page-faulted in and unmapped again, which on an H100 machine
// tripled the conversion time of keyframes-only hashing (48 ms against 15 ms per 20-s video with
// 16 sessions: docs/performance.md) and slowed the decoders beside it (the faults and unmaps take
// the process's memory-map lock).
//
// What is kept free follows video/sized_recycler.h: per sink alive (a user) at most
// kHostFramesFreePerUser buffers and kHostFramesFreeBytesPerUser bytes, the oldest beyond that
// freed; when sinks go, the free buffers shrink to the caps of the sinks left (one sink's caps
// when none is left).
#pragma once

#include <cstddef>

#include "host/image/image.h"

namespace hashmatch::video {

inline constexpr std::size_t kHostFramesFreePerUser = 16;
inline constexpr std::size_t kHostFramesFreeBytesPerUser = std::size_t(128) << 20;

// A free buffer whose capacity is exactly `bytes` (its pixels' contents undefined, its size
// whatever it was), or an empty image.
Image take_host_frame(std::size_t bytes);

// Keeps `img`'s pixel memory for a later take_host_frame of its capacity (or frees it, by the
// caps). An image without pixel memory is dropped.
void give_host_frame(Image&& img) noexcept;

// Counts a sink as a user of the pool while it lives (the caps are per user).
class HostFramesUser {
 public:
  HostFramesUser();
  ~HostFramesUser();
  HostFramesUser(const HostFramesUser&) = delete;
  HostFramesUser& operator=(const HostFramesUser&) = delete;
};

// The pool's free buffers now (tests).
std::size_t host_frames_free_count();

}  // namespace hashmatch::video
