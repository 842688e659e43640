#include "video/decoder_pool.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <list>
#include <mutex>
#include <thread>
#include <vector>

#include "video/nvdec.h"

namespace hashmatch::video::decoder_pool {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::size_t kSeenKeys = 256;

struct Idle {
  Key key;
  ff::CodecPtr ctx;
  Clock::time_point since;
  bool drained = true;  // false: kept without a drain (give's `drained`)
  int pending_pushes = 0;  // push copies still in it (give's `pending_pushes`)
};

struct Seen {
  std::string params;
  int count = 0;
};

// The pool's limits from the environment. Read by the threads that give and take decoders, never
// by the reaper: getenv beside a setenv elsewhere (tests' ScopedEnv) is a data race, and the
// reaper runs at any time. It uses the limits last read.
struct Limits {
  int64_t idle_ms = 60000;
  int cpu_cap = 8;
  int gpu_cap = 16;
};

Limits read_limits() {
  Limits l;
  l.idle_ms = idle_ms();
  l.cpu_cap = cpu_capacity();
  l.gpu_cap = l.cpu_cap == 0 ? 0 : nvdec::sessions_per_gpu();
  return l;
}

struct Pool {
  std::mutex mu;
  Limits limits;  // last read by a caller (read_limits), for the reaper
  std::condition_variable wake;  // the reaper: a decoder was given back
  std::condition_variable freed;  // a free outside the lock has ended
  bool reaper_started = false;
  bool exiting = false;  // the process is exiting: nothing is freed any more
  int freeing = 0;       // frees in progress outside the lock
  std::list<Idle> idle;  // most recently given back first
  std::list<Seen> seen;  // most recently seen first
};

Pool& pool() {
  // Never destroyed: idle NVDEC decoders must not be freed after the CUDA driver's own teardown
  // at exit.
  static Pool* p = new Pool;
  return *p;
}

template <typename T>
void put(std::string& s, const T& v) {
  s.append(reinterpret_cast<const char*>(&v), sizeof v);
}

// Idle decoders past their time, and those over the caps (the oldest first), leave the list into
// `out`, to be freed outside the lock.
// Caps and idle time: p.limits (callers other than the reaper set them from read_limits first).
void trim_locked(Pool& p, std::vector<ff::CodecPtr>& out) {
  const auto now = Clock::now();
  const auto max_idle = std::chrono::milliseconds(p.limits.idle_ms);
  const int cpu_cap = p.limits.cpu_cap;
  const int gpu_cap = p.limits.gpu_cap;
  int cpu = 0;
  std::vector<std::pair<int, int>> per_device;  // (device, count)
  for (auto it = p.idle.begin(); it != p.idle.end();) {
    bool drop = now - it->since >= max_idle;
    if (!drop) {
      if (it->key.device < 0) {
        drop = ++cpu > cpu_cap;
      } else {
        auto d = std::find_if(per_device.begin(), per_device.end(),
                              [&](const auto& e) { return e.first == it->key.device; });
        if (d == per_device.end()) {
          per_device.emplace_back(it->key.device, 0);
          d = per_device.end() - 1;
        }
        drop = ++d->second > gpu_cap;
      }
    }
    if (drop) {
      out.push_back(std::move(it->ctx));
      it = p.idle.erase(it);
    } else {
      ++it;
    }
  }
}

// Frees decoders that left the pool, outside its lock (an NVDEC decoder's teardown takes a
// while). Once the process exits (stop_freeing_for_exit) they are left as they are: the CUDA
// driver may be torn down already.
void release(std::vector<ff::CodecPtr>& dead) {
  if (dead.empty()) return;
  Pool& p = pool();
  {
    std::lock_guard<std::mutex> lk(p.mu);
    if (p.exiting) {
      for (auto& d : dead) (void)d.release();  // leaked on purpose: the process is ending
      dead.clear();
      return;
    }
    ++p.freeing;
  }
  dead.clear();
  {
    std::lock_guard<std::mutex> lk(p.mu);
    --p.freeing;
  }
  p.freed.notify_all();
}

// The reaper: frees idle decoders once their time is up even when no video starts or ends (a
// server gone quiet must not keep up to a gigabyte of idle 1080p decoders). Started at the first
// decoder given back; sleeps until the oldest idle decoder expires, or until one is given back.
// Detached, and the pool is never destroyed: at exit (stop_freeing_for_exit, run by atexit) it
// stops freeing and sleeps through the process's end.
void reaper() {
  Pool& p = pool();
  std::unique_lock<std::mutex> lk(p.mu);
  for (;;) {
    if (p.idle.empty() || p.exiting) {
      p.wake.wait(lk);
      continue;
    }
    // The list is ordered by `since`, newest first: the oldest expires first.
    const auto due = p.idle.back().since + std::chrono::milliseconds(p.limits.idle_ms);
    if (Clock::now() < due) {
      p.wake.wait_until(lk, due);
      continue;
    }
    std::vector<ff::CodecPtr> dead;
    trim_locked(p, dead);
    lk.unlock();
    release(dead);
    lk.lock();
  }
}

void start_reaper_locked(Pool& p) {
  if (p.reaper_started) return;
  std::thread t(reaper);  // may throw (no thread to be had): tried again at the next give
  p.reaper_started = true;
  // Registered after FFmpeg loaded the CUDA driver for an NVDEC decoder (a decoder was given back
  // before this): runs before the driver's own teardown at exit.
  std::atexit(stop_freeing_for_exit);
  t.detach();
}

}  // namespace

