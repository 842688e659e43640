#include "video/ffmpeg_util.h"

extern "C" {
#include <libavutil/common.h>
#include <libavutil/error.h>
#include <libavutil/log.h>
#include <libavutil/mem.h>
#include <libavutil/pixdesc.h>
}

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdarg>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <string_view>

#include "host/common/error.h"
#include "host/image/decode.h"

namespace hashmatch::video::ff {

FramePtr make_frame() {
  FramePtr f(av_frame_alloc());
  if (!f) throw std::bad_alloc();
  return f;
}

PacketPtr make_packet() {
  PacketPtr p(av_packet_alloc());
  if (!p) throw std::bad_alloc();
  return p;
}

std::string error_string(int err) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {};
  if (av_strerror(err, buf, sizeof buf) < 0) return "FFmpeg error " + std::to_string(err);
  return buf;
}

namespace {

// The DecoderLog of the decoder or demuxer a message comes from: the decoder itself, a context that
// names it as its parent (av_image_check_size2's, with the decoder as its log context), or the
// format context. Only our sessions' decoders and demuxers have an opaque pointing at a DecoderLog
// (checked by its magic number).
DecoderLog* decoder_log_of(void* avcl) {
  if (!avcl) return nullptr;
  const AVClass* cls = *static_cast<const AVClass* const*>(avcl);
  if (!cls) return nullptr;
  void* opaque = nullptr;
  if (cls == avformat_get_class()) {
    opaque = static_cast<AVFormatContext*>(avcl)->opaque;  // the demuxer
  } else {
    void* ctx = avcl;
    if (cls != avcodec_get_class()) {
      if (cls->parent_log_context_offset <= 0) return nullptr;
      ctx = *reinterpret_cast<void**>(static_cast<uint8_t*>(avcl) + cls->parent_log_context_offset);
      if (!ctx || *static_cast<const AVClass* const*>(ctx) != avcodec_get_class()) return nullptr;
    }
    opaque = static_cast<AVCodecContext*>(ctx)->opaque;
  }
  auto* log = static_cast<DecoderLog*>(opaque);
  if (!log || log->magic != DecoderLog::kMagic) return nullptr;
  return log;
}

std::string format_message(const char* fmt, va_list vl) {
  char buf[256];
  va_list copy;
  va_copy(copy, vl);
  std::vsnprintf(buf, sizeof buf, fmt, copy);
  va_end(copy);
  std::string msg = buf;
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
  return msg;
}

// Demuxers' messages for a file shorter than its own structures say (libavformat 59: matroskadec,
// mov).
bool says_ended_early(const char* fmt) {
  return std::strstr(fmt, "ended prematurely") || std::strstr(fmt, "partial file");
}

void log_callback(void* avcl, int level, const char* fmt, va_list vl) {
  if (level <= AV_LOG_ERROR && level > AV_LOG_QUIET && fmt) {
    if (DecoderLog* log = decoder_log_of(avcl)) {
      if (std::strstr(fmt, "max pixel count")) log->too_many_pixels = true;
      if (says_ended_early(fmt) && !log->ended_early.exchange(true)) {
        std::string msg = format_message(fmt, vl);
        std::lock_guard<std::mutex> lk(log->mu);
        log->early = std::move(msg);
      }
      if (!log->counting.load(std::memory_order_relaxed)) {
        if (log->armed.load(std::memory_order_relaxed)) ++log->uncounted;
      } else if (log->errors++ == 0) {
        std::string msg = format_message(fmt, vl);
        std::lock_guard<std::mutex> lk(log->mu);
        log->first = std::move(msg);
      }
    }
  }
  av_log_default_callback(avcl, level, fmt, vl);
}

}  // namespace

