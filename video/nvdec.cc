#include "video/nvdec.h"

extern "C" {
#include <libavutil/hwcontext.h>
#include <libavutil/pixdesc.h>
}

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <map>
#include <mutex>
#include <vector>

#include "kernels/rt/device.h"

namespace hashmatch::video::nvdec {
namespace {

int env_int(const char* name, int fallback, int lo, int hi) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  char* end = nullptr;
  const long x = std::strtol(v, &end, 10);
  if (end == v || *end || x < lo || x > hi) return fallback;
  return static_cast<int>(x);
}

struct DeviceEntry {
  AVBufferRef* ctx = nullptr;  // owned for the process's lifetime (never freed: shared)
  std::string why;             // the failure, when ctx is null
  bool tried = false;
};

// The process's NVDEC state, never destroyed: a Slot released by a thread still running at the
// exit (a server's workers, a scan's pool) must not find its mutex and counts gone.
struct State {
  std::mutex dev_mu;
  std::map<int, DeviceEntry> devices;

  std::mutex slot_mu;
  std::condition_variable slot_cv;
  std::vector<int> active;  // active sessions per GPU
  bool gpus_listed = false;
  std::string no_gpu_why;

  std::mutex refused_mu;
  // Codec parameters NVDEC refused, newest last, with when: a refusal may be passing (a decoder
  // that failed to start for want of memory or sessions looks the same), so it is believed for
  // 10 minutes, then NVDEC is tried again.
  std::deque<std::pair<std::string, std::chrono::steady_clock::time_point>> refused;
};

State& state() {
  static State* s = new State;
  return *s;
}

void list_once(State& st) {
  if (st.gpus_listed) return;
  st.gpus_listed = true;
  std::string why;
  const auto gpus = list_gpus(&why);
  st.active.assign(gpus.size(), 0);
  if (gpus.empty()) st.no_gpu_why = why.empty() ? "no GPU" : why;
}

}  // namespace

int sessions_per_gpu() { return env_int("HASHMATCH_NVDEC_SESSIONS", 16, 1, 256); }
int decoder_threads() { return env_int("HASHMATCH_NVDEC_THREADS", 1, 1, 64); }

ff::BufferPtr device_context(int device, std::string* why) {
  State& st = state();
  std::lock_guard<std::mutex> lk(st.dev_mu);
  DeviceEntry& e = st.devices[device];
  if (!e.tried) {
    e.tried = true;
    AVDictionary* opts = nullptr;
    av_dict_set(&opts, "primary_ctx", "1", 0);  // share the runtime API's context
    // FFmpeg takes the primary context only with blocking-sync flags: align them first, in case the
    // GPU PDQ or the matcher already made it active (kernels/rt/device.h).
    std::string flags_why;
    const bool flags_ok = set_primary_context_blocking_sync(device, &flags_why);
    const std::string dev = std::to_string(device);
    const int err = av_hwdevice_ctx_create(&e.ctx, AV_HWDEVICE_TYPE_CUDA, dev.c_str(), opts, 0);
    av_dict_free(&opts);
    if (err < 0) {
      e.ctx = nullptr;
      e.why = "FFmpeg CUDA device " + dev + " unavailable: " + ff::error_string(err) +
              (flags_ok ? "" : " (" + flags_why + ")");
    }
  }
  if (!e.ctx) {
    if (why) *why = e.why;
    return nullptr;
  }
  AVBufferRef* ref = av_buffer_ref(e.ctx);
  if (!ref && why) *why = "out of memory";
  return ff::BufferPtr(ref);
}

bool codec_supported(const AVCodec* codec) {
  for (int i = 0;; ++i) {
    const AVCodecHWConfig* cfg = avcodec_get_hw_config(codec, i);
    if (!cfg) return false;
    if ((cfg->methods & AV_CODEC_HW_CONFIG_METHOD_HW_DEVICE_CTX) &&
        cfg->device_type == AV_HWDEVICE_TYPE_CUDA && cfg->pix_fmt == AV_PIX_FMT_CUDA)
      return true;
  }
}

