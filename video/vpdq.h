// vPDQ: per-frame PDQ hashes of a video, exactly as Meta's vPDQ samples and hashes frames.
//
// Frames are numbered from 0 in the decoder's output order; frame n is hashed iff
// n % frameMod == 0 with frameMod = max(1, (int)(seconds_per_hash * fps)), fps = the stream's
// average frame rate, else its real base rate (r_frame_rate). Each hashed frame is converted to
// RGB24 by swscale with SWS_AREA at its own size (or N x N with `size`) and hashed with
// full-resolution PDQ (host/pdq/pdq.h); timestamp = frame_number / fps. Rotation metadata is
// ignored unless asked for. See docs/video.md for the choices where the reference is silent.
//
// Decoding: FFmpeg's libraries (any container and codec they read), on CPU threads or on NVDEC
// through FFmpeg's CUDA hwaccel (frames stay in device memory; only sampled frames are handed to
// the frame sink). Input is streamed from a file or a byte span: memory stays bounded for long
// videos. A wall-clock budget (checked by FFmpeg's interrupt callback and between packets) and
// limits on dimensions, duration and frame count keep hostile input from hanging or exhausting
// the process.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "host/common/hash256.h"
#include "host/image/decode.h"
#include "host/media/hash_media.h"

namespace hashmatch::video {

// One hashed frame (host/media/hash_media.h: a MediaHashResult holds a video's frames as these).
using VpdqFrame = VideoFrameHash;

// Where a video's wall time went, seconds, as the decode thread sees it (benchmarks and
// diagnosis; not in the JSON output). Stages overlap nothing: total minus their sum is the rest
// (sink set-up, a second pass's first try, bookkeeping).
struct VideoTimes {
  double total = 0;     // hash_video, start to end
  double open = 0;      // the container opened and probed, the stream checked (Session::open)
  double decoder = 0;   // decoder set-up: from the pool or new, CPU or NVDEC; slice-thread reopen
  double demux = 0;     // packets read (av_read_frame)
  double decode = 0;    // avcodec_send_packet / avcodec_receive_frame / flushes
  double copy = 0;      // NVDEC frames copied to the host
  double convert = 0;   // frames converted to RGB by swscale (and rotated)
  double sink = 0;      // frames handed to the sink (waits while its queue is full)
  double finish = 0;    // the sink's last hashes (FrameSink::finish)
  double stages() const { return open + decoder + demux + decode + copy + convert + sink + finish; }
  // Sums (several videos' times, benchmarks).
  VideoTimes& operator+=(const VideoTimes& o) {
    total += o.total;
    open += o.open;
    decoder += o.decoder;
    demux += o.demux;
    decode += o.decode;
    copy += o.copy;
    convert += o.convert;
    sink += o.sink;
    finish += o.finish;
    return *this;
  }
};

// What was learnt about the video while hashing it.
struct VideoInfo {
  std::string container;    // FFmpeg demuxer name, e.g. "mov,mp4,m4a,3gp,3g2,mj2"
  std::string codec;        // e.g. "h264"
  int video_streams = 0;    // the file's video streams (cover art not counted)
  int stream_index = -1;    // the one hashed (the first, as vPDQ takes it): its index in the file
  int width = 0, height = 0;  // coded picture size after cropping (as decoded)
  double fps = 0;           // the rate vPDQ samples with
  int frame_mod = 1;        // every frame_mod-th frame hashed (1 in keyframes-only mode)
  double duration_seconds = 0;  // from the container (0 when unknown)
  double rotation_degrees = 0;  // display-matrix angle, counterclockwise as ffprobe prints it;
                                // applied (FFmpeg's autorotation) only with apply_rotation
  int64_t frames_decoded = 0;
  int64_t frames_hashed = 0;
  int decode_errors = 0;    // packets or frames the decoder reported as broken
  int corrupt_frames = 0;   // frames the decoder flagged as concealed/corrupt (still hashed)
  int logged_errors = 0;    // errors FFmpeg logged (decoder, demuxer) after the first frame: damage
  std::string decoder;      // "cpu" or "nvdec"
  int decoder_threads = 0;  // a CPU decoder's threads (0 on NVDEC): VideoOptions::threads; with 0
                            // there FFmpeg's choice (a thread per core, at most 16) for a video
                            // hashed alone, and a share of those for one hashed beside others in
                            // this process (hash_video)
  int hash_threads = 0;     // the host PDQ's threads (hash_video without a sink of the caller's)
  bool decoder_reused = false;  // a decoder kept open from an earlier video (video/decoder_pool.h)
  std::string pdq;          // "cuda" when the GPU PDQ sink hashed NVDEC frames in device memory
                            // (not vPDQ-exact: video/gpu_pdq_sink.h); empty: the host PDQ
  std::string note;         // why the decoder differs from the one asked for, etc.
  VideoTimes times;         // where the wall time went (the pass that gave this result)
};

// The outcome for one video. Never throws for bad media: `error`/`error_reason` are set and
// `frames` keeps whatever was hashed before the problem (useful for truncated files).
struct VpdqResult {
  std::vector<VpdqFrame> frames;  // sorted by frame number
  VideoInfo info;
  std::string error;         // empty on success
  std::string error_reason;  // no_video, truncated, corrupt, timeout, too_long, too_many_pixels,
                             // unsupported, empty, io, internal
  bool ok() const { return error.empty(); }
};

class FrameSink;

// Where the bytes come from: a file (read in chunks) or a span the caller keeps alive.
struct VideoInput {
  std::string path;                  // used when `bytes` is empty
  std::span<const uint8_t> bytes;    // in-memory video (a custom AVIOContext reads it)
  std::string name;                  // for messages (defaults to path or "<memory>")
  static VideoInput file(std::string p) { return {p, {}, p}; }
  static VideoInput memory(std::span<const uint8_t> b, std::string n = "<memory>") {
    return {{}, b, std::move(n)};
  }
};

// Hashes a video: host frames (and NVDEC frames copied back to the host) with the CPU PDQ,
// bit-exact with vPDQ; NVDEC frames with the GPU PDQ in device memory when opts.pdq says so
// (video/gpu_pdq_sink.h: choose_pdq_sink; info.pdq is then "cuda"). Never throws for bad media.
VpdqResult hash_video(const VideoInput& in, const VideoOptions& opts,
                      const DecodeLimits& limits = {});

// Same, handing each sampled frame to `sink` (e.g. the GPU PDQ batcher, which takes NVDEC frames
// in device memory without a copy back). The frames of the result are what `sink.finish()`
// returned.
VpdqResult hash_video(const VideoInput& in, const VideoOptions& opts, const DecodeLimits& limits,
                      FrameSink& sink);

// frameMod as vPDQ computes it: max(1, (int)(seconds_per_hash * fps)).
int frame_mod_for(double seconds_per_hash, double fps);

// Video options with HASHMATCH_VIDEO_TIME_BUDGET / HASHMATCH_VIDEO_MAX_SECONDS /
// HASHMATCH_VIDEO_DECODER / HASHMATCH_VIDEO_PDQ applied over the defaults.
VideoOptions video_options_from_env();

// Installs hash_video as host/media's video hasher (hash_media_file then fills
// MediaHashResult.vpdq and extra["video"]).
void register_video_hasher();

// The `video` object of a result (the frames: vpdq_frames_to_json, host/media/hash_media.h).
nlohmann::json info_to_json(const VideoInfo& info);

}  // namespace hashmatch::video
