// Internal to video/: RAII owners for FFmpeg objects, error strings, log setup, and the input layer
// (a custom AVIOContext over a file or a byte span, with an interrupt callback for the time budget).
#pragma once

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/avutil.h>
#include <libavutil/buffer.h>
#include <libavutil/frame.h>
#include <libswscale/swscale.h>
}

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <mutex>
#include <span>
#include <string>

namespace hashmatch::video::ff {

struct FormatCloser {
  void operator()(AVFormatContext* p) const { avformat_close_input(&p); }
};
struct CodecFreer {
  void operator()(AVCodecContext* p) const { avcodec_free_context(&p); }
};
struct FrameFreer {
  void operator()(AVFrame* p) const { av_frame_free(&p); }
};
struct PacketFreer {
  void operator()(AVPacket* p) const { av_packet_free(&p); }
};
struct SwsFreer {
  void operator()(SwsContext* p) const { sws_freeContext(p); }
};
struct BufferUnref {
  void operator()(AVBufferRef* p) const { av_buffer_unref(&p); }
};
struct IoFreer {
  void operator()(AVIOContext* p) const {
    if (p) av_freep(&p->buffer);
    avio_context_free(&p);
  }
};
using FormatPtr = std::unique_ptr<AVFormatContext, FormatCloser>;
using CodecPtr = std::unique_ptr<AVCodecContext, CodecFreer>;
using FramePtr = std::unique_ptr<AVFrame, FrameFreer>;
using PacketPtr = std::unique_ptr<AVPacket, PacketFreer>;
using SwsPtr = std::unique_ptr<SwsContext, SwsFreer>;
using BufferPtr = std::unique_ptr<AVBufferRef, BufferUnref>;
using IoPtr = std::unique_ptr<AVIOContext, IoFreer>;

FramePtr make_frame();
PacketPtr make_packet();

// "Invalid data found when processing input" etc.
std::string error_string(int err);

// FFmpeg logs only fatal messages unless HASHMATCH_FFMPEG_LOG is set (quiet, warning, info,
// verbose, debug). Also installs the log callback that feeds DecoderLog (below). Idempotent,
// thread-safe.
void init_logging();

// The errors one decoder logs, whatever thread logs them. FFmpeg's per-frame error flags
// (decode_error_flags, AV_FRAME_FLAG_CORRUPT) are not a reliable sign of damage under frame
// threads: a frame can be handed out before the thread decoding it has concealed its errors, so
// the same damaged file passed or failed from run to run. The decoders' error-level messages are
// logged every time. attach() points the decoder's `opaque` at this (frame-thread copies take it
// over at each packet), attach_demuxer() the format context's; init_logging's callback counts what
// they, or a helper logging on a decoder's behalf (av_image_check_size), log at AV_LOG_ERROR or
// worse (the demuxer: a damaged Matroska cluster skipped, whose frames are simply gone).
struct DecoderLog {
  static constexpr uint64_t kMagic = 0x686d2d6465636c67ull;  // "hm-declg"
  uint64_t magic = kMagic;
  // Set once the decoder has given a frame: what it says before (a stream cut mid-GOP: slices
  // without their parameter sets; NVDEC refusing a stream before the software decoder takes
  // over) is not damage of the video.
  std::atomic<bool> counting{false};
  std::atomic<int> errors{0};
  // Errors logged before counting began but once armed (the first key packet sent). Not damage,
  // but under frame threads a damaged packet's error can be logged before the frame of an earlier
  // packet comes out, and whether it is depends on the threads' timing
  // (Session::damaged_under_threads).
  std::atomic<bool> armed{false};
  std::atomic<int> uncounted{0};
  // A frame larger than the decoder's max_pixels (a stream whose picture size grows mid-way).
  std::atomic<bool> too_many_pixels{false};
  // The demuxer found the file shorter than its own structures say: Matroska's "File ended
  // prematurely", MP4's "partial file" (a sample past the end). Whether counting or not.
  std::atomic<bool> ended_early{false};
  std::mutex mu;
  std::string first;  // the first counted message, trimmed
  std::string early;  // the first message that set ended_early, trimmed