bool stream_supported(const AVCodecParameters* par, std::string* why) {
  if (par->codec_id == AV_CODEC_ID_H264) {
    // An MP4's H.264 stream is decoded without FFmpeg's probe (ff::header_complete), so its pixel
    // format is not known yet: its profile tells (avcC: version 1, then profile_idc). NVDEC
    // decodes the 8-bit 4:2:0 profiles only; High 10, High 4:2:2, High 4:4:4 and CAVLC 4:4:4 go
    // to the CPU.
    int profile = par->profile == FF_PROFILE_UNKNOWN ? -1 : (par->profile & 0xFF);
    if (profile < 0 && par->extradata && par->extradata_size >= 4 && par->extradata[0] == 1) {
      profile = par->extradata[1];
    }
    if (profile == 110 || profile == 122 || profile == 244 || profile == 44) {
      if (why) *why = "NVDEC does not decode H.264 profile " + std::to_string(profile) +
                      " (High 10, 4:2:2 or 4:4:4)";
      return false;
    }
  }
  const auto fmt = static_cast<AVPixelFormat>(par->format);
  const AVPixFmtDescriptor* d = av_pix_fmt_desc_get(fmt);
  if (!d) return true;  // not known before decoding: tried
  const char* name = d->name;
  const auto refuse = [&](const char* what) {
    if (why) {
      *why = std::string("NVDEC does not decode ") + avcodec_get_name(par->codec_id) + " " + name +
             " (" + what + ")";
    }
    return false;
  };
  if (d->flags & (AV_PIX_FMT_FLAG_RGB | AV_PIX_FMT_FLAG_PAL | AV_PIX_FMT_FLAG_HWACCEL)) {
    return refuse("not YUV");
  }
  if (d->nb_components < 3) return true;  // grey: FFmpeg's hwaccels decide (tried)
  const bool c420 = d->log2_chroma_w == 1 && d->log2_chroma_h == 1;
  const bool c444 = d->log2_chroma_w == 0 && d->log2_chroma_h == 0;
  const int depth = d->comp[0].depth;
  const AVCodecID id = par->codec_id;
  if (!c420 && !(c444 && id == AV_CODEC_ID_HEVC)) {
    return refuse(d->log2_chroma_w == 1 && d->log2_chroma_h == 0 ? "4:2:2" : "chroma layout");
  }
  int max_depth = 8;
  if (id == AV_CODEC_ID_HEVC || id == AV_CODEC_ID_VP9) max_depth = 12;
  if (id == AV_CODEC_ID_AV1) max_depth = 10;
  if (depth > max_depth) return refuse("bit depth");
  return true;
}

constexpr std::chrono::minutes kRefusalKept{10};

void note_refused(const std::string& params) {
  State& st = state();
  std::lock_guard<std::mutex> lk(st.refused_mu);
  const auto now = std::chrono::steady_clock::now();
  for (auto& [p, when] : st.refused) {
    if (p == params) {
      when = now;
      return;
    }
  }
  if (st.refused.size() >= 256) st.refused.pop_front();
  st.refused.emplace_back(params, now);
}

bool refused(const std::string& params) {
  State& st = state();
  std::lock_guard<std::mutex> lk(st.refused_mu);
  const auto now = std::chrono::steady_clock::now();
  for (const auto& [p, when] : st.refused) {
    if (p == params) return now - when < kRefusalKept;
  }
  return false;
}

Slot::~Slot() {
  if (device_ < 0) return;
  State& st = state();
  {
    std::lock_guard<std::mutex> lk(st.slot_mu);
    --st.active[std::size_t(device_)];
  }
  st.slot_cv.notify_one();
}

Slot& Slot::operator=(Slot&& o) noexcept {
  if (this != &o) {
    Slot old(std::move(*this));
    device_ = o.device_;
    o.device_ = -1;
  }
  return *this;
}

std::optional<Slot> try_acquire(std::string* why,
                                std::optional<std::chrono::steady_clock::time_point> wait_until,
                                bool* busy) {
  if (busy) *busy = false;
  State& st = state();
  std::unique_lock<std::mutex> lk(st.slot_mu);
  list_once(st);
  if (st.active.empty()) {
    if (why) *why = st.no_gpu_why;
    return std::nullopt;
  }
  const int cap = sessions_per_gpu();
  // Scanned once more after the wait times out: a waiter woken by a release just as its deadline
  // passed would otherwise give up beside the free slot, with the notification spent on it.
  bool timed_out = false;
  for (;;) {
    int best = -1;
    for (std::size_t d = 0; d < st.active.size(); ++d) {
      if (st.active[d] < cap && (best < 0 || st.active[d] < st.active[std::size_t(best)]))
        best = static_cast<int>(d);
    }
    if (best >= 0) {
      ++st.active[std::size_t(best)];
      return Slot(best);
    }
    if (!wait_until || timed_out) {
      if (why) *why = "all " + std::to_string(cap) + " NVDEC sessions per GPU busy";
      if (busy) *busy = true;
      return std::nullopt;
    }
    timed_out = st.slot_cv.wait_until(lk, *wait_until) == std::cv_status::timeout;
  }
}

}  // namespace hashmatch::video::nvdec