void init_logging() {
  static std::once_flag once;
  std::call_once(once, [] {
    av_log_set_callback(&log_callback);
    int level = AV_LOG_FATAL;
    if (const char* v = std::getenv("HASHMATCH_FFMPEG_LOG")) {
      const std::string s = v;
      if (s == "quiet") level = AV_LOG_QUIET;
      else if (s == "error") level = AV_LOG_ERROR;
      else if (s == "warning") level = AV_LOG_WARNING;
      else if (s == "info") level = AV_LOG_INFO;
      else if (s == "verbose") level = AV_LOG_VERBOSE;
      else if (s == "debug") level = AV_LOG_DEBUG;
    }
    av_log_set_level(level);
  });
}

// ---- byte sources ----

int MemorySource::read(uint8_t* buf, int size) {
  if (pos_ >= bytes_.size()) return AVERROR_EOF;
  const std::size_t n = std::min<std::size_t>(std::size_t(size), bytes_.size() - pos_);
  std::memcpy(buf, bytes_.data() + pos_, n);
  pos_ += n;
  return static_cast<int>(n);
}

int64_t MemorySource::seek(int64_t offset, int whence) {
  const int64_t size = static_cast<int64_t>(bytes_.size());
  if (whence == AVSEEK_SIZE) return size;
  whence &= ~AVSEEK_FORCE;
  int64_t target;
  switch (whence) {
    case SEEK_SET: target = offset; break;
    case SEEK_CUR: target = static_cast<int64_t>(pos_) + offset; break;
    case SEEK_END: target = size + offset; break;
    default: return AVERROR(EINVAL);
  }
  if (target < 0 || target > size) return AVERROR(EINVAL);
  pos_ = static_cast<std::size_t>(target);
  return target;
}

FileSource::FileSource(const std::string& path) {
  f_ = std::fopen(path.c_str(), "rb");
  if (!f_) throw IoError("cannot open " + path + ": " + std::strerror(errno));
  if (fseeko(f_, 0, SEEK_END) != 0 || (size_ = ftello(f_)) < 0 || fseeko(f_, 0, SEEK_SET) != 0) {
    std::fclose(f_);
    f_ = nullptr;
    throw IoError("cannot seek in " + path + " (not a regular file?)");
  }
}

FileSource::~FileSource() {
  if (f_) std::fclose(f_);
}

int FileSource::read(uint8_t* buf, int size) {
  const std::size_t n = std::fread(buf, 1, std::size_t(size), f_);
  if (n == 0) return std::ferror(f_) ? AVERROR(EIO) : AVERROR_EOF;
  return static_cast<int>(n);
}

int64_t FileSource::seek(int64_t offset, int whence) {
  if (whence == AVSEEK_SIZE) return size_;
  whence &= ~AVSEEK_FORCE;
  int64_t target;
  switch (whence) {
    case SEEK_SET: target = offset; break;
    case SEEK_CUR: target = ftello(f_) + offset; break;
    case SEEK_END: target = size_ + offset; break;
    default: return AVERROR(EINVAL);
  }
  if (target < 0 || target > size_) return AVERROR(EINVAL);
  std::clearerr(f_);
  if (fseeko(f_, target, SEEK_SET) != 0) return AVERROR(EIO);
  return target;
}

// ---- demuxer ----

Demuxer::Demuxer(std::unique_ptr<ByteSource> source, Clock::time_point deadline)
    : source_(std::move(source)), deadline_(deadline) {}

Demuxer::~Demuxer() = default;

int Demuxer::interrupt_cb(void* opaque) {
  return static_cast<Demuxer*>(opaque)->timed_out() ? 1 : 0;
}

int Demuxer::read_cb(void* opaque, uint8_t* buf, int size) {
  return static_cast<Demuxer*>(opaque)->source_->read(buf, size);
}

int64_t Demuxer::seek_cb(void* opaque, int64_t offset, int whence) {
  return static_cast<Demuxer*>(opaque)->source_->seek(offset, whence);
}

bool Demuxer::io_eof() const { return io_ && io_->eof_reached; }