  ~DecoderLog() { magic = 0; }
  void attach(AVCodecContext* ctx) { ctx->opaque = this; }
  void attach_demuxer(AVFormatContext* fmt) { fmt->opaque = this; }
  static void detach(AVCodecContext* ctx) {
    if (ctx) ctx->opaque = nullptr;
  }
  std::string first_message() {
    std::lock_guard<std::mutex> lk(mu);
    return first;
  }
  std::string early_message() {
    std::lock_guard<std::mutex> lk(mu);
    return early;
  }
};

// Where the demuxer reads from. Reads are bounded by the span or the file; seeks are checked.
class ByteSource {
 public:
  virtual ~ByteSource() = default;
  virtual int read(uint8_t* buf, int size) = 0;      // bytes read, or AVERROR_EOF / AVERROR(e)
  virtual int64_t seek(int64_t offset, int whence) = 0;
  virtual int64_t size() const = 0;
};

class MemorySource : public ByteSource {
 public:
  explicit MemorySource(std::span<const uint8_t> bytes) : bytes_(bytes) {}
  int read(uint8_t* buf, int size) override;
  int64_t seek(int64_t offset, int whence) override;
  int64_t size() const override { return static_cast<int64_t>(bytes_.size()); }

 private:
  std::span<const uint8_t> bytes_;
  std::size_t pos_ = 0;
};

class FileSource : public ByteSource {
 public:
  explicit FileSource(const std::string& path);  // throws IoError
  ~FileSource() override;
  FileSource(const FileSource&) = delete;
  FileSource& operator=(const FileSource&) = delete;
  int read(uint8_t* buf, int size) override;
  int64_t seek(int64_t offset, int whence) override;
  int64_t size() const override { return size_; }

 private:
  std::FILE* f_ = nullptr;
  int64_t size_ = 0;
};

// An opened container: the format context reads through a custom AVIOContext over `source` (never
// FFmpeg's own protocols, so a playlist in hostile input cannot make it open other files or the
// network: nested opens are refused by an empty protocol whitelist). The interrupt callback stops
// any blocking demuxer call once the deadline passes.
class Demuxer {
 public:
  using Clock = std::chrono::steady_clock;
  Demuxer(std::unique_ptr<ByteSource> source, Clock::time_point deadline);
  ~Demuxer();
  Demuxer(const Demuxer&) = delete;
  Demuxer& operator=(const Demuxer&) = delete;

  // avformat_open_input + avformat_find_stream_info. Returns 0 or an AVERROR.
  // `probe_all` false: leaves out avformat_find_stream_info where the container's header already
  // gives all a keyframes-only pass needs (header_complete below): for H.264 it decodes ~7 frames
  // with a decoder of its own to guess the reordering delay (~14 ms for a 1080p MP4 here: a tenth
  // of a 20-second video's key frames).
  int open(bool probe_all = true);
  // Whether avformat_find_stream_info ran.
  bool probed() const { return probed_; }
  AVFormatContext* get() const { return fmt_.get(); }
  bool timed_out() const { return Clock::now() > deadline_; }
  bool io_eof() const;  // the byte source was read to its end
  int64_t size() const { return source_->size(); }

 private:
  static int interrupt_cb(void* opaque);
  static int read_cb(void* opaque, uint8_t* buf, int size);
  static int64_t seek_cb(void* opaque, int64_t offset, int whence);

