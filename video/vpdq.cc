// The decode loop: demux, decode (CPU threads or NVDEC), number and sample frames as vPDQ does,
// convert the sampled ones to RGB24 (swscale, SWS_AREA) and hand them to a frame sink.
#include "video/vpdq.h"

extern "C" {
#include <libavutil/cpu.h>
#include <libavutil/display.h>
#include <libavutil/hwcontext.h>
#include <libavutil/hwcontext_cuda.h>
#include <libavutil/imgutils.h>
#include <libavutil/pixdesc.h>
}

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <optional>
#include <string_view>
#include <thread>

#include "host/common/error.h"
#include "kernels/rt/device.h"
#include "video/cpu_pdq_sink.h"
#include "video/decoder_pool.h"
#include "video/ffmpeg_util.h"
#include "video/frame_convert.h"
#include "video/frame_sink.h"
#include "video/gpu_pdq_sink.h"
#include "video/nvdec.h"

namespace hashmatch::video {
namespace {

using Clock = std::chrono::steady_clock;

// Bytes beyond a buffer's end that swscale's vector code may touch (FFmpeg pads its own frame
// buffers by 16 + the SIMD alignment, at most 64).
constexpr std::size_t kSwsPadding = 256;

// The padded row of an RGB24 frame `width` wide that swscale converts into (to_host_rgb), and the
// buffer it needs for `height` rows: what a frame sink's recycled buffers are matched by.
std::size_t rgb_stride(int width) {
  return (((std::size_t(width) + 7) & ~std::size_t(7)) * 3 + 63) & ~std::size_t(63);
}
std::size_t rgb_buffer_bytes(int width, int height) {
  return rgb_stride(width) * std::size_t(height) + rgb_stride(width) + kSwsPadding;
}

[[noreturn]] void fail(const std::string& reason, const std::string& message) {
  throw MediaError(reason, message);
}

double env_double(const char* name, double fallback) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  char* end = nullptr;
  const double x = std::strtod(v, &end);
  if (end == v || *end || !(x > 0) || x > 1e9) {
    throw InvalidArgument(std::string(name) + " must be a positive number of at most 1e9, got '" +
                          v + "'");
  }
  return x;
}

// The clockwise rotation (0, 90, 180, 270) that shows the frame upright, as FFmpeg's command line
// computes it for autorotation. *ccw: the display matrix's own angle (counterclockwise degrees, as
// ffprobe prints "rotation").
int rotation_of(const AVStream* st, double* ccw) {
  const uint8_t* sd = av_stream_get_side_data(st, AV_PKT_DATA_DISPLAYMATRIX, nullptr);
  *ccw = 0;
  if (!sd) return 0;
  const double angle = av_display_rotation_get(reinterpret_cast<const int32_t*>(sd));
  if (std::isnan(angle)) return 0;
  *ccw = angle;
  double theta = -angle;
  theta -= 360 * std::floor(theta / 360 + 0.9 / 360);
  if (std::fabs(theta - 90) < 1) return 90;
  if (std::fabs(theta - 180) < 1) return 180;
  if (std::fabs(theta - 270) < 1) return 270;
  return 0;
}

// Rotates an RGB24 image clockwise by 90, 180 or 270 degrees.
Image rotate_rgb(const Image& in, int degrees) {
  Image out;
  const bool swap = degrees == 90 || degrees == 270;
  out.width = swap ? in.height : in.width;
  out.height = swap ? in.width : in.height;
  out.channels = 3;
  out.pixels.resize(std::size_t(out.width) * out.height * 3);
  for (int y = 0; y < in.height; ++y) {
    const uint8_t* src = in.row(y);
    for (int x = 0; x < in.width; ++x) {
      int ox, oy;
      switch (degrees) {
        case 90: ox = in.height - 1 - y; oy = x; break;
        case 180: ox = in.width - 1 - x; oy = in.height - 1 - y; break;
        default: ox = y; oy = in.width - 1 - x; break;  // 270
      }
      std::memcpy(out.row(oy) + std::size_t(ox) * 3, src + std::size_t(x) * 3, 3);
    }
  }
  return out;
}

DevicePixelLayout layout_of(AVPixelFormat sw) {
  switch (sw) {
    case AV_PIX_FMT_NV12: return DevicePixelLayout::kNv12;
    case AV_PIX_FMT_P010:
    case AV_PIX_FMT_P016: return DevicePixelLayout::kP016;
    case AV_PIX_FMT_YUV444P: return DevicePixelLayout::kYuv444;
    case AV_PIX_FMT_YUV444P16: return DevicePixelLayout::kYuv444P16;
    default: throw Error(std::string("NVDEC frame in an unexpected layout: ") +
                         av_get_pix_fmt_name(sw));
  }
}

// NVDEC sessions decoding keyframes-only videos now (HASHMATCH_NVDEC_KEYFRAME_SESSIONS per
// process, default 8: one per NVDEC engine of an H100, the rest of the videos on the CPU cores).
std::atomic<int> g_keyframe_nvdec{0};

int keyframe_nvdec_cap() {
  const char* v = std::getenv("HASHMATCH_NVDEC_KEYFRAME_SESSIONS");
  if (!v || !*v) return 8;
  char* end = nullptr;
  const long x = std::strtol(v, &end, 10);
  if (end == v || *end || x < 0 || x > 256) return 8;
  return static_cast<int>(x);
}

// H.264: how a video ends (HASHMATCH_H264_NO_DRAIN, video/decoder_pool.h).
// kNvdec (default): on NVDEC, the last pictures are pushed out of the reordering delay by copies
// of the last IDR packet, and the decoder goes to the pool unflushed (a flush would make FFmpeg
// create a new NVDEC decoder for the next video); CPU decoders are drained and flushed. kAll: the
// CPU decoders too end without a drain (tests, measurements). kOff: always drained and flushed.
enum class NoDrain { kOff, kNvdec, kAll };

NoDrain no_drain_mode() {
  const char* v = std::getenv("HASHMATCH_H264_NO_DRAIN");
  if (!v || !*v) return NoDrain::kNvdec;
  const std::string_view m(v);
  if (m == "off" || m == "0") return NoDrain::kOff;
  if (m == "all") return NoDrain::kAll;
  return NoDrain::kNvdec;
}

// Timestamps of the copies of a key packet that push the last pictures out (their frames are
// dropped as they come out, in this video or at the start of the next on the same decoder);
// far from any real timestamp (AV_NOPTS_VALUE is INT64_MIN).
constexpr int64_t kPushPts = INT64_MIN + 4096;
constexpr int kMaxPushes = 32;
bool is_push_ts(int64_t ts) { return ts >= kPushPts && ts < kPushPts + kMaxPushes; }

// Adds the seconds from construction to the end of the scope to `acc` (VideoTimes).
class StageClock {
 public:
  explicit StageClock(double& acc) : acc_(acc), t0_(Clock::now()) {}
  ~StageClock() { acc_ += std::chrono::duration<double>(Clock::now() - t0_).count(); }
  StageClock(const StageClock&) = delete;
  StageClock& operator=(const StageClock&) = delete;

 private:
  double& acc_;
  Clock::time_point t0_;
};

// The decode session of one video.
class Session {
 public:
  // `fresh_decoder`: open a decoder of its own, never one from the pool (a second pass, below).
  Session(const VideoInput& in, const VideoOptions& opts, const DecodeLimits& limits,
          VpdqResult* result, bool fresh_decoder = false)
      : in_(in), opts_(opts), limits_(limits), r_(result), fresh_decoder_(fresh_decoder) {}
  // A decoder that decoded its video cleanly goes to the pool (video/decoder_pool.h).
  ~Session() {
    if (reusable_ && dec_) {
      ff::DecoderLog::detach(dec_.get());
      decoder_pool::give(pool_key_, std::move(dec_), /*drained=*/!undrained_,
                         pushes_carried_ + pushes_pending_);
    }
    if (keyframe_ticket_) --g_keyframe_nvdec;
  }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Opens the container, picks the video stream and checks the limits. Throws MediaError.
  // `deadline`: when the time budget runs out (default: opts.time_budget_seconds from now).
  void open(std::optional<Clock::time_point> deadline = std::nullopt);
  // Sets up the decoder and decodes to the end, handing sampled frames to `sink`. Throws
  // MediaError on a fatal problem (the frames already handed over stay with the sink).
  void run(FrameSink& sink);

  int frame_mod() const { return frame_mod_; }
  Clock::time_point deadline() const { return deadline_; }
  // Seconds since open() began.
  double elapsed() const { return std::chrono::duration<double>(Clock::now() - opened_).count(); }
  // Keyframes-only stopped early: key packets give no picture on their own (H.264 intra refresh:
  // recovery points on P pictures), so the video is to be hashed in exact mode (hash_video does).
  bool needs_exact_mode() const { return needs_exact_; }
  // NVDEC refused the stream at its first frame (on_frame): to be decoded again on the CPU.
  bool nvdec_refused() const { return nvdec_refused_; }
  // The video showed damage on a decoder kept without a drain: error concealment may have drawn
  // on the previous video's pictures, so the result depends on what came before; hash_video
  // decodes it again on a fresh decoder (the result a fresh run gives, every time).
  bool damaged_on_undrained_decoder() const { return taken_undrained_ && damaged(); }
  // The video showed damage on a CPU decoder with several threads: FFmpeg's error concealment
  // then depends on them (under frame threads it draws on pictures the other threads may or may
  // not have finished: the hashes of the damaged part differ from run to run; under slice
  // threads it differs with their count), so hash_video decodes it again on one decoder thread:
  // the same hashes every time, whatever the thread count. Errors logged before the first frame
  // but after the first key packet that starts a sequence was sent (DecoderLog::armed, in run())
  // count here (not as damage): under frame threads a damaged packet among the first few can log
  // before the first frame comes out or after, as the threads' timing has it (keyframes-only,
  // where a frame comes out only a few key frames later, saw one clip's damage in 9 runs of 12);
  // on one thread the verdict is the same every time.
  bool damaged_under_threads() const {
    return threaded_ && (damaged() || dlog_.uncounted.load() > 0);
  }