int Demuxer::open(bool probe_all) {
  constexpr int kIoBufferBytes = 64 * 1024;
  auto* buf = static_cast<unsigned char*>(av_malloc(kIoBufferBytes));
  if (!buf) throw std::bad_alloc();
  io_.reset(avio_alloc_context(buf, kIoBufferBytes, 0, this, &Demuxer::read_cb, nullptr,
                               &Demuxer::seek_cb));
  if (!io_) {
    av_free(buf);
    throw std::bad_alloc();
  }
  AVFormatContext* fmt = avformat_alloc_context();
  if (!fmt) throw std::bad_alloc();
  fmt->pb = io_.get();
  fmt->flags |= AVFMT_FLAG_CUSTOM_IO;
  fmt->interrupt_callback.callback = &Demuxer::interrupt_cb;
  fmt->interrupt_callback.opaque = this;
  AVDictionary* opts = nullptr;
  // Nested opens (playlists, external references) go through FFmpeg's protocols: allow none.
  av_dict_set(&opts, "protocol_whitelist", "none", 0);
  const int err = avformat_open_input(&fmt, nullptr, nullptr, &opts);  // frees fmt on failure
  av_dict_free(&opts);
  if (err < 0) return err;
  fmt_.reset(fmt);
  if (!probe_all && header_complete(fmt)) return 0;
  probed_ = true;
  return avformat_find_stream_info(fmt, nullptr);
}

