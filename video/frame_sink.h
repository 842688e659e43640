// The frame sink: where the decoder hands each sampled frame to be hashed.
//
// The decode loop (video/vpdq.cc) numbers and samples frames; a FrameSink hashes them and returns
// the vPDQ records at the end. Two implementations are meant to exist:
//  - CpuPdqSink (video/cpu_pdq_sink.h): host RGB24 frames, PDQ on a small thread pool. Default.
//  - GpuPdqSink (video/gpu_pdq_sink.h): takes NVDEC frames in device memory without a copy back
//    (wants_device_frames() == true) and hashes them in batches with the GPU PDQ (kernels/pdq).
// Host-safe: no FFmpeg or CUDA header here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "host/image/image.h"
#include "video/vpdq.h"

namespace hashmatch::video {

// What the decode loop knows about one sampled frame.
struct FrameInfo {
  int64_t frame_number = 0;  // decoder output order, from 0
  double timestamp = 0;      // frame_number / fps, seconds
  bool keyframe = false;
  // The size the frame must be hashed at (the frame's own size, or N x N with --vpdq-size N). A
  // host frame already has it; a device frame has its coded size and the sink scales it (SWS_AREA).
  int target_width = 0, target_height = 0;
  // Clockwise rotation to apply before hashing (0 unless VideoOptions::apply_rotation): 0, 90, 180
  // or 270. Host frames arrive already rotated.
  int rotate_degrees = 0;
};

// Pixel layouts NVDEC produces through FFmpeg's CUDA hwaccel.
enum class DevicePixelLayout {
  kNv12,     // 8-bit 4:2:0: plane 0 luma [height][pitch0], plane 1 interleaved CbCr [height/2][pitch1]
  kP016,     // 10/12/16-bit 4:2:0, 16-bit little-endian words, data in the high bits (P010/P016)
  kYuv444,   // 8-bit 4:4:4, three full planes
  kYuv444P16,  // 16-bit 4:4:4, three full planes
};

// A decoded frame in CUDA device memory (NVDEC surface from FFmpeg's frame pool). Valid only during
// FrameSink::push_device unless the sink keeps `hold` (a reference to the AVFrame): a held frame
// keeps its pool surface busy, so hold at most FrameSink::max_held_device_frames() of them (the
// decoder's pool gets that many spare surfaces) and release them promptly; a batcher that wants
// larger batches copies the planes device-to-device into its own buffers instead.
struct DeviceFrame {
  int device = 0;                    // CUDA device ordinal (FFmpeg uses the primary context)
  DevicePixelLayout layout = DevicePixelLayout::kNv12;
  const uint8_t* planes[3] = {nullptr, nullptr, nullptr};  // device pointers
  int pitch[3] = {0, 0, 0};          // bytes per row of each plane
  int width = 0, height = 0;         // visible size in pixels
  // Colour: AVColorSpace / AVColorRange values (e.g. 1 = BT.709, 5/6 = BT.601; range 1 = limited
  // "MPEG", 2 = full "JPEG"). swscale's default for unspecified is BT.601 limited.
  int colorspace = 2;
  int color_range = 0;
  // The CUstream FFmpeg copied the surface on (nullptr: the legacy default stream); order work
  // after it (cudaStreamWaitEvent or use that stream) before reading the planes.
  void* cuda_stream = nullptr;
  std::shared_ptr<void> hold;        // keeps the AVFrame (and its surface) alive while held
};

class FrameSink {
 public:
  virtual ~FrameSink() = default;

  // True when the sink takes NVDEC frames in device memory (push_device). Otherwise NVDEC frames
  // are copied to the host (sampled frames only) and arrive through push_host like CPU frames.
  virtual bool wants_device_frames() const { return false; }

  // How many device frames the sink may hold at once (their `hold` kept past push_device): the
  // NVDEC decoder's surface pool gets this many spare surfaces (1..32).
  virtual int max_held_device_frames() const { return 4; }

  // A buffer for the next host frame, `bytes` of capacity (the decoder converts into it: avoids
  // an allocation per frame). May return an empty image or one of another capacity.
  virtual Image take_buffer(std::size_t bytes) { return {}; }

  // A sampled frame as RGB24 (channels 3, target size, rotated). The sink owns it from now on.
  // Called on the decode thread, in frame-number order; may block (back-pressure).
  virtual void push_host(const FrameInfo& info, Image&& rgb) = 0;

  // Asked for each sampled NVDEC frame when wants_device_frames(), before push_device: false sends
  // this frame the host way (copied back, converted by swscale, push_host), e.g. a layout or a
  // target size the sink cannot hash on the device. `frame.hold` is not set yet.
  virtual bool takes_device_frame(const FrameInfo& info, const DeviceFrame& frame) {
    return wants_device_frames();
  }

  // A sampled NVDEC frame in device memory. Called only when takes_device_frame() said yes.
  virtual void push_device(const FrameInfo& info, const DeviceFrame& frame);

  // End of the video: waits for outstanding work and returns every record, sorted by frame number.
  // The sink may be reused for another video afterwards.
  virtual std::vector<VpdqFrame> finish() = 0;

  // Abandons outstanding work (after an error); finish() is still called afterwards.
  virtual void cancel() {}
};

}  // namespace hashmatch::video