 private:
  bool damaged() const {
    return r_->info.decode_errors > 0 || r_->info.corrupt_frames > 0 || dlog_.errors.load() > 0;
  }
  // The stream's codec parameters as the decoder pool keys them (nvdec::refused).
  const std::string& stream_params() {
    if (stream_params_.empty()) {
      stream_params_ = decoder_pool::make_key(st_->codecpar, st_->time_base, 0, 0, 0, 0, 0).params;
    }
    return stream_params_;
  }
  // Whether NVDEC can take this stream at all: its codec, its format (nvdec::stream_supported),
  // no recent refusal (nvdec::refused); otherwise false with the reason in *why (when given).
  bool nvdec_can_take(const AVCodec* codec, std::string* why);
  // keyframes-only with decoder auto: whether NVDEC takes this video (video/decoder_pool.h).
  bool nvdec_for_keyframes(int extra_frames);
  bool is_ivf() const;
  void note_problems();
  // The file is shorter than its container declares (declared_shortfall_): truncated; `tail`
  // ends the message.
  [[noreturn]] void fail_short_of_declared(const std::string& tail) const {
    fail("truncated", "the file ends " + std::to_string(declared_shortfall_) +
                          " bytes before the end its container declares (truncated file?)" + tail);
  }
  bool ivf_cut_short() const;
  void open_decoder(const FrameSink& sink);
  // *gpu_missing: false when the GPU is there but this stream or the slots kept it from NVDEC.
  bool try_open_nvdec(const AVCodec* codec, int extra_frames, std::string* why, bool* gpu_missing);
  void open_cpu_decoder(const AVCodec* codec);
  // A decoder kept for `key` (decoder_pool::take), or null; none for a fresh-decoder session.
  ff::CodecPtr take_pooled(const decoder_pool::Key& key) {
    if (fresh_decoder_) return nullptr;
    return decoder_pool::take(key, &taken_undrained_, &pushes_carried_);
  }
  // Non-key frames are discarded by the decoder in keyframes-only mode.
  // A demuxer of a container sniff_format tells by its magic (not one found by FFmpeg's probe).
  bool known_demuxer() const {
    static constexpr std::string_view kKnown[] = {"mov,mp4,m4a,3gp,3g2,mj2",
                                                  "matroska,webm",
                                                  "avi",
                                                  "mpegts",
                                                  "flv",
                                                  "mpeg",
                                                  "ogg",
                                                  "asf",
                                                  "ivf",
                                                  "yuv4mpegpipe",
                                                  "nut",
                                                  "mxf",
                                                  "h264",
                                                  "hevc",
                                                  "m4v",
                                                  "mpegvideo"};
    const std::string_view name = demux_->get()->iformat->name;
    return std::find(std::begin(kKnown), std::end(kKnown), name) != std::end(kKnown);
  }
  AVDiscard skip_frame() const { return opts_.keyframes_only ? AVDISCARD_NONKEY : AVDISCARD_DEFAULT; }
  ff::CodecPtr new_cpu_decoder(const AVCodec* codec, int threads, int thread_type);
  void reopen_with_slice_threads();
  // H.264: the last frames out without a drain (NoDrain above); false when that does not apply
  // or frames are still in the decoder (then it is drained as usual).
  bool end_without_drain(FrameSink& sink);
  // avcodec_flush_buffers: the decoder holds nothing after it, push copies included.
  void flush_decoder() {
    const StageClock c(info().times.decode);
    avcodec_flush_buffers(dec_.get());
    pushes_pending_ = pushes_carried_ = 0;
  }
  void send(AVPacket* pkt, FrameSink& sink);
  // `draining`: a null packet was sent (the decoder's last frames).
  void receive_all(FrameSink& sink, bool draining = false);
  void on_frame(AVFrame* frame, FrameSink& sink);
  // `src` as RGB24 at the target size, in a buffer from `sink` (take_buffer).
  Image to_host_rgb(const AVFrame* src, FrameSink& sink);
  const AVFrame* device_to_host(const AVFrame* hw);
  void check_deadline() const;
  void decode_error(int err);
  // The decoder refused a frame larger than max_pixels (the picture size grew mid-stream).
  void check_pixel_refusal();

  const VideoInput& in_;
  const VideoOptions& opts_;
  const DecodeLimits& limits_;
  VpdqResult* r_;
  VideoInfo& info() { return r_->info; }
  // What the decoder logs (declared before dec_: outlives it and its threads).
  ff::DecoderLog dlog_;