int64_t idle_ms() {
  const char* v = std::getenv("HASHMATCH_DECODER_POOL_IDLE_SECONDS");
  if (!v || !*v) return 60000;
  char* end = nullptr;
  const double x = std::strtod(v, &end);
  if (end == v || *end || !(x > 0) || x > 86400) return 60000;
  return std::max<int64_t>(1, static_cast<int64_t>(x * 1000));
}

int cpu_capacity() {
  const char* v = std::getenv("HASHMATCH_DECODER_POOL");
  if (!v || !*v) return 8;
  char* end = nullptr;
  const long x = std::strtol(v, &end, 10);
  if (end == v || *end || x < 0 || x > 1024) return 8;
  return static_cast<int>(x);
}

Key make_key(const AVCodecParameters* par, AVRational pkt_timebase, int device, int threads,
             int skip_frame, int extra_hw_frames, int64_t max_pixels) {
  Key k;
  std::string& s = k.params;
  // Every field avcodec_parameters_to_context copies for video, bar the bit rate (a property of
  // the file that video decoders do not read).
  put(s, par->codec_type);
  put(s, par->codec_id);
  put(s, par->codec_tag);
  put(s, par->format);
  put(s, par->bits_per_coded_sample);
  put(s, par->bits_per_raw_sample);
  put(s, par->profile);
  put(s, par->level);
  put(s, par->width);
  put(s, par->height);
  put(s, par->sample_aspect_ratio.num);
  put(s, par->sample_aspect_ratio.den);
  put(s, par->field_order);
  put(s, par->color_range);
  put(s, par->color_primaries);
  put(s, par->color_trc);
  put(s, par->color_space);
  put(s, par->chroma_location);
  put(s, par->video_delay);
  put(s, par->extradata_size);
  if (par->extradata && par->extradata_size > 0) {
    s.append(reinterpret_cast<const char*>(par->extradata), std::size_t(par->extradata_size));
  }
  k.device = device;
  k.threads = threads;
  k.skip_frame = skip_frame;
  k.extra_hw_frames = extra_hw_frames;
  k.max_pixels = max_pixels;
  k.video_delay = par->video_delay;
  k.tb_num = pkt_timebase.num;
  k.tb_den = pkt_timebase.den;
  return k;
}

