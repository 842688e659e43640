// Internal to video/: NVDEC through FFmpeg's CUDA hwaccel.
//
// One FFmpeg CUDA device context per GPU, created on first use in the device's primary context
// (so CUDA runtime code — the GPU PDQ kernels — can read the frames directly) and shared by every
// decode session; a failure is remembered and reported as the fallback note. Session slots limit
// concurrent NVDEC sessions per GPU (HASHMATCH_NVDEC_SESSIONS, default 16: an H100 has 7 NVDEC
// engines, and 16 sessions decoded 3,150 1080p H.264 frames/s there against 2,670 for 8), so that with decoder=auto further videos decode on CPU threads instead of queueing on
// the GPU's decoders: NVDEC and CPU decoding then run side by side.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "video/ffmpeg_util.h"

namespace hashmatch::video::nvdec {

// The shared CUDA device context of `device` (a new reference), or null with the reason in *why.
ff::BufferPtr device_context(int device, std::string* why);

// True when FFmpeg's decoder `codec` can decode to AV_PIX_FMT_CUDA frames from a device context.
bool codec_supported(const AVCodec* codec);

// Whether NVDEC can take a stream of these parameters, judged from its pixel format as FFmpeg
// 5.1's CUDA hwaccel and an H100's NVDEC see it: 4:2:0 at the bit depths the codec's NVDEC reads
// (8 bits; HEVC and VP9 also 10 and 12, AV1 10), and HEVC 4:4:4; never 4:2:2, RGB or other
// layouts. A stream of unknown format is tried. Otherwise false with the reason in *why: such a
// stream would fall back to FFmpeg's software decoder inside the hwaccel, with the NVDEC session's
// single decoder thread, holding a session slot. Sizes are not judged here (the GPU's limits):
// a stream NVDEC refuses at its first frame is decoded again on the CPU (video/vpdq.cc) and
// remembered (note_refused).
bool stream_supported(const AVCodecParameters* par, std::string* why);

// Streams NVDEC refused at their first frame, by their codec parameters (decoder_pool::Key::params):
// later videos of such a stream go to the CPU at once, for 10 minutes from the last refusal (a
// refusal may be passing: a hardware decoder that could not start for want of memory looks the
// same). The last 256 are remembered.
void note_refused(const std::string& params);
bool refused(const std::string& params);

// A held NVDEC session slot on one device; released by the destructor.
class Slot {
 public:
  Slot() = default;
  explicit Slot(int device) : device_(device) {}
  ~Slot();
  Slot(Slot&& o) noexcept : device_(o.device_) { o.device_ = -1; }
  Slot& operator=(Slot&& o) noexcept;
  Slot(const Slot&) = delete;
  Slot& operator=(const Slot&) = delete;
  int device() const { return device_; }
  bool held() const { return device_ >= 0; }

 private:
  int device_ = -1;
};

// A free slot on the least busy GPU, or nullopt (no GPU, all slots busy). With `wait_until`, waits
// for a slot until then when GPUs exist but all slots are busy.
// *busy (when given) tells apart "all slots busy" from "no GPU".
std::optional<Slot> try_acquire(std::string* why,
                                std::optional<std::chrono::steady_clock::time_point> wait_until = {},
                                bool* busy = nullptr);

// Sessions allowed per GPU (HASHMATCH_NVDEC_SESSIONS, default 16).
int sessions_per_gpu();

// Decoder threads for an NVDEC session (HASHMATCH_NVDEC_THREADS, default 1).
int decoder_threads();

}  // namespace hashmatch::video::nvdec