  Clock::time_point deadline_;
  Clock::time_point opened_ = Clock::now();
  std::unique_ptr<ff::Demuxer> demux_;
  AVStream* st_ = nullptr;
  const AVCodec* codec_ = nullptr;
  nvdec::Slot slot_;         // released after the decoder below is gone
  ff::BufferPtr hw_device_;
  ff::CodecPtr dec_;
  decoder_pool::Key pool_key_;  // what dec_ was opened for
  std::string stream_params_;   // stream_params()
  bool reusable_ = false;       // set once the video decoded to its end without a problem
  bool nvdec_ = false;
  bool sw_fallback_ = false;    // the NVDEC decoder fell back to FFmpeg's software decoder
  bool nvdec_refused_ = false;  // ... at the first frame (nvdec_refused())
  bool slice_threads_ = false;  // keyframes-only: a CPU decoder with slice threads (open GOPs)
  bool keyframe_ticket_ = false;  // counted in g_keyframe_nvdec
  double fps_ = 0;
  int frame_mod_ = 1;
  int rotate_ = 0;
  int target_w_ = 0, target_h_ = 0;
  int64_t video_packets_ = 0;
  int64_t first_pts_ = AV_NOPTS_VALUE;  // of the video packets read (the IVF length check)
  int64_t last_pts_ = AV_NOPTS_VALUE;
  int64_t declared_shortfall_ = 0;  // bytes the file lacks of its container's declared size
  bool streamed_ = false;  // written to a pipe: the header's lengths are placeholders
  // The truncation verdict (dlog_.ended_early): video packets read when the demuxer said the file
  // ended early, and when a first problem (a decode error, a counted FFmpeg error) was seen.
  int64_t early_packet_ = -1;
  int64_t problem_packet_ = -1;
  int64_t key_packets_ = 0;  // keyframes-only: key packets sent to the decoder
  bool starts_with_key_ = true;             // the first video packet is a key packet
  int64_t first_key_ts_ = AV_NOPTS_VALUE;   // keyframes-only: the first frame's timestamp
  int64_t key_dts_ = AV_NOPTS_VALUE;  // keyframes-only: DTS of the last key packet, if it had no PTS
  int64_t decoded_at_key_ = 0;  // keyframes-only: frames decoded when the last key packet was sent
  int64_t last_number_ = -1;  // keyframes-only: the last key frame's number
  int64_t last_index_ = 0;    // ... and the index of its packet among the video packets
  // keyframes-only: key packets sent whose frame has not come out yet (at most 64 kept).
  struct SentKey {
    int64_t pts;    // the packet's PTS (AV_NOPTS_VALUE: none)
    int64_t pos;    // its byte position in the file (-1: unknown)
    int64_t index;  // its index among the video packets
    int64_t leading = 0;  // HEVC leading pictures read after it (a raw stream's CRA)
  };
  std::deque<SentKey> key_index_;
  int64_t first_key_index_ = -1;  // keyframes-only: the index of the first key packet sent
  int keys_without_picture_ = 0;  // keyframes-only: key packets in a row that gave no picture
  bool needs_exact_ = false;
  bool threaded_ = false;         // a CPU decoder with several threads decoded
  int64_t packets_sent_ = 0;      // video packets sent to the decoder
  ff::PacketPtr last_idr_;        // H.264: the last IDR picture with a timestamp sent
  bool undrained_ = false;        // every frame came out without a drain (end_without_drain)
  bool fresh_decoder_ = false;    // never take a decoder from the pool
  bool taken_undrained_ = false;  // dec_ came from the pool, kept there without a drain
  // Push copies sent to dec_ (here or by the video before it on a kept decoder) whose frames have
  // not come out: only that many frames with a push timestamp are dropped, so a real frame whose
  // timestamp falls in that range (a container can say anything) is never taken for one.
  int pushes_pending_ = 0;  // sent here
  // ... and by the video before on a decoder kept without a drain: those come out before any
  // frame of this video, so the first frame of this video ends them (copies the decoder
  // discarded, an IDR with no_output_of_prior_pics, must not leave a count behind).
  int pushes_carried_ = 0;
  bool push_range_seen_ = false;  // a packet of this video had a push timestamp: no pushing
  int first_decode_error_frame_ = -1;
  std::string first_decode_error_;
  ff::FramePtr frame_, sw_frame_;
  ff::SwsPtr sws_;
  std::vector<uint8_t> planar_;  // NVDEC frame re-laid out as the CPU decoder's format
  ff::FramePtr planar_frame_ = ff::make_frame();  // points into planar_
};

void Session::check_deadline() const {
  if (Clock::now() > deadline_) {
    char budget[96];
    std::snprintf(budget, sizeof budget, "%g s", opts_.time_budget_seconds);
    if (opts_.waited_seconds > 0) {
      const std::size_t n = std::strlen(budget);
      std::snprintf(budget + n, sizeof budget - n, " (%.1f s of it waiting to start)",
                    opts_.waited_seconds);
    }
    fail("timeout", std::string("decoding took longer than the time budget of ") + budget + "; " +
                        std::to_string(r_->info.frames_decoded) + " frames decoded by then");
  }
}

void Session::open(std::optional<Clock::time_point> deadline) {
  opened_ = Clock::now();
  const StageClock c(info().times.open);
  ff::init_logging();
  // None or past 1e9 s (~32 years): 1e9 s, which the clock's nanoseconds hold.
  const double budget = opts_.time_budget_seconds > 0 && opts_.time_budget_seconds < 1e9
                            ? opts_.time_budget_seconds
                            : 1e9;
  // The time it waited to start counts (a first pass; a second one has its first's deadline).
  const double left = budget - std::max(0.0, opts_.waited_seconds);
  if (!deadline && left <= 0) {
    char why[160];
    std::snprintf(why, sizeof why,
                  "waited %.1f s to start, past the time budget of %g s: not decoded (worth "
                  "retrying when less busy)",
                  opts_.waited_seconds, opts_.time_budget_seconds);
    fail("timeout", why);
  }
  deadline_ = deadline ? *deadline
                       : Clock::now() + std::chrono::microseconds(static_cast<int64_t>(left * 1e6));

  std::unique_ptr<ff::ByteSource> src;
  if (!in_.bytes.empty()) {
    src = std::make_unique<ff::MemorySource>(in_.bytes);
  } else if (!in_.path.empty()) {
    try {
      src = std::make_unique<ff::FileSource>(in_.path);
    } catch (const IoError& e) {
      fail("io", e.what());
    }
  } else {
    fail("empty", "empty input (0 bytes)");
  }
  if (src->size() == 0) fail("empty", "empty file (0 bytes)");
  declared_shortfall_ = ff::declared_shortfall(*src, &streamed_);
  if (int w = 0, h = 0; ff::y4m_picture_size(*src, &w, &h))
    check_dimensions(w, h, limits_, "video");
  demux_ = std::make_unique<ff::Demuxer>(std::move(src), deadline_);
  // Keyframes-only leaves out the container probe where the header has it all (MP4 H.264: the
  // probe decodes ~7 frames, more than a tenth of the key frames' work); HASHMATCH_VIDEO_FULL_PROBE=1
  // probes every file (the exact modes always do: vPDQ's frame rate and delays as the reference's).
  const char* full = std::getenv("HASHMATCH_VIDEO_FULL_PROBE");
  const bool probe_all = !opts_.keyframes_only || (full && std::string_view(full) == "1");
  const int err = demux_->open(probe_all);
  // The budget can run out inside the probe, which then returns what it has (no picture size,
  // no frame rate ...): that is a timeout, not a broken file.
  if (demux_->timed_out()) check_deadline();
  if (err < 0) {
    // A container that cannot be read because the file stops inside it (an MP4 whose index comes
    // last, cut before it): truncated.
    if (declared_shortfall_ > 0) {
      fail_short_of_declared(", and FFmpeg cannot read it: " + ff::error_string(err));
    }
    // The header was read and the probe after it failed: a picture size past the limit says why
    // better than the probe's error. (A Y4M header FFmpeg's demuxer refuses outright never gets
    // here: checked before, ff::y4m_picture_size.)
    if (const AVFormatContext* f = demux_->get()) {
      if (const int vi = ff::first_video_stream(f); vi >= 0) {
        const AVCodecParameters* par = f->streams[vi]->codecpar;
        if (par->width > 0 && par->height > 0) {
          check_dimensions(par->width, par->height, limits_, "video");
        }
      }
    }
    if (err == AVERROR_INVALIDDATA) {
      fail("corrupt", "not a video FFmpeg can read (broken or truncated container): " +
                          ff::error_string(err));
    }
    fail("corrupt", "cannot read the container: " + ff::error_string(err));
  }
  AVFormatContext* fmt = demux_->get();
  dlog_.attach_demuxer(fmt);
  info().container = fmt->iformat && fmt->iformat->name ? fmt->iformat->name : "";

  // The first video stream, as vPDQ takes it; cover art (attached pictures) is not a video.
  const int vi = ff::first_video_stream(fmt);
  for (unsigned i = 0; i < fmt->nb_streams; ++i) {
    const AVStream* s = fmt->streams[i];
    if (s->codecpar->codec_type == AVMEDIA_TYPE_VIDEO &&
        !(s->disposition & AV_DISPOSITION_ATTACHED_PIC)) {
      ++info().video_streams;
    }
    if (static_cast<int>(i) == vi) {
      st_ = fmt->streams[i];
    } else {
      fmt->streams[i]->discard = AVDISCARD_ALL;
    }
  }
  info().stream_index = vi;
  if (!st_) fail("no_video", "no video stream (audio-only or data-only file)");
  const AVCodecParameters* par = st_->codecpar;
  info().codec = avcodec_get_name(par->codec_id);
  if (par->width <= 0 || par->height <= 0) {
    fail("corrupt", "the video stream has no picture size (" + std::to_string(par->width) + "x" +
                        std::to_string(par->height) + ")");
  }
  check_dimensions(par->width, par->height, limits_, "video");
  // --vpdq-size N: every sampled frame becomes an N x N RGB image, under the same pixel limit.
  if (opts_.size > 0) check_dimensions(opts_.size, opts_.size, limits_, "--vpdq-size");
  info().width = par->width;
  info().height = par->height;

  AVRational rate = st_->avg_frame_rate;
  if (rate.num <= 0 || rate.den <= 0) rate = st_->r_frame_rate;
  fps_ = (rate.num > 0 && rate.den > 0) ? av_q2d(rate) : 0;
  if (!(fps_ > 0) || !std::isfinite(fps_)) {
    fail("unsupported", "the video stream has no frame rate (vPDQ samples by frame rate)");
  }
  info().fps = fps_;
  frame_mod_ = opts_.keyframes_only ? 1 : frame_mod_for(opts_.seconds_per_hash, fps_);
  info().frame_mod = frame_mod_;

  // An IVF written to a pipe has all ones in its length field (FFmpeg's muxer could not seek back
  // to fill it in): no length, not a video of 2^32 - 1 frames (nor one cut short, ivf_cut_short).
  // The same for an AVI written to a pipe (ff::declared_shortfall): its frame count is a
  // placeholder, and FFmpeg's duration too.
  if (streamed_ || (is_ivf() && st_->duration == int64_t(UINT32_MAX))) {
    st_->nb_frames = 0;
    st_->duration = AV_NOPTS_VALUE;
    fmt->duration = AV_NOPTS_VALUE;
  }
  double duration = 0;
  const double stream_duration = st_->duration != AV_NOPTS_VALUE && st_->duration > 0
                                     ? double(st_->duration) * av_q2d(st_->time_base)
                                     : 0;
  if (fmt->duration != AV_NOPTS_VALUE && fmt->duration > 0) {
    duration = double(fmt->duration) / AV_TIME_BASE;
    // Matroska's segment duration and an MP4's movie duration run from time 0, not from the first
    // frame: a 4-s clip whose timestamps start at 100,000 s (a capture remuxed with its clock, an
    // empty edit) said 100,004 s and was refused as too long. Where the container's duration is
    // past its start, the length is the stream's own duration, else the part after the start
    // (TS and FLV give the length itself, shorter than such a start: left as it is).
    if (fmt->start_time != AV_NOPTS_VALUE && fmt->start_time > 0 &&
        fmt->duration > fmt->start_time) {
      duration = stream_duration > 0 ? std::min(duration, stream_duration)
                                     : double(fmt->duration - fmt->start_time) / AV_TIME_BASE;
    }
  } else {
    duration = stream_duration;
  }
  info().duration_seconds = duration;
  if (opts_.max_duration_seconds > 0 && duration > opts_.max_duration_seconds) {
    fail("too_long", "video of " + std::to_string(static_cast<long long>(duration)) +
                         " s exceeds the limit of " +
                         std::to_string(static_cast<long long>(opts_.max_duration_seconds)) + " s");
  }

  double ccw = 0;
  const int rot = rotation_of(st_, &ccw);
  info().rotation_degrees = ccw;
  rotate_ = opts_.apply_rotation ? rot : 0;

  codec_ = avcodec_find_decoder(par->codec_id);
  if (!codec_) {
    fail("unsupported", "no decoder for the video codec '" + info().codec + "' in this FFmpeg");
  }
}

bool Session::try_open_nvdec(const AVCodec* codec, int extra_frames, std::string* why,
                             bool* gpu_missing) {
  *gpu_missing = false;
  // A codec or stream NVDEC cannot take on a machine without a GPU: nothing to say per video
  // (gpu_missing), as for any other video there.
  if (!nvdec_can_take(codec, why)) {
    *gpu_missing = !gpu_available();
    return false;
  }
  std::optional<std::chrono::steady_clock::time_point> wait;
  if (opts_.decoder == "cuda") wait = deadline_;
  bool busy = false;
  auto slot = nvdec::try_acquire(why, wait, &busy);
  if (!slot) {
    *gpu_missing = !busy;
    return false;
  }
  ff::BufferPtr dev = nvdec::device_context(slot->device(), why);
  if (!dev) {
    *gpu_missing = true;
    return false;
  }
  pool_key_ = decoder_pool::make_key(st_->codecpar, st_->time_base, slot->device(),
                                     nvdec::decoder_threads(), skip_frame(), extra_frames,
                                     static_cast<int64_t>(limits_.max_pixels));
  if (ff::CodecPtr pooled = take_pooled(pool_key_)) {
    dec_ = std::move(pooled);
    info().decoder_reused = true;
    hw_device_ = std::move(dev);
    slot_ = std::move(*slot);
    return true;
  }
  ff::CodecPtr ctx(avcodec_alloc_context3(codec));
  if (!ctx) throw std::bad_alloc();
  if (avcodec_parameters_to_context(ctx.get(), st_->codecpar) < 0) {
    *why = "cannot copy codec parameters";
    return false;
  }
  ctx->hw_device_ctx = av_buffer_ref(dev.get());
  if (!ctx->hw_device_ctx) throw std::bad_alloc();
  ctx->get_format = [](AVCodecContext*, const AVPixelFormat* fmts) {
    for (const AVPixelFormat* p = fmts; *p != AV_PIX_FMT_NONE; ++p) {
      if (*p == AV_PIX_FMT_CUDA) return *p;
    }
    // NVDEC refused this stream (profile, bit depth, size): FFmpeg's software decoder takes over,
    // with the first software format offered (never another hwaccel's format).
    for (const AVPixelFormat* p = fmts; *p != AV_PIX_FMT_NONE; ++p) {
      const AVPixFmtDescriptor* d = av_pix_fmt_desc_get(*p);
      if (d && !(d->flags & AV_PIX_FMT_FLAG_HWACCEL)) return *p;
    }
    return AV_PIX_FMT_NONE;
  };
  // Not ff::zero_fill_frames here: its get_buffer2 would also stand in for the hwaccel's frame
  // allocation, which has not run on a GPU; the software fallback inside an NVDEC session (a
  // stream NVDEC refuses) keeps FFmpeg's buffers as they come (docs/video.md).
  ctx->extra_hw_frames = extra_frames;  // surfaces a device sink may hold
  ctx->thread_count = nvdec::decoder_threads();
  ctx->pkt_timebase = st_->time_base;
  ctx->max_pixels = static_cast<int64_t>(limits_.max_pixels);
  ctx->skip_frame = skip_frame();
  const int err = avcodec_open2(ctx.get(), codec, nullptr);
  if (err < 0) {
    *why = "cannot open the NVDEC decoder: " + ff::error_string(err);
    return false;
  }
  dec_ = std::move(ctx);
  hw_device_ = std::move(dev);
  slot_ = std::move(*slot);
  return true;
}

void Session::open_cpu_decoder(const AVCodec* codec) {
  const int threads = opts_.threads > 0 ? opts_.threads : 0;  // 0: FFmpeg picks (cores)
  pool_key_ = decoder_pool::make_key(st_->codecpar, st_->time_base, -1, threads, skip_frame(), 0,
                                     static_cast<int64_t>(limits_.max_pixels));
  if (opts_.keyframes_only && threads != 1) {
    // A decoder an earlier video of this stream switched to slice threads (open GOPs).
    decoder_pool::Key sk = pool_key_;
    sk.thread_type = FF_THREAD_SLICE;
    if (ff::CodecPtr pooled = take_pooled(sk)) {
      dec_ = std::move(pooled);
      pool_key_ = sk;
      slice_threads_ = true;
      info().decoder_reused = true;
      return;
    }
  }
  if (ff::CodecPtr pooled = take_pooled(pool_key_)) {
    dec_ = std::move(pooled);
    info().decoder_reused = true;
    return;
  }
  dec_ = new_cpu_decoder(codec, threads, FF_THREAD_FRAME | FF_THREAD_SLICE);
}

// A freshly opened CPU decoder for the stream (`threads` 0: FFmpeg picks).
ff::CodecPtr Session::new_cpu_decoder(const AVCodec* codec, int threads, int thread_type) {
  ff::CodecPtr ctx(avcodec_alloc_context3(codec));
  if (!ctx) throw std::bad_alloc();
  if (avcodec_parameters_to_context(ctx.get(), st_->codecpar) < 0) {
    fail("corrupt", "cannot copy the video stream's codec parameters");
  }
  ctx->thread_count = threads;
  ctx->thread_type = thread_type;
  if (ff::zero_fills_frames(codec->id)) ff::zero_fill_frames(ctx.get());
  ctx->pkt_timebase = st_->time_base;
  ctx->max_pixels = static_cast<int64_t>(limits_.max_pixels);
  ctx->skip_frame = skip_frame();
  const int err = avcodec_open2(ctx.get(), codec, nullptr);
  if (err < 0) {
    fail("unsupported", "cannot open the " + info().codec + " decoder: " + ff::error_string(err));
  }
  return ctx;
}

// A CPU decoder like dec_, with slice threads only; kept for later videos of the stream under a
// key of its own (open_cpu_decoder takes it first for keyframes-only).
void Session::reopen_with_slice_threads() {
  dec_ = new_cpu_decoder(codec_, dec_->thread_count, FF_THREAD_SLICE);  // frees the old one
  dlog_.attach(dec_.get());
  slice_threads_ = true;
  pool_key_.thread_type = FF_THREAD_SLICE;
}

void Session::open_decoder(const FrameSink& sink) {
  const std::string& want = opts_.decoder;
  if (want != "auto" && want != "cpu" && want != "cuda") {
    throw InvalidArgument("video decoder must be auto, cpu or cuda, got '" + want + "'");
  }
  // Spare NVDEC surfaces: what a device sink may hold (<= 12: NVDEC has 32 surfaces with the
  // reference frames, and FFmpeg's hwaccel fails to start past that), a few for the copy back.
  const int extra = sink.wants_device_frames() ? std::clamp(sink.max_held_device_frames(), 1, 12) : 4;
  // Keyframes-only with decoder auto: a video's few key frames do not pay for opening an NVDEC
  // decoder (~0.1 s on an H100: with 2-second GOPs 16 fresh NVDEC sessions gave 207
  // video-seconds/s, 16 CPU sessions 831), so NVDEC takes such a video only with a decoder kept
  // open from an earlier video of the same stream parameters, or to open one for a stream that
  // recurs; the others decode on the CPU. `cuda` still forces NVDEC. (An H.264 decoder keeps its
  // hardware decoder only when its video ended without a drain, end_without_drain below;
  // HASHMATCH_NVDEC_KEYFRAME_SESSIONS=0 measures without NVDEC.)
  if (want == "auto" && opts_.keyframes_only && !nvdec_for_keyframes(extra)) {
    if (info().note.empty() && gpu_available()) {  // without a GPU there is nothing to explain
      info().note = "keyframes-only: decoded on the CPU (no NVDEC decoder open for this stream)";
    }
  } else if (want != "cpu") {
    std::string why;
    bool gpu_missing = false;
    if (try_open_nvdec(codec_, extra, &why, &gpu_missing)) {
      nvdec_ = true;
      info().decoder = "nvdec";
      return;
    }
    if (keyframe_ticket_) {
      keyframe_ticket_ = false;
      --g_keyframe_nvdec;
    }
    // HASHMATCH_REQUIRE_GPU=1: a missing or broken GPU is an error (busy decoders or a stream
    // NVDEC cannot take still go to the CPU).
    if (gpu_missing && gpu_required()) {
      throw CudaError("NVDEC wanted with HASHMATCH_REQUIRE_GPU=1 but unavailable: " + why);
    }
    // `auto` on a machine without a CUDA device: nothing to say per video (`hashmatch info`, the
    // server's start-up log and the scan summary say it once). Busy NVDEC sessions, a stream
    // NVDEC cannot take, or a device whose NVDEC does not start are said.
    if (want == "cuda") {
      info().note = "NVDEC unavailable, decoded on the CPU: " + why;
    } else if (!gpu_missing || gpu_available()) {
      info().note = "CPU decode: " + why;
    }
  }
  open_cpu_decoder(codec_);
  info().decoder = "cpu";
  info().decoder_threads = std::max(1, dec_->thread_count);
  // Frame or slice threads; or a decoder with threads of its own (libdav1d), whose thread count
  // is left as asked (0: its own choice).
  threaded_ =
      dec_->active_thread_type != 0
          ? dec_->thread_count > 1
          : (dec_->codec->capabilities & AV_CODEC_CAP_OTHER_THREADS) && dec_->thread_count != 1;
}

// Remembers when the first problem was seen (early_packet_ beside it: the truncation verdict).
void Session::note_problems() {
  if (problem_packet_ < 0 && (info().decode_errors > 0 || dlog_.errors.load() > 0)) {
    problem_packet_ = video_packets_;
  }
}

bool Session::is_ivf() const {
  const AVFormatContext* fmt = demux_->get();
  return fmt->iformat != nullptr && std::strcmp(fmt->iformat->name, "ivf") == 0;
}

// An IVF header's length field is a frame count (libvpx's writers) or a duration in time-base units
// (FFmpeg's muxer, which rounds it from the mean frame interval; all ones when it wrote to a pipe).
// A file that falls short under both readings, fewer packets than the count and its end more than
// three frame intervals and 2 % before the duration, was cut short; a complete file of either
// kind matches one of them.
bool Session::ivf_cut_short() const {
  if (!is_ivf()) return false;
  const int64_t length = st_->duration;
  if (length <= 0 || length == AV_NOPTS_VALUE) return false;
  if (video_packets_ + 1 >= length) return false;
  if (last_pts_ == AV_NOPTS_VALUE) return true;
  // In 128 bits: a container's timestamps can be anything.
  using Wide = __int128;
  const Wide step = video_packets_ > 1
                        ? std::max<Wide>(1, (Wide(last_pts_) - first_pts_) / (video_packets_ - 1))
                        : 1;
  return Wide(length) - (Wide(last_pts_) + step) > 3 * step + length / 50;
}

bool Session::nvdec_can_take(const AVCodec* codec, std::string* why) {
  if (!nvdec::codec_supported(codec)) {
    if (why) *why = "NVDEC (FFmpeg CUDA hwaccel) does not decode " + info().codec;
    return false;
  }
  if (!nvdec::stream_supported(st_->codecpar, why)) return false;
  if (nvdec::refused(stream_params())) {
    if (why) *why = "NVDEC refused an earlier video of this stream (profile, bit depth or size)";
    return false;
  }
  return true;
}

bool Session::nvdec_for_keyframes(int extra_frames) {
  if (!nvdec_can_take(codec_, nullptr)) return false;
  const decoder_pool::Key key = decoder_pool::make_key(
      st_->codecpar, st_->time_base, 0, nvdec::decoder_threads(), AVDISCARD_NONKEY, extra_frames,
      static_cast<int64_t>(limits_.max_pixels));
  const int seen = decoder_pool::note_seen(key.params);
  if (decoder_pool::cpu_capacity() == 0) return false;  // no pooling: never worth it
  if (!decoder_pool::has_idle(key, true) && seen < 2) return false;
  // Held for the session: keyframe_ticket_ gives it back in the destructor.
  int cur = g_keyframe_nvdec.load();
  do {
    if (cur >= keyframe_nvdec_cap()) return false;
  } while (!g_keyframe_nvdec.compare_exchange_weak(cur, cur + 1));
  keyframe_ticket_ = true;
  return true;
}

void Session::decode_error(int err) {
  if (err == AVERROR(ENOMEM)) throw std::bad_alloc();
  check_pixel_refusal();
  if (info().decode_errors++ == 0) {
    first_decode_error_ = ff::error_string(err);
    first_decode_error_frame_ = static_cast<int>(info().frames_decoded);
  }
  if (info().decode_errors > opts_.max_decode_errors) {
    fail("corrupt", "more than " + std::to_string(opts_.max_decode_errors) +
                        " packets failed to decode (first: " + first_decode_error_ +
                        "); gave up after " + std::to_string(info().frames_decoded) + " frames");
  }
}

void Session::check_pixel_refusal() {
  if (dlog_.too_many_pixels) {
    fail("too_many_pixels", "a frame of the video is larger than the limit of " +
                                std::to_string(limits_.max_pixels) +
                                " pixels (HASHMATCH_MAX_PIXELS); " +
                                std::to_string(info().frames_decoded) + " frames decoded before");
  }
}

void Session::run(FrameSink& sink) {
  {
    const StageClock c(info().times.decoder);
    open_decoder(sink);
  }
  dlog_.attach(dec_.get());
  AVFormatContext* fmt = demux_->get();
  frame_ = ff::make_frame();
  sw_frame_ = ff::make_frame();
  ff::PacketPtr pkt = ff::make_packet();
  target_w_ = opts_.size > 0 ? opts_.size : 0;
  target_h_ = opts_.size > 0 ? opts_.size : 0;

  const int nal_length_size = ff::nal_length_size(st_->codecpar);
  int read_err = 0;
  for (;;) {
    check_deadline();
    int err;
    {
      const StageClock c(info().times.demux);
      err = av_read_frame(fmt, pkt.get());
    }
    note_problems();
    if (early_packet_ < 0 && dlog_.ended_early) early_packet_ = video_packets_;
    if (err == AVERROR_EOF) break;
    if (err == AVERROR(EAGAIN)) continue;
    if (err < 0) {
      check_deadline();
      read_err = err;
      break;
    }
    if (pkt->stream_index != st_->index) {
      av_packet_unref(pkt.get());
      continue;
    }
    if (video_packets_++ == 0) starts_with_key_ = (pkt->flags & AV_PKT_FLAG_KEY) != 0;
    if (pkt->pts != AV_NOPTS_VALUE) {
      if (first_pts_ == AV_NOPTS_VALUE || pkt->pts < first_pts_) first_pts_ = pkt->pts;
      if (last_pts_ == AV_NOPTS_VALUE || pkt->pts > last_pts_) last_pts_ = pkt->pts;
    }
    if (opts_.keyframes_only && !(pkt->flags & AV_PKT_FLAG_KEY)) {
      // A raw HEVC stream's CRA key frame is displayed after its leading pictures, which follow
      // it in the stream: counted, for its number (no timestamps to number it by).
      if (pkt->pts == AV_NOPTS_VALUE && pkt->dts == AV_NOPTS_VALUE && !key_index_.empty() &&
          codec_->id == AV_CODEC_ID_HEVC && ff::hevc_leading_picture(nal_length_size, pkt.get())) {
        ++key_index_.back().leading;
      }
      av_packet_unref(pkt.get());
      continue;
    }
    // A key packet that starts a sequence (an IDR; ff::key_packet_starts_sequence), for
    // keyframes-only's resets below; an H.264 one with a timestamp for the end without a drain
    // (end_without_drain) and the state of a decoder kept after one.
    const bool starts_sequence =
        (pkt->flags & AV_PKT_FLAG_KEY) &&
        ff::key_packet_starts_sequence(st_->codecpar->codec_id, nal_length_size, pkt.get());
    const bool idr_with_pts =
        codec_->id == AV_CODEC_ID_H264 && starts_sequence && pkt->pts != AV_NOPTS_VALUE;
    // A kept H.264 decoder may come from a video that ended without a drain: it still holds that
    // video's push copies (IDR pictures: dropped as they come out, but references). A first
    // packet that is not an IDR with a timestamp gets the drained and reset decoder a fresh one
    // would be (its frames must not be predicted from the copies).
    if (packets_sent_ == 0 && info().decoder_reused && codec_->id == AV_CODEC_ID_H264 &&
        !idr_with_pts) {
      send(nullptr, sink);
      flush_decoder();
    }
    if (is_push_ts(pkt->pts) || is_push_ts(pkt->dts)) push_range_seen_ = true;
    if (idr_with_pts) {
      if (!last_idr_) last_idr_ = ff::make_packet();
      av_packet_unref(last_idr_.get());
      if (av_packet_ref(last_idr_.get(), pkt.get()) < 0) throw std::bad_alloc();
    }
    if (opts_.keyframes_only) {
      // An open-GOP key frame (H.264 I with a recovery point, HEVC CRA) after others: the decoder
      // is drained and reset first, as a seek to it would leave it (ff::key_packet_starts_sequence).
      // So is one after a key packet without a PTS (AVI, MPEG-PS): that packet's frame comes out
      // of the drain and is numbered from the packet's DTS (a decoder with a reordering delay
      // would hand it out only with the next key packet, under that packet's timestamps).
      // On NVDEC each reset of an H.264 decoder creates a new hardware decoder at the next slice
      // (video/decoder_pool.h): ~0.1 s per such key frame there.
      if (key_packets_ > 0 && (key_dts_ != AV_NOPTS_VALUE || !starts_sequence)) {
        send(nullptr, sink);
        // Nothing came of the last key packet, even drained. Twice in a row (one damaged key
        // frame is not enough): the stream's key packets are recovery points that need the frames
        // before them (H.264 intra refresh), and keyframes-only would hash the first frame only.
        if (info().frames_decoded == decoded_at_key_ && ++keys_without_picture_ >= 2 &&
            info().decode_errors == 0) {
          needs_exact_ = true;
          return;
        }
        if (info().frames_decoded > decoded_at_key_) keys_without_picture_ = 0;
        flush_decoder();
        // Frame threads cannot overlap key frames decoded one at a time: slice threads (HEVC
        // wavefront rows, H.264 slices) can still split each of them (+30 to +48 % for a lone
        // 2-thread session on x265 1080p clips, docs/performance.md).
        if (!nvdec_ && !slice_threads_ && dec_->active_thread_type == FF_THREAD_FRAME) {
          const StageClock c(info().times.decoder);
          reopen_with_slice_threads();
        }
      }
      key_dts_ = pkt->pts == AV_NOPTS_VALUE ? pkt->dts : AV_NOPTS_VALUE;
      key_index_.push_back({pkt->pts, pkt->pos, video_packets_ - 1});
      if (key_index_.size() > 64) key_index_.pop_front();
      if (first_key_index_ < 0) first_key_index_ = video_packets_ - 1;
      decoded_at_key_ = info().frames_decoded;
      ++key_packets_;
    }
    // From the first key packet that starts a sequence on, errors the decoder logs before its
    // first frame are worth a second look (damaged_under_threads). Those of packets before it are
    // a cut stream's, and so are those after an open-GOP key frame: a stream cut there starts
    // with leading pictures whose references were cut away (FFmpeg's H.264 decoder logs for them
    // under frame threads, and the video is clean).
    if (starts_sequence) dlog_.armed = true;
    send(pkt.get(), sink);
    note_problems();
    ++packets_sent_;
    av_packet_unref(pkt.get());
  }
  // The decoder's delayed frames: pushed out (H.264, end_without_drain) or drained.
  if (read_err != 0 || !end_without_drain(sink)) send(nullptr, sink);

  // Demuxers of containers no magic number here tells (MediaFormat::kOtherVideo: GXF, RoQ ...)
  // may end a whole file with an error rather than AVERROR_EOF: one at the end of the bytes is
  // taken as the end there, and said, since such a file's truncation cannot be told.
  if (read_err != 0 && demux_->io_eof() && !known_demuxer()) {
    const std::string n = "the " + std::string(demux_->get()->iformat->name) +
                          " demuxer ended at the end of the file with an error (" +
                          ff::error_string(read_err) + "): a cut file cannot be told";
    info().note += (info().note.empty() ? "" : "; ") + n;
    read_err = 0;
  }
  if (read_err != 0) {
    const bool eof = demux_->io_eof();
    fail(eof ? "truncated" : "corrupt",
         std::string(eof ? "file ends early (truncated?): " : "cannot read the container: ") +
             ff::error_string(read_err) + "; " + std::to_string(info().frames_decoded) +
             " frames decoded before");
  }
  check_pixel_refusal();
  // A container that lists more frames than the file holds was cut short. Packets read, not
  // frames decoded: decoders rightly drop some (the pre-roll before an edit list's start, frames
  // before the first key frame of a stream cut mid-GOP), and damage has its own verdict below.
  // MP4/MOV: the frame count is the sum of the time-to-sample table's counts, which nothing
  // checks against the sample-size table the demuxer's index is built from (a count raised by a
  // hand made a complete file 'truncated'): the smaller of the two is what the file must hold.
  // AVI: the count includes the empty chunks a muxer writes for dropped frames and for a video
  // that starts after the audio (FFmpeg's fills the gaps so), which the demuxer never returns nor
  // puts in its index: as for MP4, the index's size where it has one. (A cut AVI loses its index,
  // at the end, and is told by its RIFF size below.)
  int64_t listed = st_->nb_frames;
  const char* demuxer = demux_->get()->iformat->name;
  if (listed > 0 &&
      (std::strcmp(demuxer, "mov,mp4,m4a,3gp,3g2,mj2") == 0 || std::strcmp(demuxer, "avi") == 0)) {
    const int entries = avformat_index_get_entries_count(st_);
    if (entries > 0) listed = std::min<int64_t>(listed, entries);
  }
  if (listed > 0 && video_packets_ + 1 < listed) {
    fail("truncated", "the container lists " + std::to_string(listed) +
                          " frames but only " + std::to_string(video_packets_) +
                          " could be read (truncated file?); " +
                          std::to_string(info().frames_decoded) + " frames decoded");
  }
  if (ivf_cut_short()) {
    fail("truncated", "the IVF header gives a length of " + std::to_string(st_->duration) +
                          " but the file holds " + std::to_string(video_packets_) +
                          " frames (truncated file?); " + std::to_string(info().frames_decoded) +
                          " frames decoded");
  }
  // Matroska/WebM, AVI, FLV and MP4 say how long they are (ff::declared_shortfall).
  if (declared_shortfall_ > 0) {
    fail_short_of_declared("; " + std::to_string(info().frames_decoded) + " frames decoded");
  }
  // The demuxer found the file shorter than its own structures say (a Matroska element or an MP4
  // sample running past the end: a cut fragmented MP4, a cut Matroska of unknown size), with no
  // damage seen before the last packet it read: truncated, whatever the decoder made of that
  // packet (MP4's demuxer says so only at the read after the cut sample). Damage seen earlier
  // (a broken element size can run past the end too) gets the damage verdict below.
  const int64_t early_at = early_packet_ >= 0 ? early_packet_ : video_packets_;
  if (dlog_.ended_early && (problem_packet_ < 0 || problem_packet_ + 1 >= early_at)) {
    fail("truncated", "the file ends early (truncated?): the demuxer says '" +
                          dlog_.early_message() + "'; " +
                          std::to_string(info().frames_decoded) + " frames decoded");
  }
  if (info().frames_decoded == 0) {
    fail("corrupt", info().decode_errors > 0
                        ? "no frame could be decoded: " + first_decode_error_
                        : "no frame could be decoded");
  }
  info().logged_errors = dlog_.errors.load();
  if (info().decode_errors > 0 || info().corrupt_frames > 0 || info().logged_errors > 0) {
    std::string msg = "damaged video stream: ";
    const char* sep = "";
    if (info().decode_errors > 0) {
      msg += std::to_string(info().decode_errors) + " packet(s) failed to decode (first near frame " +
             std::to_string(first_decode_error_frame_) + ": " + first_decode_error_ + ")";
      sep = ", ";
    }
    // The flags come and go from run to run under frame threads: said only when nothing else
    // tells the damage (the message is part of the result line).
    if (info().corrupt_frames > 0 && info().decode_errors == 0 && info().logged_errors == 0) {
      msg += sep + std::to_string(info().corrupt_frames) + " frame(s) concealed";
      sep = ", ";
    }
    if (info().logged_errors > 0) {
      msg += sep + std::string("FFmpeg reported ") + std::to_string(info().logged_errors) +
             " error(s) (first: " + dlog_.first_message() + ")";
    }
    msg += "; the " + std::to_string(info().frames_decoded) + " frames that decoded were hashed";
    fail("corrupt", msg);
  }
  // Key packets that gave no picture on their own, too few in a row to switch to the exact mode
  // (above): said, so that triage can take the exact mode for the video.
  if (opts_.keyframes_only && info().frames_decoded < key_packets_) {
    const std::string n = "keyframes-only: " + std::to_string(key_packets_ - info().frames_decoded) +
                          " of " + std::to_string(key_packets_) +
                          " key packets gave no picture on their own (intra refresh?); the exact "
                          "mode decodes every frame";
    info().note += (info().note.empty() ? "" : "; ") + n;
  }
  // Decoded to its end (drained) without a problem: the decoder may serve another video.
  reusable_ = !sw_fallback_;
}

bool Session::end_without_drain(FrameSink& sink) {
  // Only for a clean H.264 video with an IDR picture (last_idr_), and where the decoder may be
  // kept.
  if (!last_idr_ || needs_exact_ || info().decode_errors > 0 || decoder_pool::cpu_capacity() == 0 ||
      push_range_seen_) {
    return false;
  }
  const NoDrain mode = no_drain_mode();
  // On the CPU a flush is cheap (its renegotiation allocates tables, no hardware decoder): drained
  // unless `all` asks otherwise (tests, measurements).
  if (mode == NoDrain::kOff || (mode == NoDrain::kNvdec && !nvdec_)) return false;
  // Each packet sent gives one picture; the reordering delay (and a frame thread each) holds the
  // last ones back. A copy of the last IDR (decodable on its own, and as a key frame it ends the
  // reordering of what came before) releases one picture per copy. Packets that give no picture
  // (a pre-roll an edit list discards, key packets of an intra-refresh stream) leave the count
  // short: the copies run out and the decoder is drained as usual.
  const int cap = std::min(kMaxPushes, dec_->has_b_frames + std::max(1, dec_->thread_count) + 2);
  for (int i = 0;; ++i) {
    if (info().frames_decoded >= packets_sent_) {
      undrained_ = true;
      return true;
    }
    if (i >= cap) return false;
    ff::PacketPtr copy(av_packet_clone(last_idr_.get()));
    if (!copy) throw std::bad_alloc();
    copy->pts = copy->dts = kPushPts + i;
    // A copy the decoder does not take ends the pushing (the drain that follows gives the rest).
    if (avcodec_send_packet(dec_.get(), copy.get()) < 0) return false;
    ++pushes_pending_;
    receive_all(sink);
  }
}

void Session::send(AVPacket* pkt, FrameSink& sink) {
  for (int tries = 0;; ++tries) {
    int err;
    {
      const StageClock c(info().times.decode);
      err = avcodec_send_packet(dec_.get(), pkt);
    }
    if (err == AVERROR(EAGAIN) && tries < 2) {
      receive_all(sink);  // the decoder's output is full: drain it, then send again
      continue;
    }
    if (err < 0 && err != AVERROR_EOF) decode_error(err);
    break;
  }
  receive_all(sink, pkt == nullptr);
}

void Session::receive_all(FrameSink& sink, bool draining) {
  int errors = 0;
  for (;;) {
    int err;
    {
      const StageClock c(info().times.decode);
      err = avcodec_receive_frame(dec_.get(), frame_.get());
    }
    if (err == AVERROR(EAGAIN) || err == AVERROR_EOF) return;
    if (err < 0) {
      decode_error(err);
      // While draining, the frames after a failed one are still there: under frame threads each
      // thread's frame comes out on its own call (stopping at the error lost those of the other
      // threads, so the frames decoded depended on the thread count). Otherwise the next packet
      // sent brings them out.
      if (!draining || ++errors > 64) return;
      continue;
    }
    const bool push_ts = is_push_ts(frame_->pts);
    if (!push_ts) pushes_carried_ = 0;
    if (push_ts && (pushes_carried_ > 0 || pushes_pending_ > 0)) {
      --(pushes_carried_ > 0 ? pushes_carried_ : pushes_pending_);
      // A copy pushed in to end a video without a drain: not a frame of any video. The
      // timestamp guess starts afresh after it, as on a fresh decoder.
      av_frame_unref(frame_.get());
      ff::reset_timestamp_guess(dec_.get());
      continue;
    }
    on_frame(frame_.get(), sink);
    av_frame_unref(frame_.get());
  }
}

void Session::on_frame(AVFrame* frame, FrameSink& sink) {
  const int64_t n = r_->info.frames_decoded++;
  if (opts_.max_frames > 0 && static_cast<uint64_t>(n) >= opts_.max_frames) {
    fail("too_long", "more than " + std::to_string(opts_.max_frames) + " frames");
  }
  check_dimensions(frame->width, frame->height, limits_, "video frame");
  // Also a frame whose decoder left its end unwritten (HEVC slice data found damaged: nothing
  // else tells it; ff::zero_fill_frames).
  if (frame->decode_error_flags || (frame->flags & AV_FRAME_FLAG_CORRUPT) ||
      (ff::zero_fills_frames(dec_->codec_id) && ff::frame_ends_unwritten(frame))) {
    ++info().corrupt_frames;
  }
  if (n == 0) {
    dlog_.counting = true;
    info().width = frame->width;
    info().height = frame->height;
    if (nvdec_ && frame->format != AV_PIX_FMT_CUDA) {
      // NVDEC refused the stream and FFmpeg's software decoder took over inside the hwaccel, with
      // the NVDEC session's decoder threads (one by default) and its slot: the video is decoded
      // again on a CPU decoder of its own (hash_video), and later ones of this stream go there
      // at once. No frame has reached the sink yet.
      sw_fallback_ = true;
      nvdec_refused_ = true;
      nvdec::note_refused(stream_params());
      fail("unsupported", "NVDEC refused this stream");
    }
  } else if (nvdec_ && frame->format != AV_PIX_FMT_CUDA) {
    // A later fallback: an H.264 decoder reset before an open-GOP key frame negotiates its format
    // again and starts a new NVDEC decoder (video/decoder_pool.h); one that fails to start leaves
    // FFmpeg's software decoder, which must not go to the pool under an NVDEC key.
    sw_fallback_ = true;
  }

  int64_t number = n;
  if (opts_.keyframes_only) {
    // Frames skipped at the demuxer are not counted: number the key frame from its timestamp.
    // The frame's own PTS (its packet's), else the DTS of a key packet without a PTS (its frame
    // comes out of the drain before the next key packet), else FFmpeg's best guess.
    int64_t ts = frame->pts;
    if (ts == AV_NOPTS_VALUE) ts = key_dts_;
    if (ts == AV_NOPTS_VALUE) ts = frame->best_effort_timestamp;
    // A stream cut before a key frame (a capture, a TS piece): the decoders drop what precedes
    // the first key frame, so the exact mode's frame 0 is that key frame; numbered from it here too.
    if (!starts_with_key_ && first_key_ts_ == AV_NOPTS_VALUE) first_key_ts_ = ts;
    if (ts != AV_NOPTS_VALUE) {
      const int64_t start = !starts_with_key_ ? first_key_ts_
                            : st_->start_time != AV_NOPTS_VALUE ? st_->start_time
                                                                : 0;
      // The difference in 128 bits and the number clamped: a container's timestamps can be
      // anything (2^62 is past any duration limit).
      const double sec = double(static_cast<__int128>(ts) - start) * av_q2d(st_->time_base);
      const double x = sec * fps_;
      number = !(x > 0) ? 0 : x >= 0x1p62 ? int64_t(1) << 62 : std::llround(x);
    }
    // The index of this frame's packet among the video packets (one frame each): found by the
    // frame's PTS, else (no timestamps at all: a raw H.264 / HEVC stream) by its packet's byte
    // position, else the oldest key packet sent without a PTS.
    int64_t index = -1, leading = 0;
    for (auto it = key_index_.begin(); it != key_index_.end(); ++it) {
      const bool same = frame->pts != AV_NOPTS_VALUE ? it->pts == frame->pts
                        : frame->pkt_pos >= 0        ? it->pos == frame->pkt_pos
                                                     : it->pts == AV_NOPTS_VALUE;
      if (same) {
        index = it->index;
        leading = it->leading;
        key_index_.erase(key_index_.begin(), it + 1);
        break;
      }
    }
    if (ts == AV_NOPTS_VALUE) {
      // No timestamp: the packet's index is the frame's number (a key frame that starts a
      // sequence follows every frame before it in decoding order), counted from the first key
      // packet when the stream was cut before it. It was the packets read so far, which the
      // decoder's delay and threads put past the key frame (a 4-s clip's key frames numbered
      // 99 ... 174, or 75 ... 149 with 4 threads).
      const int64_t from = starts_with_key_ ? 0 : std::max<int64_t>(first_key_index_, 0);
      number = index >= 0 ? std::max<int64_t>(0, index - from + leading)
                          : std::max<int64_t>(0, video_packets_ - 1);
    }
    // Timestamps that go back (files joined end to end, a capture whose clock was reset): frame
    // numbers never do, as in the exact mode; counted on by the packets since the last key frame.
    if (number <= last_number_) {
      number = last_number_ + (index > last_index_ ? index - last_index_ : 1);
    }
    last_number_ = number;
    if (index >= 0) last_index_ = index;
  } else if (n % frame_mod_ != 0) {
    return;
  }
  // As the reference computes it: float frame number over the float frame rate.
  const double ts = static_cast<float>(number) / static_cast<float>(fps_);
  if (opts_.max_duration_seconds > 0 && ts > opts_.max_duration_seconds) {
    fail("too_long", "video runs past the limit of " +
                         std::to_string(static_cast<long long>(opts_.max_duration_seconds)) + " s");
  }

  FrameInfo fi;
  fi.frame_number = number;
  fi.timestamp = ts;
  fi.keyframe = frame->key_frame != 0;
  fi.rotate_degrees = rotate_;

  const AVFrame* src = frame;
  if (frame->format == AV_PIX_FMT_CUDA) {
    // FFmpeg crops hardware frames at the right and bottom only: one with a top or left crop goes
    // the host path, which crops it as the software decoder does (as_software_frame).
    if (sink.wants_device_frames() && frame->crop_top == 0 && frame->crop_left == 0) {
      auto* fc = reinterpret_cast<AVHWFramesContext*>(frame->hw_frames_ctx->data);
      auto* dc = static_cast<AVCUDADeviceContext*>(fc->device_ctx->hwctx);
      DeviceFrame df;
      df.device = slot_.device();
      df.layout = layout_of(fc->sw_format);
      for (int p = 0; p < 3; ++p) {
        df.planes[p] = frame->data[p];
        df.pitch[p] = frame->linesize[p];
      }
      df.width = frame->width;
      df.height = frame->height;
      df.colorspace = frame->colorspace;
      df.color_range = frame->color_range;
      df.cuda_stream = dc->stream;
      fi.target_width = target_w_ > 0 ? target_w_ : frame->width;
      fi.target_height = target_h_ > 0 ? target_h_ : frame->height;
      if (sink.takes_device_frame(fi, df)) {
        AVFrame* ref = av_frame_clone(frame);
        if (!ref) throw std::bad_alloc();
        df.hold = std::shared_ptr<void>(ref, [](void* p) {
          AVFrame* f = static_cast<AVFrame*>(p);
          av_frame_free(&f);
        });
        {
          const StageClock c(info().times.sink);
          sink.push_device(fi, df);
        }
        ++info().frames_hashed;
        return;
      }
    }
    {
      const StageClock c(info().times.copy);
      src = device_to_host(frame);
    }
    // A top or left crop is applied only here (as_software_frame): the picture's size is this.
    if (n == 0) {
      info().width = src->width;
      info().height = src->height;
    }
  }
  Image rgb;
  {
    const StageClock c(info().times.convert);
    rgb = to_host_rgb(src, sink);
    if (rotate_) rgb = rotate_rgb(rgb, rotate_);
  }
  fi.target_width = rgb.width;
  fi.target_height = rgb.height;
  {
    const StageClock c(info().times.sink);
    sink.push_host(fi, std::move(rgb));
  }
  ++info().frames_hashed;
}

// Copies an NVDEC frame to the host and lays it out as FFmpeg's software decoder would have
// produced it (NV12 -> yuv420p / yuvj420p, P010 -> yuv420p10 ...), so that the RGB conversion
// below is the very same swscale path as for CPU-decoded frames: equal decoded pixels give equal
// hashes.
const AVFrame* Session::device_to_host(const AVFrame* hw) {
  av_frame_unref(sw_frame_.get());
  const int err = av_hwframe_transfer_data(sw_frame_.get(), hw, 0);
  if (err < 0) throw Error("copying an NVDEC frame to the host failed: " + ff::error_string(err));
  sw_frame_->width = hw->width;
  sw_frame_->height = hw->height;
  av_frame_copy_props(sw_frame_.get(), hw);  // crop_top / crop_left among them
  // Formats other than NV12 / P01x are left as they are: swscale converts whatever it is.
  const int crop_flags = (dec_->flags & AV_CODEC_FLAG_UNALIGNED) ? AV_FRAME_CROP_UNALIGNED : 0;
  return as_software_frame(sw_frame_.get(), dec_->sw_pix_fmt, crop_flags, &planar_,
                           planar_frame_.get());
}

Image Session::to_host_rgb(const AVFrame* src, FrameSink& sink) {
  const int dw = target_w_ > 0 ? target_w_ : src->width;
  const int dh = target_h_ > 0 ? target_h_ : src->height;
  const std::size_t capacity = rgb_buffer_bytes(dw, dh);
  Image img = sink.take_buffer(capacity);
  SwsContext* ctx = sws_getCachedContext(sws_.release(), src->width, src->height,
                                         static_cast<AVPixelFormat>(src->format), dw, dh,
                                         AV_PIX_FMT_RGB24, SWS_AREA, nullptr, nullptr, nullptr);
  sws_.reset(ctx);
  if (!ctx) {
    const char* name = av_get_pix_fmt_name(static_cast<AVPixelFormat>(src->format));
    throw MediaError("unsupported", std::string("swscale cannot convert ") + (name ? name : "?") +
                                        " frames to RGB");
  }
  img.width = dw;
  img.height = dh;
  img.channels = 3;
  // Rows are converted with a padded stride, then packed. swscale's x86 YUV -> RGB converter
  // (the unscaled path of 4:2:0 / 4:2:2 frames of even height) writes rows in blocks of 8 pixels
  // and, where the destination stride is narrower than the width rounded up to 8, leaves out the
  // last block: with a packed stride the last width % 8 columns stayed black, and 854-, 646- or
  // 322-wide videos hashed up to 18 bits away from the reference (whose frames have padded rows).
  // Its SIMD writers also store whole vectors past the end of a row (on the last row, past the
  // image), as FFmpeg's own frame buffers allow for with padding: hence a row and a margin more.
  // The buffer then shrinks to the packed image; its capacity (the memory the vectors touched)
  // stays allocated.
  const std::size_t row = std::size_t(dw) * 3;
  const std::size_t stride = rgb_stride(dw);
  const std::size_t bytes = row * dh;
  img.pixels.resize(capacity);
  uint8_t* dst[4] = {img.pixels.data(), nullptr, nullptr, nullptr};
  int dst_stride[4] = {static_cast<int>(stride), 0, 0, 0};
  sws_scale(ctx, src->data, src->linesize, 0, src->height, dst, dst_stride);
  if (stride != row) {
    uint8_t* p = img.pixels.data();
    for (int y = 1; y < dh; ++y) std::memmove(p + row * y, p + stride * y, row);
  }
  img.pixels.resize(bytes);
  return img;
}

}  // namespace