int first_video_stream(const AVFormatContext* fmt) {
  for (unsigned i = 0; i < fmt->nb_streams; ++i) {
    const AVStream* st = fmt->streams[i];
    if (st->codecpar->codec_type == AVMEDIA_TYPE_VIDEO &&
        !(st->disposition & AV_DISPOSITION_ATTACHED_PIC)) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

bool header_complete(const AVFormatContext* fmt) {
  if (!fmt || !fmt->iformat || !fmt->iformat->name) return false;
  if (std::string_view(fmt->iformat->name) != "mov,mp4,m4a,3gp,3g2,mj2") return false;
  if (fmt->ctx_flags & AVFMTCTX_NOHEADER) return false;
  const int vi = first_video_stream(fmt);
  if (vi < 0) return false;
  const AVStream* st = fmt->streams[vi];
  const AVCodecParameters* par = st->codecpar;
  return par->codec_id == AV_CODEC_ID_H264 && par->extradata && par->extradata_size > 0 &&
         par->width > 0 && par->height > 0 && st->avg_frame_rate.num > 0 &&
         st->avg_frame_rate.den > 0 && st->time_base.num > 0 && st->time_base.den > 0 &&
         st->nb_frames > 0;
}

int nal_length_size(const AVCodecParameters* par) {
  const uint8_t* x = par->extradata;
  const int n = par->extradata_size;
  if (!x) return 0;
  // avcC: configurationVersion 1, lengthSizeMinusOne in byte 4.
  if (par->codec_id == AV_CODEC_ID_H264 && n >= 7 && x[0] == 1) return (x[4] & 3) + 1;
  // hvcC (as FFmpeg's HEVC decoder tells it from Annex B headers), lengthSizeMinusOne in byte 21.
  if (par->codec_id == AV_CODEC_ID_HEVC && n >= 23 && (x[0] || x[1] || x[2] > 1)) {
    return (x[21] & 3) + 1;
  }
  return 0;
}

namespace {

// The verdict of one NAL unit header: 1 starts a sequence, 0 a slice that does not, -1 not a slice.
int nal_verdict(AVCodecID codec, uint8_t header) {
  if (codec == AV_CODEC_ID_H264) {
    const int type = header & 0x1f;
    if (type == 5) return 1;                // IDR slice
    if (type >= 1 && type <= 4) return 0;   // non-IDR slice (data partitions included)
    return -1;
  }
  const int type = (header >> 1) & 0x3f;
  if (type >= 16 && type <= 20) return 1;  // BLA_W_LP .. IDR_N_LP
  if (type <= 31) return 0;                // any other VCL NAL unit: CRA, trailing, leading
  return -1;
}

}  // namespace

namespace {
// The verdict of the first NAL unit of `pkt` that `verdict` gives one for (>= 0; NAL units it
// gives -1 for are passed over), or -1: length-prefixed units (MP4, MKV) when nal_length_size > 0,
// Annex B start codes otherwise. A length running past the packet ends the walk.
template <typename Verdict>
int first_nal_verdict(int nal_length_size, const AVPacket* pkt, Verdict verdict) {
  const uint8_t* d = pkt->data;
  const std::size_t size = pkt->data ? static_cast<std::size_t>(pkt->size) : 0;
  if (nal_length_size > 0) {
    const auto L = static_cast<std::size_t>(nal_length_size);
    for (std::size_t pos = 0; pos + L < size;) {
      std::size_t len = 0;
      for (std::size_t i = 0; i < L; ++i) len = (len << 8) | d[pos + i];
      pos += L;
      if (len == 0 || len > size - pos) break;
      const int v = verdict(d[pos]);
      if (v >= 0) return v;
      pos += len;
    }
    return -1;
  }
  for (std::size_t i = 0; i + 3 < size; ++i) {  // Annex B: 00 00 01 <header>
    if (d[i] == 0 && d[i + 1] == 0 && d[i + 2] == 1) {
      const int v = verdict(d[i + 3]);
      if (v >= 0) return v;
      i += 2;
    }
  }
  return -1;
}
}  // namespace

bool key_packet_starts_sequence(AVCodecID codec, int nal_length_size, const AVPacket* pkt) {
  if (codec != AV_CODEC_ID_H264 && codec != AV_CODEC_ID_HEVC) return true;
  return first_nal_verdict(nal_length_size, pkt,
                           [codec](uint8_t h) { return nal_verdict(codec, h); }) == 1;
}

bool hevc_leading_picture(int nal_length_size, const AVPacket* pkt) {
  return first_nal_verdict(nal_length_size, pkt, [](uint8_t h) {
           const int type = (h >> 1) & 0x3f;
           if (type > 31) return -1;               // not a VCL NAL unit: look on
           return type >= 6 && type <= 9 ? 1 : 0;  // RADL_N/R, RASL_N/R
         }) == 1;
}

namespace {

// Reads up to n bytes at `offset`; the count read.
int read_at(ByteSource& src, int64_t offset, uint8_t* buf, int n) {
  if (src.seek(offset, SEEK_SET) != offset) return 0;
  int got = 0;
  while (got < n) {
    const int r = src.read(buf + got, n - got);
    if (r <= 0) break;
    got += r;
  }
  return got;
}

// An EBML variable-size integer at p (n bytes available): its value, its length in *len; -1 for
// the reserved "unknown size" (all value bits set) or a malformed one.
int64_t ebml_size(const uint8_t* p, int n, int* len) {
  if (n < 1 || p[0] == 0) return -1;
  int l = 1;
  while (!(p[0] & (0x80 >> (l - 1)))) ++l;
  if (l > n) return -1;
  uint64_t v = p[0] & (0xffu >> l);
  bool all_ones = v == (0xffu >> l);
  for (int i = 1; i < l; ++i) {
    v = (v << 8) | p[i];
    all_ones = all_ones && p[i] == 0xff;
  }
  *len = l;
  if (all_ones || v > (uint64_t(1) << 56)) return -1;
  return static_cast<int64_t>(v);
}

}  // namespace

constexpr int64_t kDeclaredSlackBytes = 8;

// MP4/QuickTime: where the last top-level box that starts inside the file says it ends (32-bit
// sizes, 64-bit ones, 0 for "to the end of the file"); 0 when the boxes end within the file or a
// size is malformed. A file cut inside its mdat (an MP4 whose index comes last, cut before it)
// declares an end past the file's.
int64_t mp4_declared_end(ByteSource& src, int64_t size) {
  int64_t pos = 0;
  for (int boxes = 0; boxes < 100000 && pos + 8 <= size; ++boxes) {
    uint8_t b[16];
    const int n = read_at(src, pos, b, sizeof b);
    if (n < 8) return 0;
    uint64_t len = uint64_t(b[0]) << 24 | uint64_t(b[1]) << 16 | uint64_t(b[2]) << 8 | b[3];
    if (len == 0) return 0;  // to the end of the file
    if (len == 1) {
      if (n < 16) return 0;
      len = 0;
      for (int i = 8; i < 16; ++i) len = (len << 8) | b[i];
      if (len < 16) return 0;
    } else if (len < 8) {
      return 0;
    }
    if (len > uint64_t(INT64_MAX) - uint64_t(pos)) return 0;
    const int64_t end = pos + static_cast<int64_t>(len);
    if (end > size) return end;
    pos = end;
  }
  return 0;
}

// FLV: the `filesize` number in the onMetaData script tag at the start (AMF0: the key's 16-bit
// length and name, then type 0 and a big-endian double), as FFmpeg's muxer writes it when it can
// seek back; 0 when absent (written to a pipe) or not a plausible size.
int64_t flv_declared_size(ByteSource& src) {
  uint8_t b[4096];
  const int n = read_at(src, 0, b, sizeof b);
  static constexpr uint8_t kKey[] = {0x00, 0x08, 'f', 'i', 'l', 'e', 's', 'i', 'z', 'e', 0x00};
  const uint8_t* end = b + n;
  const uint8_t* at = std::search(static_cast<const uint8_t*>(b), end, std::begin(kKey), std::end(kKey));
  if (end - at < static_cast<std::ptrdiff_t>(sizeof kKey + 8)) return 0;
  uint64_t bits = 0;
  for (int i = 0; i < 8; ++i) bits = (bits << 8) | at[sizeof kKey + std::size_t(i)];
  double v = 0;
  std::memcpy(&v, &bits, sizeof v);
  if (!(v >= 13 && v < 1e15) || v != std::floor(v)) return 0;
  return static_cast<int64_t>(v);
}

int64_t declared_shortfall(ByteSource& src, bool* streamed) {
  if (streamed) *streamed = false;
  const int64_t size = src.size();
  int64_t end = 0;
  uint8_t h[16];
  const int n = read_at(src, 0, h, sizeof h);
  // The container as the rest of the project tells it (sniff_format).
  switch (sniff_format({h, static_cast<std::size_t>(n)})) {
    case MediaFormat::kAvi: {
      // The first RIFF chunk (OpenDML files go on in AVIX chunks after it).
      const uint32_t riff = uint32_t(h[4]) | uint32_t(h[5]) << 8 | uint32_t(h[6]) << 16 |
                            uint32_t(h[7]) << 24;
      if (riff == 0xFFFFFFFFu) {
        if (streamed) *streamed = true;
      } else if (riff > 4) {
        end = 8 + int64_t(riff);
      }
      break;
    }
    case MediaFormat::kFlv:
      end = flv_declared_size(src);
      break;
    case MediaFormat::kMp4:
      end = mp4_declared_end(src, size);
      break;
    case MediaFormat::kMatroska: {
      // The EBML header element, then the Segment (ID 18 53 80 67) with its size.
      int len = 0;
      const int64_t header = ebml_size(h + 4, n - 4, &len);
      if (header >= 0) {
        const int64_t seg = 4 + len + header;
        uint8_t s[12];
        const int m = read_at(src, seg, s, sizeof s);
        if (m >= 5 && s[0] == 0x18 && s[1] == 0x53 && s[2] == 0x80 && s[3] == 0x67) {
          const int64_t body = ebml_size(s + 4, m - 4, &len);
          if (body >= 0) end = seg + 4 + len + body;
        }
      }
      break;
    }
    default:
      break;
  }
  src.seek(0, SEEK_SET);
  // A few bytes short is a writer's rounding, not a cut: some AVI writers count the RIFF header
  // in its own size (8 bytes over) or leave out the last chunk's pad byte.
  return end > size + kDeclaredSlackBytes ? end - size : 0;
}

void reset_timestamp_guess(AVCodecContext* ctx) {
  ctx->pts_correction_num_faulty_pts = 0;
  ctx->pts_correction_num_faulty_dts = 0;
  ctx->pts_correction_last_pts = INT64_MIN;
  ctx->pts_correction_last_dts = INT64_MIN;
}

bool y4m_picture_size(ByteSource& src, int* width, int* height) {
  uint8_t h[256];
  const int n = read_at(src, 0, h, sizeof h);
  src.seek(0, SEEK_SET);  // the demuxer reads on from where this leaves the source
  const std::string_view head(reinterpret_cast<const char*>(h), n > 0 ? std::size_t(n) : 0);
  if (head.substr(0, 10) != "YUV4MPEG2 ") return false;
  const std::string_view line = head.substr(0, head.find('\n'));
  long long w = -1, hh = -1;
  for (std::size_t at = 9; at < line.size();) {
    const std::size_t end = std::min(line.find(' ', at + 1), line.size());
    const std::string_view tok = line.substr(at + 1, end - at - 1);
    if (!tok.empty() && (tok[0] == 'W' || tok[0] == 'H')) {
      long long v = 0;
      bool digits = tok.size() > 1 && tok.size() <= 10;
      for (std::size_t i = 1; digits && i < tok.size(); ++i) {
        digits = tok[i] >= '0' && tok[i] <= '9';
        v = v * 10 + (tok[i] - '0');
      }
      if (digits) (tok[0] == 'W' ? w : hh) = v;
    }
    at = end;
  }
  if (w <= 0 || hh <= 0 || w > INT32_MAX || hh > INT32_MAX) return false;
  *width = static_cast<int>(w);
  *height = static_cast<int>(hh);
  return true;
}

bool zero_fills_frames(AVCodecID codec) { return codec == AV_CODEC_ID_HEVC; }

namespace {
int zero_filled_buffer(AVCodecContext* ctx, AVFrame* frame, int flags) {
  const int err = avcodec_default_get_buffer2(ctx, frame, flags);
  if (err < 0) return err;
  const AVPixFmtDescriptor* d = av_pix_fmt_desc_get(static_cast<AVPixelFormat>(frame->format));
  if (!d || (d->flags & AV_PIX_FMT_FLAG_HWACCEL)) return err;
  for (AVBufferRef* b : frame->buf) {
    if (b) std::memset(b->data, 0, b->size);
  }
  for (int i = 0; i < frame->nb_extended_buf; ++i) {
    std::memset(frame->extended_buf[i]->data, 0, frame->extended_buf[i]->size);
  }
  return err;
}
}  // namespace

void zero_fill_frames(AVCodecContext* ctx) { ctx->get_buffer2 = zero_filled_buffer; }

bool frame_ends_unwritten(const AVFrame* frame) {
  const AVPixFmtDescriptor* d = av_pix_fmt_desc_get(static_cast<AVPixelFormat>(frame->format));
  if (!d || (d->flags & AV_PIX_FMT_FLAG_HWACCEL) || frame->width <= 0 || frame->height <= 0) {
    return false;
  }
  const int planes = av_pix_fmt_count_planes(static_cast<AVPixelFormat>(frame->format));
  // One plane (monochrome): zero is black in full range, a picture's own colour; not told.
  if (planes < 2) return false;
  const int bytes_per_sample = (d->comp[0].depth + 7) / 8;
  for (int p = 0; p < planes; ++p) {
    if (!frame->data[p]) return false;
    const bool chroma = (p == 1 || p == 2) && !(d->flags & AV_PIX_FMT_FLAG_RGB);
    const int w = chroma ? AV_CEIL_RSHIFT(frame->width, d->log2_chroma_w) : frame->width;
    const int h = chroma ? AV_CEIL_RSHIFT(frame->height, d->log2_chroma_h) : frame->height;
    const int bw = std::min(w, 8), bh = std::min(h, 8);
    for (int y = h - bh; y < h; ++y) {
      const uint8_t* row = frame->data[p] + std::ptrdiff_t(y) * frame->linesize[p] +
                           std::ptrdiff_t(w - bw) * bytes_per_sample;
      for (int x = 0; x < bw * bytes_per_sample; ++x) {
        if (row[x] != 0) return false;
      }
    }
  }
  return true;
}

}  // namespace hashmatch::video::ff
