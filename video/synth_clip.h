// Synthetic clips for tests and benchmarks: a moving procedural pattern encoded in-process with
// libavcodec's encoders (libx264, libx265, libvpx-vp9, mpeg4 ... whatever the FFmpeg build has)
// and muxed with libavformat. Needs no ffmpeg command line, so it works on the GPU machine, which
// only gets the FFmpeg libraries (docs/GPU.md).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

namespace hashmatch::video {

struct SynthClipSpec {
  std::string encoder = "libx264";  // an FFmpeg encoder name
  int width = 640, height = 360;
  int fps_num = 30, fps_den = 1;
  int frames = 60;
  int gop = 30;                 // key frame interval
  int bit_depth = 8;            // 8 (yuv420p) or 10 (yuv420p10le; libx265)
  std::string preset = "ultrafast";  // x264/x265 preset (ignored by other encoders)
  int crf = 23;                 // x264/x265/vpx quality (ignored by others)
  int pattern = 0;              // different seeds give unrelated content
  int open_gop = -1;            // x264/x265: 1 open GOPs (non-IDR key frames), 0 closed, -1 the
                                // encoder's default (x264 closed, x265 open)
  bool intra_refresh = false;   // x264: periodic intra refresh instead of key frames (the key
                                // packets after the first are P pictures with recovery points)
  std::string params;           // further x264-params / x265-params ("ref=16:bframes=0")
  std::string bsf;              // bitstream filters on the way to the file, as ffmpeg's -bsf:v
                                // ("h264_metadata=crop_left=64:crop_top=4")
};

// A 600-frame clip with open GOPs of 250 frames (x264 also cuts at scene changes), B-frames
// (veryfast: x264 opens GOPs only with them): key frames after the first are not IDR pictures.
SynthClipSpec open_gop_spec(const std::string& encoder, int width, int height);

// A 150-frame 320x240 x264 clip with intra refresh every 30 frames: one IDR picture, then key
// packets that are P pictures with recovery points (keyframes-only switches to the exact mode).
SynthClipSpec intra_refresh_spec();

// A 30-frame 640x360 x264 clip whose parameter sets crop 64 columns at the left and 4 rows at
// the top (h264_metadata): decoded, 576x356.
SynthClipSpec top_left_crop_spec();

// Encodes the clip into `path`; the container follows the extension (.mp4, .mkv, .webm, .avi,
// .ts). Throws hashmatch::Error naming the failing step.
void write_synth_clip(const std::filesystem::path& path, const SynthClipSpec& spec);

}  // namespace hashmatch::video