int frame_mod_for(double seconds_per_hash, double fps) {
  const double x = seconds_per_hash * fps;
  if (!(x >= 1) || !std::isfinite(x)) return 1;
  if (x >= 2147483647.0) return 2147483647;
  return std::max(1, static_cast<int>(x));
}

VideoOptions video_options_from_env() {
  VideoOptions o;
  o.time_budget_seconds = env_double("HASHMATCH_VIDEO_TIME_BUDGET", o.time_budget_seconds);
  o.max_duration_seconds = env_double("HASHMATCH_VIDEO_MAX_SECONDS", o.max_duration_seconds);
  if (const char* d = std::getenv("HASHMATCH_VIDEO_DECODER"); d && *d) o.decoder = d;
  if (const char* d = std::getenv("HASHMATCH_VIDEO_PDQ"); d && *d) o.pdq = d;
  return o;
}

namespace {

template <typename RunFn>
void run_guarded(RunFn&& fn, VpdqResult& r) {
  try {
    fn();
  } catch (const MediaError& e) {
    r.error = e.what();
    r.error_reason = e.reason();
  } catch (const InvalidArgument&) {
    throw;  // a bad option, not bad media
  } catch (const CudaError& e) {
    r.error = e.what();
    r.error_reason = "gpu";
  } catch (const std::bad_alloc&) {
    r.error = "out of memory while decoding";
    r.error_reason = "out_of_memory";
  } catch (const std::exception& e) {
    r.error = e.what();
    r.error_reason = "internal";
  }
}

void collect(FrameSink& sink, VpdqResult& r) {
  const StageClock c(r.info.times.finish);
  try {
    r.frames = sink.finish();
  } catch (const std::exception& e) {
    if (r.ok()) {
      r.error = std::string("hashing frames failed: ") + e.what();
      r.error_reason = "internal";
    }
  }
  r.info.frames_hashed = static_cast<int64_t>(r.frames.size());
}

// Keyframes-only on a stream whose key packets give no picture on their own: the exact mode's
// options, and what the result says about the switch.
VideoOptions exact_mode_of(const VideoOptions& opts) {
  VideoOptions o = opts;
  o.keyframes_only = false;
  return o;
}

// Drops what the sink holds, leaving it ready for another video.
void discard(FrameSink& sink) {
  sink.cancel();
  try {
    (void)sink.finish();
  } catch (const std::exception&) {
  }
}

VideoOptions cpu_decoder_of(const VideoOptions& opts) {
  VideoOptions o = opts;
  o.decoder = "cpu";
  return o;
}

// Says why a video was hashed again, before what its second pass said.
void prepend_note(VpdqResult& r, const std::string& n) {
  r.info.note = r.info.note.empty() ? n : n + "; " + r.info.note;
}

// A damaged stream decoded on the CPU with several threads: the options of its second pass, on
// one CPU decoder thread (Session::damaged_under_threads). On the CPU again: with decoder `auto`
// the second pass could otherwise find an NVDEC session free and conceal the damage its own way.
VideoOptions one_decoder_thread(const VideoOptions& opts) {
  VideoOptions o = cpu_decoder_of(opts);
  o.threads = 1;
  return o;
}

void note_one_thread(VpdqResult& r) {
  prepend_note(r,
               "damaged stream: decoded again on one thread (with several threads FFmpeg "
               "conceals damage differently from run to run and by thread count)");
}

void note_nvdec_refused(VpdqResult& r) {
  prepend_note(r, "NVDEC refused this stream (profile, bit depth or size): decoded on the CPU");
}

void note_exact_mode(VpdqResult& r) {
  prepend_note(r, "keyframes-only: the key packets after the first give no picture on their own "
                  "(intra refresh): hashed in exact mode");
}

using DeadlineOpt = std::optional<Clock::time_point>;

// A second pass on a fresh decoder (damage seen on a decoder kept without a drain) only with time
// left for it: a first pass that ran out of its budget keeps the frames it hashed.
bool worth_a_second_pass(const Session& s, const VpdqResult& r) {
  return r.error_reason != "timeout" && Clock::now() < s.deadline();
}

// The one-thread pass of a damaged stream (Session::damaged_under_threads) only where it should
// fit in the time left: it may take the first pass's time times the first pass's decoder
// threads. Otherwise the first pass's result stays, said in its note: a whole result whose
// hashes may vary is worth more than a one-thread pass cut short by the budget.
bool time_for_one_thread(const Session& s, const VpdqResult& r) {
  if (r.error_reason == "timeout") return false;
  const double need = 1.25 * s.elapsed() * std::max(1, r.info.decoder_threads);
  return Clock::now() +
             std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(need)) <
         s.deadline();
}

