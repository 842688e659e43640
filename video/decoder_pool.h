// Internal to video/: decoders kept open across videos.
//
// Opening a decoder is not free: a CPU decoder allocates its frame pools afresh (page faults on
// every new buffer, each thread's context), and an NVDEC one creates a hardware decoder and its
// surface pool (~0.1 s on an H100, serialised in the driver) — more than the few key frames of a
// keyframes-only video are worth. A decoder that decoded a video to its end cleanly is flushed
// (avcodec_flush_buffers: FFmpeg's documented way to resume after draining) and kept idle; a later
// video whose stream has exactly the same codec parameters (extradata, i.e. the parameter sets,
// included) and asks for the same decoder settings takes it instead of opening a new one. After
// the flush the decoder starts from a clean state (no reference frames, no timestamps, no
// reordering history), as a seek to the start would leave it; the parameter sets are the same
// bytes a fresh open would have parsed, and in-band ones replace them as usual. Tests compare the
// frame hashes of pooled and fresh decoders, clip by clip.
//
// Decoders with errors, concealed frames, a software fallback inside the hwaccel or anything
// unfinished are freed, never kept. Idle decoders are kept up to a cap (HASHMATCH_DECODER_POOL:
// CPU decoders, default 8; NVDEC decoders per GPU, default HASHMATCH_NVDEC_SESSIONS) and for at
// most 60 s (HASHMATCH_DECODER_POOL_IDLE_SECONDS; a background thread frees them when their time
// is up); HASHMATCH_DECODER_POOL=0 turns pooling off. An idle decoder keeps its frame pools: a
// 1080p CPU decoder with 16 frame threads holds 40-70 MB (H.264) to ~145 MB (HEVC). Idle NVDEC
// decoders hold GPU memory (their surfaces) but no session slot (video/nvdec.h counts decoding
// sessions).
//
// What NVDEC keeps depends on the codec: FFmpeg's H.264 decoder negotiates its pixel format again
// at the first slice after avcodec_flush_buffers, and that tears down the hwaccel and creates a
// new hardware decoder and surface pool (test_decoder_pool, DecoderPoolPremise); HEVC and VP9 keep
// theirs. So an H.264 video on NVDEC ends without a drain (video/vpdq.cc,
// HASHMATCH_H264_NO_DRAIN): its last pictures are pushed out of the reordering delay by copies of
// its last IDR packet under sentinel timestamps, and the decoder is kept unflushed
// (give(..., drained = false)); the next video's first pictures push the copies out, and they are
// dropped. Tests compare such decoders with fresh ones, clip by clip.
#pragma once

#include <cstdint>
#include <string>

#include "video/ffmpeg_util.h"

namespace hashmatch::video::decoder_pool {

// What a pooled decoder must match: the stream's codec parameters and the decoder settings.
struct Key {
  std::string params;  // the codec parameters, serialised (codec, tag, format, size, profile,
                       // level, colour tags, field order, extradata ...)
  int device = -1;     // NVDEC device; -1: a CPU decoder
  int threads = 0;
  int skip_frame = 0;
  int extra_hw_frames = 0;
  int64_t max_pixels = 0;
  int tb_num = 0, tb_den = 0;  // pkt_timebase
  int video_delay = 0;  // the reordering delay a fresh decoder starts with (also in params)
  int thread_type = 0;  // 0: FFmpeg's choice (frame threads where it can); FF_THREAD_SLICE
  bool operator==(const Key&) const = default;
};

// The key of a stream decoded with these settings.
Key make_key(const AVCodecParameters* par, AVRational pkt_timebase, int device, int threads,
             int skip_frame, int extra_hw_frames, int64_t max_pixels);

// An idle decoder for `key` (removed from the pool), or null. `undrained`: set to whether it was
// kept without a drain (give's `drained` false): a damaged video decoded on it may conceal its
// damage from the previous video's pictures, and is decoded again on a fresh decoder (vpdq.cc).
// `pending_pushes`: set to how many push copies such a decoder still holds (give's
// `pending_pushes`): the first frames it gives are those copies, to be dropped.
ff::CodecPtr take(const Key& key, bool* undrained = nullptr, int* pending_pushes = nullptr);

// True when an idle decoder for `key` is there now (it may be gone by the time take() runs);
// `any_device`: an NVDEC decoder on any GPU (key.device is ignored, CPU decoders are not counted).
bool has_idle(const Key& key, bool any_device = false);

// Keeps a decoder that decoded a stream to its end without a problem: `drained` (with a null
// packet) ones flushed, any one's timestamp-correction statistics cleared, and kept idle; freed
// when pooling is off, the pool is full, or its reordering delay grew past key.video_delay while
// decoding. `drained` false: every frame of the video came out without a drain (H.264,
// video/vpdq.cc), and the decoder is kept as it is, not flushed.
// `pending_pushes`: the push copies (vpdq.cc) sent that have not come out yet (drained = false).
void give(const Key& key, ff::CodecPtr ctx, bool drained = true, int pending_pushes = 0) noexcept;

// Decoders kept without a flush (drained = false) since the process started.
int64_t kept_without_drain();

// Counts one more video with these stream parameters (Key::params) and returns how many were seen
// recently (the last 256 distinct streams are remembered). keyframes-only `auto` uses it to open
// NVDEC decoders only for streams that recur.
int note_seen(const std::string& params);

// Idle decoders now (CPU + NVDEC), and frees them all (tests, shutdown of a long job).
int idle_count();
void clear();

// The process is exiting (registered with atexit when the first decoder is kept): waits for a
// free in progress to end and frees nothing from then on, so no decoder is torn down beside the
// CUDA driver's own teardown; idle decoders are left to the process's end.
void stop_freeing_for_exit();

// Idle CPU decoders kept at most (HASHMATCH_DECODER_POOL; 0: pooling off).
int cpu_capacity();

// How long a decoder stays idle before it is freed, in milliseconds
// (HASHMATCH_DECODER_POOL_IDLE_SECONDS, default 60; fractions allowed).
int64_t idle_ms();

}  // namespace hashmatch::video::decoder_pool
