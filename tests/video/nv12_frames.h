// Test helper: every frame of a clip decoded by FFmpeg's software decoder (the oracle) and laid
// out as NVDEC's NV12 (luma plane, interleaved CbCr plane), in host memory, with the frame
// numbers and timestamps vPDQ gives them. Lets the GPU PDQ sink's logic run on the CPU, with a host
// stand-in for the GPU PDQ, on exactly the pixels NVDEC would hand it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "video/ffmpeg_util.h"
#include "video/frame_sink.h"

namespace hashmatch::video::test {

// Every frame of `path`'s first video stream from FFmpeg's software decoder (one thread), in
// output order; `apply_cropping` false leaves the cropping fields unapplied (the full coded
// picture, as NVDEC's surfaces hold it). `fps` (when given): the stream's frame rate as vPDQ takes
// it. Empty, with ADD_FAILURE, when the file cannot be opened or has no video stream.
std::vector<ff::FramePtr> decode_frames(const std::string& path, bool apply_cropping = true,
                                        double* fps = nullptr);

struct Nv12Frame {
  FrameInfo info;     // frame_number from 0, timestamp (float)n / (float)fps, own size
  int width = 0, height = 0;
  int colorspace = 2, color_range = 0;
  std::vector<uint8_t> y, uv;  // pitches: width, 2 * ceil(width / 2)
  DeviceFrame view() const;    // host pointers into y / uv, layout kNv12
};

// All frames of an 8-bit 4:2:0 clip; empty (with ADD_FAILURE) when it cannot be decoded.
std::vector<Nv12Frame> decode_nv12(const std::string& path);

}  // namespace hashmatch::video::test