void note_not_one_thread(VpdqResult& r) {
  prepend_note(r, "damaged stream decoded with " + std::to_string(r.info.decoder_threads) +
                      " threads, not again on one (too little of the time budget left): its "
                      "hashes may differ from run to run");
}

VpdqResult hash_video_into(const VideoInput& in, const VideoOptions& opts, const DecodeLimits& limits,
                           FrameSink& sink, DeadlineOpt deadline, bool fresh_decoder = false) {
  VpdqResult r;
  auto s = std::make_unique<Session>(in, opts, limits, &r, fresh_decoder);
  run_guarded([&] {
    s->open(deadline);
    s->run(sink);
  }, r);
  if (s->nvdec_refused()) {
    discard(sink);
    const Clock::time_point left = s->deadline();
    s.reset();  // its NVDEC slot goes before the CPU pass
    VpdqResult c = hash_video_into(in, cpu_decoder_of(opts), limits, sink, left, fresh_decoder);
    note_nvdec_refused(c);
    return c;
  }
  if (s->damaged_under_threads()) {
    if (time_for_one_thread(*s, r)) {
      discard(sink);  // the frames come again from a fresh decoder on one thread
      const Clock::time_point left = s->deadline();
      s.reset();
      VpdqResult o = hash_video_into(in, one_decoder_thread(opts), limits, sink, left, true);
      note_one_thread(o);
      return o;
    }
    if (r.error_reason != "timeout") note_not_one_thread(r);
  }
  if (s->damaged_on_undrained_decoder() && worth_a_second_pass(*s, r)) {
    discard(sink);  // the frames come again from a fresh decoder
    const Clock::time_point left = s->deadline();
    s.reset();
    return hash_video_into(in, opts, limits, sink, left, /*fresh_decoder=*/true);
  }
  if (s->needs_exact_mode() && r.ok()) {
    discard(sink);  // the frames hashed so far come again from the exact mode
    const Clock::time_point left = s->deadline();
    s.reset();  // its decoder (an NVDEC slot, a keyframes ticket) goes before the exact pass
    VpdqResult e = hash_video_into(in, exact_mode_of(opts), limits, sink, left);
    note_exact_mode(e);
    return e;
  }
  collect(sink, r);
  return r;
}