  std::unique_ptr<ByteSource> source_;
  Clock::time_point deadline_;
  IoPtr io_;       // freed after fmt_ (declared first, destroyed last)
  FormatPtr fmt_;
  bool probed_ = false;
};

// How many bytes the file lacks of the size its container declares at the start: a Matroska/WebM
// Segment's size (unless written as unknown, as live recorders do), an AVI's first RIFF chunk, an
// FLV's onMetaData `filesize` (FFmpeg writes it when it can seek back), the end of an MP4's last
// top-level box (a cut mdat; an MP4 cut after its index is told better by its sample tables: the
// decode loop compares the packets read with the frames listed). The container is told by
// sniff_format. 0 when complete (up to 8 bytes short: writers that count the RIFF header in its
// size or leave out a pad byte), unknown, or another container. Leaves `src` at offset 0.
// `streamed`: set to whether the file was written where its writer could not seek back (an AVI
// whose RIFF size is all ones, as FFmpeg leaves it on a pipe): its header's frame counts and
// lengths are placeholders, not the video's.
int64_t declared_shortfall(ByteSource& src, bool* streamed = nullptr);

// A YUV4MPEG2 stream's picture size from its header line (W and H): false for other inputs or a
// header without both. FFmpeg's demuxer refuses a size past its own limit with no word of it
// ("Device or resource busy" for 20000 x 20000): the pixel limit is checked from this first.
// Leaves `src` at its start, as the demuxer expects it.
bool y4m_picture_size(ByteSource& src, int* width, int* height);

// The index of the video stream vPDQ takes: the first one that is not cover art (an attached
// picture); -1 when there is none.
int first_video_stream(const AVFormatContext* fmt);

// True when the header of an opened (not yet probed) container gives what decoding its first video
// stream needs without avformat_find_stream_info: an MP4/MOV (sample tables in the header) whose
// first video stream is H.264 with its parameter sets (avcC), a picture size, a frame rate, a
// time base and a reordering delay from the header. Other containers and codecs (MPEG-TS: nothing
// before probing; AVI, Matroska: parameters the probe completes) are probed as usual.
bool header_complete(const AVFormatContext* fmt);

// How an H.264 / HEVC stream's packets frame their NAL units: the length prefix size (1..4) from
// an avcC / hvcC extradata, or 0 for Annex B start codes (MPEG-TS, raw streams, no extradata).
int nal_length_size(const AVCodecParameters* par);

// Whether a key packet can be decoded on its own by a decoder in the state a run of earlier key
// frames left it in. True for a picture that starts a coded video sequence (H.264 IDR; HEVC IDR
// or BLA: the picture order count restarts) and for every codec without picture order counts.
// False for open-GOP key frames (an H.264 I picture with a recovery point, an HEVC CRA): their
// count continues from the pictures before them, which keyframes-only never decodes, and FFmpeg's
// decoders then misorder or drop them (half the key frames of an x264 open-GOP file, an error and
// missing frames for a 10-second x265 GOP); keyframes-only resets the decoder before such a
// packet. Also false when no slice is found (a damaged packet: resetting is always safe).
bool key_packet_starts_sequence(AVCodecID codec, int nal_length_size, const AVPacket* pkt);

// Whether an HEVC packet's picture is a leading picture (RADL / RASL): one that follows its
// random access point (a CRA) in the stream but is displayed before it.
bool hevc_leading_picture(int nal_length_size, const AVPacket* pkt);

// Clears the statistics behind best_effort_timestamp (avcodec_flush_buffers leaves them), as a
// freshly opened decoder starts.
void reset_timestamp_guess(AVCodecContext* ctx);

// HEVC: FFmpeg's decoder leaves the rest of a picture unwritten when its slice data turns out
// damaged, logs nothing and returns no error (only AV_EF_EXPLODE makes it one), and outputs the
// picture: the unwritten part is whatever the frame buffer held, the pixels of an earlier
// picture of this video or of another video a pooled decoder decoded (hashes of one file 34-120
// bits apart from one run to the next). Whether a codec's software decoder is set up so.
bool zero_fills_frames(AVCodecID codec);
// Makes `ctx` hand out software frame buffers cleared to zero (hardware frames are left as they
// are), so that what a decoder leaves unwritten is the same every time.
void zero_fill_frames(AVCodecContext* ctx);
// A frame from such a decoder whose last block (the bottom-right 8 x 8 samples of every plane) is
// still zero: never written by the decoder (no picture holds Y = Cb = Cr = 0 there: the darkest
// green, outside the colours RGB holds). Software frames with two planes or more; false for
// others (one plane: zero is black in full range).
bool frame_ends_unwritten(const AVFrame* frame);

}  // namespace hashmatch::video::ff