ff::CodecPtr take(const Key& key, bool* undrained, int* pending_pushes) {
  if (undrained) *undrained = false;
  if (pending_pushes) *pending_pushes = 0;
  std::vector<ff::CodecPtr> dead;
  ff::CodecPtr out;
  const Limits lim = read_limits();
  {
    Pool& p = pool();
    std::lock_guard<std::mutex> lk(p.mu);
    p.limits = lim;
    trim_locked(p, dead);
    for (auto it = p.idle.begin(); it != p.idle.end(); ++it) {
      if (it->key == key) {
        out = std::move(it->ctx);
        if (undrained) *undrained = !it->drained;
        if (pending_pushes) *pending_pushes = it->drained ? 0 : it->pending_pushes;
        p.idle.erase(it);
        break;
      }
    }
  }
  release(dead);  // outside the lock
  return out;
}

bool has_idle(const Key& key, bool any_device) {
  Pool& p = pool();
  std::lock_guard<std::mutex> lk(p.mu);
  return std::any_of(p.idle.begin(), p.idle.end(), [&](const Idle& i) {
    if (!any_device) return i.key == key;
    Key k = key;
    k.device = i.key.device;
    return i.key.device >= 0 && i.key == k;
  });
}

namespace {

std::atomic<int64_t> g_kept_without_drain{0};

void give_or_throw(const Key& key, ff::CodecPtr ctx, bool drained, int pending_pushes) {
  if (!ctx) return;
  const Limits lim = read_limits();
  if (lim.cpu_cap == 0) return;  // pooling off: freed here
  // FFmpeg raises has_b_frames when a stream reorders more than its headers said: such a decoder
  // would start the next video with a longer reordering delay than a fresh one. Freed.
  if (ctx->has_b_frames != key.video_delay) return;
  // Ends the drained state and drops every reference frame, timestamp and reordering state.
  if (drained) {
    avcodec_flush_buffers(ctx.get());
  } else {
    ++g_kept_without_drain;  // kept as it is: an H.264 NVDEC decoder keeps its hardware decoder
  }
  // ... but not the statistics behind best_effort_timestamp (keyframes-only numbers its frames
  // from it): a video with out-of-order timestamps would make later ones number from their DTS.
  // A fresh decoder starts with none.
  ff::reset_timestamp_guess(ctx.get());
  std::vector<ff::CodecPtr> dead;
  Pool& p = pool();
  {
    std::lock_guard<std::mutex> lk(p.mu);
    if (p.exiting) {
      (void)ctx.release();  // a video that ended during the exit: left to the process's end
      return;
    }
    p.idle.push_front(Idle{key, std::move(ctx), Clock::now(), drained, drained ? 0 : pending_pushes});
    p.limits = lim;
    trim_locked(p, dead);
    start_reaper_locked(p);
    p.wake.notify_one();
  }
  release(dead);
}

}  // namespace

void give(const Key& key, ff::CodecPtr ctx, bool drained, int pending_pushes) noexcept {
  try {
    give_or_throw(key, std::move(ctx), drained, pending_pushes);
  } catch (...) {
    // Out of memory or threads: the decoder (freed with ctx, or left in the pool) is lost to
    // reuse, nothing else. give runs in the decode session's destructor and must not throw.
  }
}

int64_t kept_without_drain() { return g_kept_without_drain.load(); }

int note_seen(const std::string& params) {
  Pool& p = pool();
  std::lock_guard<std::mutex> lk(p.mu);
  for (auto it = p.seen.begin(); it != p.seen.end(); ++it) {
    if (it->params == params) {
      const int n = ++it->count;
      p.seen.splice(p.seen.begin(), p.seen, it);
      return n;
    }
  }
  p.seen.push_front(Seen{params, 1});
  if (p.seen.size() > kSeenKeys) p.seen.pop_back();
  return 1;
}

int idle_count() {
  Pool& p = pool();
  std::lock_guard<std::mutex> lk(p.mu);
  return static_cast<int>(p.idle.size());
}

void stop_freeing_for_exit() {
  Pool& p = pool();
  std::unique_lock<std::mutex> lk(p.mu);
  p.exiting = true;
  p.freed.wait(lk, [&] { return p.freeing == 0; });
}

void clear() {
  std::list<Idle> all;
  {
    Pool& p = pool();
    std::lock_guard<std::mutex> lk(p.mu);
    all.swap(p.idle);
    p.seen.clear();
  }
}

}  // namespace hashmatch::video::decoder_pool
