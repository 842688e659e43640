// GpuPdqSink: hashes NVDEC frames in device memory with the GPU PDQ (kernels/pdq) without copying
// them back to the host; every other frame goes the host way (CpuPdqSink, bit-exact vPDQ).
//
// Each sampled NV12 device frame becomes a pdq FrameView (planes, pitches, YUV matrix from the
// frame's colour tags) and is held (its NVDEC surface stays busy) until its batch is hashed:
// batches of `batch` frames go to GpuBatchHasher::hash_device_frames on a hashing thread, so the
// decoder fills the next batch meanwhile (at most 2 x batch surfaces held). Results keep the
// decode loop's frame numbers and timestamps; finish() returns them sorted.
//
// Not vPDQ-exact: the GPU PDQ converts YUV with its own integer BT.601/BT.709 formula and nearest
// chroma (host/pdq/frame.h), not swscale's, so hashes differ from the reference's by a few bits;
// they are bit-identical to the CPU PDQ of host/pdq/frame.h's frame_to_image (and to the CPU
// emulation of the kernels). Frames the GPU PDQ does not take as they are (P010/P016, 4:4:4,
// --vpdq-size, rotation) take the host path.
//
// Host-safe header (no CUDA or FFmpeg types). The CUDA part is built only when hm_kernels_pdq
// exists (HM_KERNELS_PDQ); elsewhere make_gpu_frame_hasher throws and gpu_pdq_built() is false.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "host/pdq/frame.h"
#include "host/pdq/pdq.h"
#include "video/cpu_pdq_sink.h"
#include "video/frame_sink.h"

namespace hashmatch::video {

// --video-pdq / HASHMATCH_VIDEO_PDQ: which PDQ hashes NVDEC frames.
//  kAuto: the GPU sink when frames are on NVDEC, every frame is hashed (where the copy back costs)
//         and the GPU PDQ is available; else the host path (bit-exact with vPDQ).
//  kCpu:  always the host path (NVDEC frames copied back).
//  kCuda: the GPU sink for every NVDEC frame it can take (an error when the GPU PDQ cannot start).
enum class VideoPdqMode { kAuto, kCpu, kCuda };
// "auto" | "cpu" | "cuda"; InvalidArgument otherwise.
VideoPdqMode parse_video_pdq(std::string_view s);

// The GPU PDQ's YUV matrix for a frame's AVColorSpace / AVColorRange: BT.709 when colorspace is 1
// (AVCOL_SPC_BT709), else full-range BT.601 when color_range is 2 (AVCOL_RANGE_JPEG), else BT.601
// limited (swscale's default for untagged video, as vPDQ converts it).
YuvMatrix yuv_matrix_for(int colorspace, int color_range);

// Why the GPU PDQ cannot hash this device frame as it is (empty when it can): only NV12 at the
// frame's own size, unrotated.
std::string device_frame_unsupported(const FrameInfo& info, const DeviceFrame& frame);

// The FrameView of an NV12 device frame (device pointers; matrix from its colour tags).
FrameView device_frame_view(const DeviceFrame& frame);

// True when this build has the GPU PDQ (hm_kernels_pdq linked into hm_video).
bool gpu_pdq_built();

// Whether hash_video uses a GpuPdqSink for a video (decided once the stream is open).
struct PdqSinkChoice {
  bool gpu = false;          // a GpuPdqSink
  bool device = false;       // ... taking NVDEC frames as they are (not vPDQ-exact)
  bool host_on_gpu = false;  // ... hashing host RGB frames on the GPU (exact: the same pipeline)
  std::string why;  // why the device frames are not taken (empty when they are, or nothing asked)
};
// `frame_mod`: every frame_mod-th frame is hashed; `built`: gpu_pdq_built().
//  kAuto, every frame or keyframes-only (many frames hashed): NVDEC frames go in as they are (not
//    vPDQ-exact: a few bits); host RGB frames (CPU decoding, or NVDEC frames the sink cannot take)
//    are hashed on the GPU in batches, bit-exact with the host path. (Keyframes-only copied its
//    NVDEC key frames back for exactness until the H100 measured the cost: 1,657-2,172 against
//    3,734-4,094 video-seconds/s with 2-second GOPs, docs/performance.md.)
//  kAuto, sampled frames (one per second): the CPU PDQ (a small share of the work).
//  kCuda: the GPU for every frame; NVDEC frames as they are wherever the sink can take them.
PdqSinkChoice choose_pdq_sink(const VideoOptions& opts, int frame_mod, bool built);

// What hashes the device frames: the GPU PDQ (make_gpu_frame_hasher); tests use a host stand-in.
class DeviceFrameHasher {
 public:
  virtual ~DeviceFrameHasher() = default;
  // Decode thread, when a batch is complete: its frames are ready once the work queued on
  // `stream` (the decoder's CUstream, null: the legacy default stream) so far is done. The token
  // goes to hash().
  virtual std::shared_ptr<void> mark_ready(void* stream) = 0;
  // Hashing thread: PDQ hash and quality of each frame, in order; the frames stay valid until it
  // returns.
  virtual std::vector<pdq::PdqHash> hash(std::span<const FrameView> frames,
                                         const std::shared_ptr<void>& ready) = 0;
  // The same with some frames in host memory (on_host[i]; their `ready` may be null when none is
  // on the device). The default reads every frame the same way (host stand-ins).
  virtual std::vector<pdq::PdqHash> hash_mixed(std::span<const FrameView> frames,
                                               const std::vector<bool>& on_host,
                                               const std::shared_ptr<void>& ready) {
    (void)on_host;
    return hash(frames, ready);
  }
  // Decode thread: copies an NV12 device frame into memory of the hasher's own, ordered on
  // `stream` (the decoder's, on which the decoder also writes its next frames: the surface may be
  // handed back to the decoder as soon as this returns). `*dst` views the copy; the returned
  // token keeps it until released. Null: this hasher does not copy (the sink holds the surface).
  virtual std::shared_ptr<void> copy_frame(const FrameView& /*src*/, void* /*stream*/,
                                           FrameView* /*dst*/) {
    return nullptr;
  }
};

// The GPU PDQ on CUDA device `device` (hashers are pooled per device and reused by later videos).
// Throws CudaError when unavailable (not built, no such device).
std::unique_ptr<DeviceFrameHasher> make_gpu_frame_hasher(int device);

struct GpuPdqSinkOptions {
  // kAuto: a GPU PDQ that cannot start sends the video's frames the host way (with a note);
  // kCuda: CudaError instead. (kCpu: never takes device frames.)
  VideoPdqMode mode = VideoPdqMode::kAuto;
  // Device frames per GPU call (1..6, or 1..64 with copy_device_frames); 2 x batch NVDEC
  // surfaces held at most. NVDEC decodes into at most 32 surfaces, the reference frames (up to 17
  // for H.264/HEVC) included: FFmpeg's hwaccel fails to start (and the video decodes on the CPU)
  // when the spare surfaces asked for (extra_hw_frames = 2 x batch) push it past 32, as 16 did on
  // an H100.
  int batch = 6;
  // Copy each device frame (DeviceFrameHasher::copy_frame, device to device) and hand its NVDEC
  // surface back at once, instead of holding it until its batch is hashed: batches of up to 64
  // frames, one spare surface (HASHMATCH_VIDEO_PDQ_BATCH above 6). Costs a copy of each frame
  // (3 MB at 1080p) and 2 x batch frames of device memory per session.
  bool copy_device_frames = false;
  int host_threads = 0;   // CpuPdqSink threads for the frames that come through the host
  bool device_frames = true;  // take NVDEC frames as they are (takes_device_frame)
  bool host_on_gpu = false;   // host RGB frames to the GPU PDQ too (batched like device frames)
  int host_device = 0;        // CUDA device for host frames when no device frame came first
  // Makes the device hasher at the first device frame (default: make_gpu_frame_hasher).
  std::function<std::unique_ptr<DeviceFrameHasher>(int device)> make_hasher;
};

class GpuPdqSink : public FrameSink {
 public:
  explicit GpuPdqSink(GpuPdqSinkOptions opts = {});
  ~GpuPdqSink() override;
  GpuPdqSink(const GpuPdqSink&) = delete;
  GpuPdqSink& operator=(const GpuPdqSink&) = delete;