// `auto_share`: the video's share of the cores when it was asked for automatic threads and
// started beside other videos (AutoThreads below; opts.threads is then that share): it stands
// for the cores in the hashing threads' rule. 0 otherwise.
// `hash_threads`: the hashing threads to use as they are (a second pass keeping its first's); 0:
// by the rule below.
VpdqResult hash_video_auto(const VideoInput& in, const VideoOptions& opts,
                           const DecodeLimits& limits, DeadlineOpt deadline, int auto_share,
                           bool fresh_decoder = false, int hash_threads = 0) {
  VpdqResult r;
  auto s = std::make_unique<Session>(in, opts, limits, &r, fresh_decoder);
  std::unique_ptr<FrameSink> sink;
  GpuPdqSink* gpu_sink = nullptr;
  std::string pdq_note;
  bool pdq_forced = false;  // --video-pdq cuda
  std::string device_why;   // why NVDEC frames are not taken as they are
  run_guarded([&] {
    const VideoPdqMode mode = parse_video_pdq(opts.pdq);  // a bad option throws before any work
    s->open(deadline);
    // Hashing threads: with one hash per second, hashing is a small share of the work and one
    // thread beside the decoder is plenty; every-frame hashing needs the cores (the video's
    // share of them beside other videos), up to 8.
    int threads = hash_threads > 0 ? hash_threads : opts.threads;
    if (hash_threads <= 0 && (threads <= 0 || auto_share > 0)) {
      const int hw = auto_share > 0
                         ? auto_share
                         : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
      threads = s->frame_mod() <= 2 ? std::min(hw, 8) : 1;
    }
    r.info.hash_threads = threads;
    // NVDEC frames to the GPU PDQ without a copy back (video/gpu_pdq_sink.h), or the host path.
    const PdqSinkChoice choice = choose_pdq_sink(opts, s->frame_mod(), gpu_pdq_built());
    pdq_forced = mode == VideoPdqMode::kCuda;
    device_why = choice.why;
    if (choice.gpu) {
      GpuPdqSinkOptions go;
      go.mode = mode;
      go.host_threads = threads;
      go.device_frames = choice.device;
      go.host_on_gpu = choice.host_on_gpu;
      if (const char* b = std::getenv("HASHMATCH_VIDEO_PDQ_BATCH"); b && *b) {
        char* end = nullptr;
        const long n = std::strtol(b, &end, 10);
        if (end == b || *end || n < 1 || n > 64) {
          throw InvalidArgument(std::string("HASHMATCH_VIDEO_PDQ_BATCH must be 1..64, got '") + b + "'");
        }
        go.batch = static_cast<int>(n);
        // Above 6 the NVDEC surfaces cannot be held for a batch: frames are copied instead.
        go.copy_device_frames = n > 6;
      }
      auto g = std::make_unique<GpuPdqSink>(std::move(go));
      gpu_sink = g.get();
      sink = std::move(g);
    } else {
      if (mode == VideoPdqMode::kCuda) pdq_note = "host PDQ: " + choice.why;
      sink = std::make_unique<CpuPdqSink>(threads);
    }
    s->run(*sink);
  }, r);
  if (s->nvdec_refused()) {
    if (sink) discard(*sink);
    sink.reset();
    const Clock::time_point left = s->deadline();
    s.reset();  // its NVDEC slot goes before the CPU pass
    VpdqResult c = hash_video_auto(in, cpu_decoder_of(opts), limits, left, auto_share, fresh_decoder);
    note_nvdec_refused(c);
    return c;
  }
  if (s->damaged_under_threads()) {
    if (time_for_one_thread(*s, r)) {
      if (sink) discard(*sink);  // the frames come again from a fresh decoder on one thread
      sink.reset();
      const Clock::time_point left = s->deadline();
      s.reset();
      // The hashing threads stay what they were.
      VpdqResult o = hash_video_auto(in, one_decoder_thread(opts), limits, left, auto_share,
                                     /*fresh_decoder=*/true, r.info.hash_threads);
      note_one_thread(o);
      return o;
    }
    if (r.error_reason != "timeout") note_not_one_thread(r);
  }
  if (s->damaged_on_undrained_decoder() && worth_a_second_pass(*s, r)) {
    if (sink) discard(*sink);  // the frames come again from a fresh decoder, with a sink of its own
    sink.reset();
    const Clock::time_point left = s->deadline();
    s.reset();
    return hash_video_auto(in, opts, limits, left, auto_share, /*fresh_decoder=*/true);
  }
  if (s->needs_exact_mode() && r.ok()) {
    if (sink) discard(*sink);  // the exact pass hashes every frame again, with a sink of its own
    sink.reset();
    const Clock::time_point left = s->deadline();
    s.reset();  // its decoder (an NVDEC slot, a keyframes ticket) goes before the exact pass
    VpdqResult e = hash_video_auto(in, exact_mode_of(opts), limits, left, auto_share);
    note_exact_mode(e);
    return e;
  }
  if (sink) collect(*sink, r);
  if (gpu_sink) {
    if (gpu_sink->device_frames() > 0) r.info.pdq = "cuda";
    if (r.info.decoder == "nvdec") pdq_note = gpu_sink->note();
    if (pdq_forced && gpu_sink->device_frames() == 0) {
      const std::string n = gpu_sink->note();
      pdq_note = "host PDQ" + std::string(gpu_sink->gpu_host_frames() > 0 ? " (on the GPU)" : "") +
                 ": " + (n.empty() ? device_why : n);
    }
  }
  if (!pdq_note.empty()) r.info.note += (r.info.note.empty() ? "" : "; ") + pdq_note;
  return r;
}