  bool wants_device_frames() const override;
  bool takes_device_frame(const FrameInfo& info, const DeviceFrame& frame) override;
  int max_held_device_frames() const override {
    return opts_.copy_device_frames ? 1 : 2 * batch_;
  }
  Image take_buffer(std::size_t bytes) override;
  void push_host(const FrameInfo& info, Image&& rgb) override;
  void push_device(const FrameInfo& info, const DeviceFrame& frame) override;
  std::vector<VpdqFrame> finish() override;
  void cancel() override;

  // Since construction: device frames hashed as they are (not vPDQ-exact); frames that came
  // through the host (push_host), and those of them hashed on the GPU (host_on_gpu: exact).
  int64_t device_frames() const;
  int64_t host_frames() const;
  int64_t gpu_host_frames() const;
  // Why device frames went the host way (empty when none did).
  std::string note() const;
  int batch() const { return batch_; }

 private:
  struct Held {
    FrameInfo info;
    FrameView view;
    std::shared_ptr<void> hold;
    std::shared_ptr<Image> host;  // host frames: the RGB image the view points into
  };
  struct Batch {
    std::vector<Held> frames;
    std::shared_ptr<void> ready;
    bool has_device = false;
  };
  bool ensure_hasher(int device, bool for_device_frame);
  void add(Held h);
  void close_batch(void* stream);
  void worker();
  void rethrow_error_locked();

  GpuPdqSinkOptions opts_;
  int batch_;
  CpuPdqSink host_;
  std::unique_ptr<DeviceFrameHasher> hasher_;  // made at the first device frame
  int hasher_device_ = -1;
  bool hasher_failed_ = false;
  std::string note_;

  Batch filling_;          // decode thread only
  void* filling_stream_ = nullptr;
  int64_t host_count_ = 0;

  mutable std::mutex mu_;
  std::condition_variable cv_work_, cv_done_;
  std::deque<Batch> queue_;  // closed batches waiting for the hashing thread
  int in_flight_ = 0;        // batches the hashing thread holds
  std::vector<VpdqFrame> results_;
  std::exception_ptr error_;
  bool stopping_ = false;
  int64_t device_count_ = 0;
  int64_t gpu_host_count_ = 0;
  std::thread thread_;
};

}  // namespace hashmatch::video