// Videos of this process being hashed with automatic threads (VideoOptions::threads 0) now.
std::atomic<int> g_auto_thread_videos{0};

// FFmpeg's own cap on the threads it picks (MAX_AUTO_THREADS).
constexpr int kMaxAutoThreads = 16;

// The decoder threads of a video with automatic threads that starts with `in_flight` such videos
// (itself included, > 1): its share of the cores FFmpeg would give one video, rounded down to a
// power of two (decoders are pooled by thread count: few distinct counts, more reuse).
int shared_threads(int in_flight) {
  const int cores = std::min(av_cpu_count(), kMaxAutoThreads);
  const int share = std::max(1, cores / std::max(1, in_flight));
  int p = 1;
  while (p * 2 <= share) p *= 2;
  return p;
}

// Automatic threads: a video hashed alone gets FFmpeg's choice of decoder threads (a thread per
// core, at most 16) and up to 8 hashing threads when every frame is hashed (one at one hash per
// second); one that starts beside others (a scan's jobs, the server's video sessions) gets its
// share of those cores (shared_threads) for its decoder, and the same rule with the share in
// place of the cores for its hashing threads. Otherwise N videos in flight each start a thread
// per core: N x (cores + 1) decoder threads, and as many frame contexts in memory. Explicit
// threads are left as they are. The share is fixed at the video's start.
class AutoThreads {
 public:
  explicit AutoThreads(const VideoOptions& opts) : opts_(&opts) {
    if (opts.threads > 0) return;
    std::optional<VideoOptions> copy(opts);  // before the count: a copy that throws counts nothing
    const int in_flight = ++g_auto_thread_videos;
    counted_ = true;
    if (in_flight > 1) {
      shared_ = std::move(copy);
      shared_->threads = shared_threads(in_flight);
      opts_ = &*shared_;
    }
  }
  ~AutoThreads() {
    if (counted_) --g_auto_thread_videos;
  }
  AutoThreads(const AutoThreads&) = delete;
  AutoThreads& operator=(const AutoThreads&) = delete;
  const VideoOptions& opts() const { return *opts_; }
  // The share given (0: explicit threads, or a video alone).
  int share() const { return shared_ ? shared_->threads : 0; }

 private:
  const VideoOptions* opts_;
  std::optional<VideoOptions> shared_;  // the options with the share, when one was given
  bool counted_ = false;
};

}  // namespace

VpdqResult hash_video(const VideoInput& in, const VideoOptions& opts, const DecodeLimits& limits,
                      FrameSink& sink) {
  const auto t0 = Clock::now();
  const AutoThreads threads(opts);
  VpdqResult r = hash_video_into(in, threads.opts(), limits, sink, std::nullopt);
  r.info.times.total = std::chrono::duration<double>(Clock::now() - t0).count();
  return r;
}

VpdqResult hash_video(const VideoInput& in, const VideoOptions& opts, const DecodeLimits& limits) {
  const auto t0 = Clock::now();
  const AutoThreads threads(opts);
  VpdqResult r = hash_video_auto(in, threads.opts(), limits, std::nullopt, threads.share());
  r.info.times.total = std::chrono::duration<double>(Clock::now() - t0).count();
  return r;
}

}  // namespace hashmatch::video
