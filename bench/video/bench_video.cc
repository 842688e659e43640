// Video hashing capacity: decoded frames/s and video-seconds hashed per second, for generated
// 1080p H.264 and HEVC clips, CPU threads vs NVDEC vs both (decoder auto), 1..16 parallel
// streams, exact vPDQ sampling (one hash per second), every frame (`every`, = --vpdq-every-frame)
// and keyframes-only; the PDQ sink: `auto` (default, --video-pdq auto: host frames batched to
// the GPU PDQ when many frames are hashed, exact), `host` (--video-pdq cpu: sampled frames copied
// back, swscale, CPU PDQ: vPDQ-exact) or `gpu` (--video-pdq cuda, video/gpu_pdq_sink.h: NVDEC
// frames hashed in device memory, no copy back; skipped for the cpu decoder) or `none` (frames
// decoded and converted to RGB, not hashed: the decoding ceiling). The reference vPDQ hasher
// (Python `vpdq` from PyPI) runs on the same clips in the same run when available: one process,
// then one per core side by side (its decoder is effectively single-threaded on x264's
// one-slice frames), each hash count checked.
//
// Clips: the synthetic pattern (video/synth_clip.h), x264/x265 `veryfast`, CRF 23, B-frames,
// key frames exactly every --gop frames (scene-cut detection off; the clip's key frames, size
// and bit rate are printed and in the JSON). One clip, hashed over and over: the decoder pool's
// best case, and a lower bit rate than typical camera material (1080p ~2.9 Mbit/s).
// Each mode/decoder/sink/stream count is warmed up untimed first (up to 8 videos side by side,
// with the timed run's threads, so that their decoders are the pool's). Exit code 1 when a video
// failed, when a `cuda` or (exact) `auto` row used no NVDEC, when a hash count is off, or when a
// GPU row was skipped for want of a GPU with HASHMATCH_REQUIRE_GPU=1.
//
//   bench_video [--seconds 10] [--width 1920] [--height 1080] [--fps 30] [--gop 60]
//               [--codecs h264,hevc] [--decoders cpu,cuda,auto] [--modes exact,keyframes,every]
//               [--sinks auto,host,gpu,none] [--streams 1,2,4,8,16] [--repeats 3] [--clips DIR]
//               [--feed fixed|queue] [--videos N] [--json FILE] [--python PYTHON] [--no-anchor]
//               [--pool-memory 2,16]
//
// --feed fixed (default): S threads each hash the whole clip (from memory) once; the wall time
// from the first start to the last finish is taken, median of the repeats: the slowest session
// sets the time. --feed queue: S sessions take the next of N videos (default 4 x S) whenever they
// finish one, as `hashmatch scan` feeds them: a backlog's view of a mix of NVDEC and CPU
// sessions. CPU sessions get max(1, cores / C) decoder threads each, C the sessions decoding on
// the CPU (S, less the NVDEC sessions `auto` can get: 16 per GPU, 8 for keyframes-only). Decoders are kept open across
// videos of the same stream parameters (video/decoder_pool.h; HASHMATCH_DECODER_POOL=0 turns
// that off, for comparison). Figures printed as a table and written as JSON; under each row, where
// a video's time went (VideoInfo::times: open, decoder set-up, demux, decode, copy back, RGB
// conversion, sink, finish; ms per video) and how busy the sessions were.
//
// --pool-memory T1,T2,...: instead of the throughput table, what an idle pooled CPU decoder costs
// in memory: 8 sessions hash the clip side by side with T decoder threads each, with pooling off
// and then on (leaving 8 idle decoders); the difference in the process's resident memory
// (malloc_trim after each) gives MB per idle decoder.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <malloc.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "kernels/rt/device.h"
#include "video/decoder_pool.h"
#include "video/ffmpeg_util.h"
#include "video/frame_sink.h"
#include "video/synth_clip.h"
#include "video/vpdq.h"

namespace fs = std::filesystem;
using namespace hashmatch;
using namespace hashmatch::video;

namespace {

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

struct Args {
  double seconds = 10;
  int width = 1920, height = 1080, fps = 30, gop = 60, repeats = 3;
  bool queue = false;  // --feed queue
  int videos = 0;      // --videos (queue feed; 0: 4 x streams)
  std::vector<std::string> codecs{"h264", "hevc"}, decoders{"cpu", "cuda", "auto"},
      modes{"exact", "keyframes"}, sinks{"auto"};
  std::vector<int> streams{1, 2, 4, 8, 16};
  std::string clips = "bench-video-clips", json = "bench_video.json", python = "python3";
  bool anchor = true;
  std::vector<int> pool_memory;  // --pool-memory: decoder thread counts
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    auto val = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", k.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (k == "--seconds") a.seconds = std::stod(val());
    else if (k == "--width") a.width = std::stoi(val());
    else if (k == "--height") a.height = std::stoi(val());
    else if (k == "--fps") a.fps = std::stoi(val());
    else if (k == "--gop") a.gop = std::stoi(val());
    else if (k == "--repeats") a.repeats = std::stoi(val());
    else if (k == "--codecs") a.codecs = split(val());
    else if (k == "--decoders") a.decoders = split(val());
    else if (k == "--modes") a.modes = split(val());
    else if (k == "--sinks") a.sinks = split(val());
    else if (k == "--streams") {
      a.streams.clear();
      for (const auto& s : split(val())) a.streams.push_back(std::stoi(s));
    } else if (k == "--clips") a.clips = val();
    else if (k == "--feed") {
      const std::string f = val();
      if (f != "fixed" && f != "queue") {
        std::fprintf(stderr, "--feed must be fixed or queue\n");
        std::exit(2);
      }
      a.queue = f == "queue";
    } else if (k == "--videos") a.videos = std::stoi(val());
    else if (k == "--json") a.json = val();
    else if (k == "--python") a.python = val();
    else if (k == "--no-anchor") a.anchor = false;
    else if (k == "--pool-memory") {
      for (const auto& t : split(val())) a.pool_memory.push_back(std::stoi(t));
    }
    else {
      std::fprintf(stderr, "unknown option %s (see the header of bench/video/bench_video.cc)\n",
                   k.c_str());
      std::exit(2);
    }
  }
  return a;
}

std::vector<uint8_t> slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Key packets of the clip's first video stream.
int count_key_packets(const std::vector<uint8_t>& bytes) {
  ff::Demuxer d(std::make_unique<ff::MemorySource>(bytes),
                ff::Demuxer::Clock::now() + std::chrono::seconds(60));
  if (d.open(false) < 0) return -1;
  const int vs = ff::first_video_stream(d.get());
  if (vs < 0) return -1;
  ff::PacketPtr pkt = ff::make_packet();
  int keys = 0;
  while (av_read_frame(d.get(), pkt.get()) >= 0) {
    if (pkt->stream_index == vs && (pkt->flags & AV_PKT_FLAG_KEY)) ++keys;
    av_packet_unref(pkt.get());
  }
  return keys;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

struct Run {
  double wall = 0;
  int64_t frames = 0, hashed = 0;
  int videos = 0, nvdec = 0, cpu = 0, failed = 0, gpu_pdq = 0, reused = 0;
  std::string note;
  VideoTimes times;  // summed over the videos
};

// Where a video's time went (VideoInfo::times), ms per video, and how busy the sessions were:
// the videos' summed time over streams x wall (below 1: sessions waited for work or to start).
nlohmann::json stage_json(const Run& r, int streams) {
  const double n = std::max(1, r.videos);
  const VideoTimes& t = r.times;
  auto ms = [&](double x) { return std::round(x / n * 1e5) / 100; };
  return {{"total", ms(t.total)},     {"open", ms(t.open)},       {"decoder", ms(t.decoder)},
          {"demux", ms(t.demux)},     {"decode", ms(t.decode)},   {"copy", ms(t.copy)},
          {"convert", ms(t.convert)}, {"sink", ms(t.sink)},       {"finish", ms(t.finish)},
          {"other", ms(t.total - t.stages())},
          {"sessions_busy", r.wall > 0 ? t.total / (r.wall * std::max(1, streams)) : 0.0}};
}

// Sink `none`: frames decoded and converted to RGB, then dropped (no PDQ).
class NullSink : public FrameSink {
 public:
  Image take_buffer(std::size_t) override { return std::move(spare_); }
  void push_host(const FrameInfo& info, Image&& rgb) override {
    frames_.push_back({info.frame_number, 0, {}, info.timestamp});
    spare_ = std::move(rgb);
  }
  std::vector<VpdqFrame> finish() override { return std::move(frames_); }

 private:
  Image spare_;
  std::vector<VpdqFrame> frames_;
};

VpdqResult hash_one(const std::vector<uint8_t>& clip, const VideoOptions& o, bool null_sink) {
  if (!null_sink) return hash_video(VideoInput::memory(clip), o);
  NullSink sink;
  return hash_video(VideoInput::memory(clip), o, DecodeLimits{}, sink);
}

// fixed: each of `streams` sessions hashes the clip once. queue: `streams` sessions share
// `videos` copies of the clip, each taking the next when done.
// NVDEC sessions a run of `auto` can get: per GPU HASHMATCH_NVDEC_SESSIONS (16), or for
// keyframes-only HASHMATCH_NVDEC_KEYFRAME_SESSIONS (8).
int nvdec_capacity(int gpus, bool keyframes) {
  const char* v = std::getenv(keyframes ? "HASHMATCH_NVDEC_KEYFRAME_SESSIONS" : "HASHMATCH_NVDEC_SESSIONS");
  const int per = v && *v ? std::atoi(v) : (keyframes ? 8 : 16);
  return keyframes ? std::max(0, per) : std::max(0, per) * gpus;
}

// `threads_as_for`: the threads are those of a run of that many streams (a warm-up with fewer
// streams leaves decoders the timed run can take from the pool: the pool keys on the threads).
Run run_streams(const std::vector<uint8_t>& clip, const VideoOptions& base, int streams,
                bool null_sink, bool queue, int videos, int gpus, int threads_as_for = 0) {
  const int cores = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  VideoOptions o = base;
  // The cores are shared by the sessions that decode on the CPU: with `auto` the NVDEC sessions
  // (one decoder thread each) leave theirs to the others (24 streams with 16 on NVDEC: the 8 CPU
  // sessions got one thread each, half the cores idle).
  int cpu_sessions = threads_as_for > 0 ? threads_as_for : streams;
  if (base.decoder == "auto" && gpus > 0) {
    cpu_sessions = std::max(1, cpu_sessions - nvdec_capacity(gpus, base.keyframes_only));
  }
  o.threads = std::max(1, cores / cpu_sessions);
  const int total = queue ? (videos > 0 ? videos : 4 * streams) : streams;
  std::vector<VpdqResult> results(static_cast<std::size_t>(total));
  std::atomic<int> next{0};
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> ts;
  for (int s = 0; s < streams; ++s) {
    ts.emplace_back([&] {
      for (int i; (i = next.fetch_add(1)) < total;) {
        results[std::size_t(i)] = hash_one(clip, o, null_sink);
      }
    });
  }
  for (auto& t : ts) t.join();
  Run r;
  r.wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.videos = total;
  for (const auto& x : results) {
    r.frames += x.info.frames_decoded;
    r.hashed += x.info.frames_hashed;
    if (!x.ok()) {
      ++r.failed;
      r.note = x.error;
    }
    (x.info.decoder == "nvdec" ? r.nvdec : r.cpu)++;
    r.gpu_pdq += x.info.pdq == "cuda";
    r.reused += x.info.decoder_reused;
    r.times += x.info.times;
    if (r.note.empty() && !x.info.note.empty() && x.info.decoder != base.decoder) r.note = x.info.note;
  }
  return r;
}

// The reference hasher in `processes` child processes started together, each hashing the clip
// once (its decoder is effectively single-threaded on x264's one-slice frames, so the machine's
// throughput takes one process per core); returns {the slowest one's seconds, frames hashed by
// each} or seconds < 0. The Python start and import are outside each process's timing.
std::pair<double, int64_t> run_anchor(const std::string& python, const fs::path& clip, int processes) {
  const std::string script =
      "import time, vpdq\n"
      "t = time.perf_counter()\n"
      "h = vpdq.computeHash('" + clip.string() + "', seconds_per_hash=1)\n"
      "print(time.perf_counter() - t, len(h))\n";
  const fs::path sp = fs::temp_directory_path() / "hashmatch_bench_vpdq.py";
  std::ofstream(sp) << script;
  const std::string cmd = python + " '" + sp.string() + "' 2>/dev/null";
  std::vector<FILE*> ps;
  for (int i = 0; i < processes; ++i) {
    if (FILE* p = popen(cmd.c_str(), "r")) ps.push_back(p);
  }
  if (ps.empty()) return {-1, 0};
  double slowest = 0;
  long long hashes = -1;
  bool ok = static_cast<int>(ps.size()) == processes;
  for (FILE* p : ps) {
    double secs = -1;
    long long n = 0;
    if (std::fscanf(p, "%lf %lld", &secs, &n) != 2 || secs < 0) ok = false;
    if (hashes >= 0 && n != hashes) ok = false;  // every process hashes the same clip
    hashes = n;
    slowest = std::max(slowest, secs);
    pclose(p);
  }
  if (!ok) return {-1, 0};
  return {slowest, hashes};
}

// Resident memory of this process, MB.
double rss_mb() {
  std::ifstream f("/proc/self/statm");
  long long size = 0, resident = 0;
  f >> size >> resident;
  return double(resident) * double(sysconf(_SC_PAGESIZE)) / (1024.0 * 1024.0);
}

// --pool-memory: MB per idle CPU decoder of this clip with `threads` decoder threads. Freed
// memory does not all go back to the system (malloc keeps its per-thread arenas), so the same 8
// videos run twice, with pooling off then on; the difference in resident memory is the 8 idle
// decoders.
nlohmann::json pool_memory(const std::vector<uint8_t>& clip, int threads) {
  constexpr int kIdle = 8;
  VideoOptions o;
  o.decoder = "cpu";
  o.threads = threads;
  std::atomic<int> failed{0};
  auto eight = [&] {
    std::vector<std::thread> ts;
    for (int i = 0; i < kIdle; ++i) ts.emplace_back([&] { failed += !hash_one(clip, o, true).ok(); });
    for (auto& t : ts) t.join();
    malloc_trim(0);
    return rss_mb();
  };
  const std::string cap = std::getenv("HASHMATCH_DECODER_POOL") ? std::getenv("HASHMATCH_DECODER_POOL") : "";
  decoder_pool::clear();
  setenv("HASHMATCH_DECODER_POOL", "0", 1);
  const double off = eight();
  if (cap.empty()) unsetenv("HASHMATCH_DECODER_POOL"); else setenv("HASHMATCH_DECODER_POOL", cap.c_str(), 1);
  const double on = eight();
  const int idle = decoder_pool::idle_count();
  decoder_pool::clear();
  const double per = idle > 0 ? (on - off) / idle : 0;
  return {{"threads", threads}, {"idle_decoders", idle}, {"rss_mb_pool_off", off},
          {"rss_mb_pool_on", on}, {"mb_per_idle_decoder", per}, {"failed", failed.load()}};
}

}  // namespace

int main(int argc, char** argv) {
  const Args a = parse(argc, argv);
  std::string why;
  const auto gpus = list_gpus(&why);
  const int cores = static_cast<int>(std::thread::hardware_concurrency());
  std::printf("# bench_video: %dx%d, %g s at %d fps, GOP %d; %d CPU threads; feed %s; decoder "
              "pool %s; %s\n",
              a.width, a.height, a.seconds, a.fps, a.gop, cores, a.queue ? "queue" : "fixed",
              std::getenv("HASHMATCH_DECODER_POOL") ? std::getenv("HASHMATCH_DECODER_POOL") : "default",
              gpus.empty() ? ("no GPU (" + why + ")").c_str() : gpus[0].name.c_str());
  int exit_code = 0;
  const char* rg = std::getenv("HASHMATCH_REQUIRE_GPU");
  const bool require_gpu = rg && std::string(rg) == "1";
  std::set<std::string> warmed;  // mode/decoder/sink groups warmed up
  nlohmann::json out;
  out["device"] = gpus.empty() ? "cpu only" : gpus[0].name;
  out["cpu_threads"] = cores;
  out["clip"] = {{"width", a.width}, {"height", a.height}, {"seconds", a.seconds},
                 {"fps", a.fps}, {"gop", a.gop}, {"content", "synth_clip pattern 0"}};
  out["results"] = nlohmann::json::array();
  fs::create_directories(a.clips);

  for (const std::string& codec : a.codecs) {
    SynthClipSpec spec;
    spec.encoder = codec == "hevc" ? "libx265" : codec == "h264" ? "libx264" : codec;
    spec.width = a.width;
    spec.height = a.height;
    spec.fps_num = a.fps;
    spec.frames = static_cast<int>(a.seconds * a.fps);
    spec.gop = a.gop;
    spec.preset = "veryfast";
    // Key frames every `gop` frames exactly: x264 and x265 also cut at scene changes, and the
    // synthetic pattern has them (a "GOP 60" 1080p clip had key frames at 0, 49, 97 ...).
    if (codec == "h264" || codec == "hevc") spec.params = "scenecut=0";
    const std::string name = "bench_" + codec + "_" + std::to_string(a.width) + "x" +
                             std::to_string(a.height) + "_" + std::to_string(a.fps) + "fps_" +
                             std::to_string(spec.frames) + "f_g" + std::to_string(a.gop) + "_sc0" +
                             (codec == "hevc" ? ".mkv" : ".mp4");
    const fs::path clip = fs::path(a.clips) / name;
    if (!fs::exists(clip)) {
      std::printf("# generating %s ...\n", clip.string().c_str());
      std::fflush(stdout);
      // Written under another name first: a run killed while writing leaves no half clip behind.
      const fs::path part = fs::path(a.clips) / (name + ".part" + (codec == "hevc" ? ".mkv" : ".mp4"));
      write_synth_clip(part, spec);
      fs::rename(part, clip);
    }
    const std::vector<uint8_t> bytes = slurp(clip);
    const double video_seconds = double(spec.frames) / a.fps;
    const int key_frames = count_key_packets(bytes);
    std::printf("# %s: %zu bytes (%.2f Mbit/s), %d key frames in %d frames\n", clip.filename().c_str(),
                bytes.size(), double(bytes.size()) * 8 / video_seconds / 1e6, key_frames, spec.frames);
    out["clip_" + codec] = {{"file", clip.filename().string()}, {"bytes", bytes.size()},
                            {"mbit_per_second", double(bytes.size()) * 8 / video_seconds / 1e6},
                            {"key_frames", key_frames}, {"frames", spec.frames}};
    if (!a.pool_memory.empty()) {
      if (decoder_pool::cpu_capacity() < 8) {
        std::fprintf(stderr, "--pool-memory needs HASHMATCH_DECODER_POOL >= 8\n");
        return 2;
      }
      for (int t : a.pool_memory) {
        const nlohmann::json m = pool_memory(bytes, t);
        std::printf("%-5s idle CPU decoder, %2d threads: %6.1f MB each (%d idle; RSS after 8 "
                    "videos: pool off %.0f MB, on %.0f MB)%s\n",
                    codec.c_str(), t, m["mb_per_idle_decoder"].get<double>(),
                    m["idle_decoders"].get<int>(), m["rss_mb_pool_off"].get<double>(),
                    m["rss_mb_pool_on"].get<double>(),
                    m["failed"].get<int>() ? " (some videos FAILED)" : "");
        std::fflush(stdout);
        nlohmann::json row = m;
        row["codec"] = codec;
        out["pool_memory"].push_back(row);
      }
      continue;
    }
    std::printf("%-5s %-9s %-5s %-4s %7s %12s %14s %12s %7s %s\n", "codec", "mode", "dec", "sink",
                "streams", "frames/s", "video-s/s", "videos", "gpu-pdq", "note");

    for (const std::string& mode : a.modes) {
      for (const std::string& dec : a.decoders) {
        if (dec != "cpu" && gpus.empty()) {  // nothing to measure without a GPU
          std::printf("%-5s %-9s %-5s skipped: no GPU (%s)\n", codec.c_str(), mode.c_str(), dec.c_str(),
                      why.c_str());
          if (require_gpu) exit_code = 1;
          continue;
        }
        for (const std::string& sink : a.sinks) {
          if (sink != "host" && sink != "gpu" && sink != "auto" && sink != "none") {
            std::fprintf(stderr, "unknown sink %s (auto, host, gpu, none)\n", sink.c_str());
            return 2;
          }
          if (sink == "gpu" && (dec == "cpu" || gpus.empty())) continue;  // no NVDEC frames
          for (int s : a.streams) {
            VideoOptions o;
            o.decoder = dec;
            o.keyframes_only = mode == "keyframes";
            if (mode == "every") o.seconds_per_hash = 0;
            o.pdq = sink == "gpu" ? "cuda" : sink == "host" ? "cpu" : "auto";
            // Untimed, once per mode, decoder and sink: the CUDA context, the first NVDEC
            // decoders and the CPU decoders' first allocations are not the throughput.
            const std::string group = mode + "/" + dec + "/" + sink + "/" + std::to_string(s);
            if (warmed.insert(group).second) {  // a few videos, with the timed run's threads
              const int w = std::min(s, 8);
              (void)run_streams(bytes, o, w, sink == "none", true, w, int(gpus.size()), s);
            }
            std::vector<double> walls;
            Run last;
            for (int r = 0; r < a.repeats; ++r) {
              last = run_streams(bytes, o, s, sink == "none", a.queue, a.videos, int(gpus.size()));
              walls.push_back(last.wall);
            }
            const double wall = median(walls);
            const double fps = double(last.frames) / wall;
            // Videos hashed to their end (a failed one's frames are in frames/s, not its seconds).
            const double vss = video_seconds * (last.videos - last.failed) / wall;
            if (last.failed > 0) exit_code = 1;
            if (dec == "cuda" && last.nvdec == 0) exit_code = 1;  // NVDEC asked for, none used
            if (dec == "auto" && mode != "keyframes" && last.nvdec == 0) exit_code = 1;
            char sessions[48];
            std::snprintf(sessions, sizeof sessions, "%dg+%dc/%dr", last.nvdec, last.cpu, last.reused);
            std::printf("%-5s %-9s %-5s %-4s %7d %12.0f %14.1f %12s %7d %s\n", codec.c_str(),
                        mode.c_str(), dec.c_str(), sink.c_str(), s, fps, vss, sessions, last.gpu_pdq,
                        last.failed ? ("FAILED: " + last.note).c_str() : last.note.substr(0, 60).c_str());
            const nlohmann::json stages = stage_json(last, s);
            std::printf("      ms per video: open %.1f, decoder %.1f, demux %.1f, decode %.1f, copy "
                        "%.1f, convert %.1f, sink %.1f, finish %.1f, other %.1f = %.1f; sessions "
                        "busy %.0f %%\n",
                        stages["open"].get<double>(), stages["decoder"].get<double>(),
                        stages["demux"].get<double>(), stages["decode"].get<double>(),
                        stages["copy"].get<double>(), stages["convert"].get<double>(),
                        stages["sink"].get<double>(), stages["finish"].get<double>(),
                        stages["other"].get<double>(), stages["total"].get<double>(),
                        100 * stages["sessions_busy"].get<double>());
            std::fflush(stdout);
            out["results"].push_back({{"codec", codec}, {"mode", mode}, {"decoder", dec},
                                      {"sink", sink}, {"streams", s}, {"wall_seconds_median", wall},
                                      {"frames_decoded", last.frames}, {"frames_hashed", last.hashed},
                                      {"frames_per_second", fps}, {"video_seconds_per_second", vss},
                                      {"nvdec_videos", last.nvdec}, {"cpu_videos", last.cpu},
                                      {"gpu_pdq_videos", last.gpu_pdq},
                                      {"key_frames_per_video", mode == "keyframes" && last.videos > 0
                                                                   ? double(last.frames) / last.videos
                                                                   : 0.0},
                                      {"feed", a.queue ? "queue" : "fixed"}, {"videos", last.videos},
                                      {"decoders_reused", last.reused},
                                      {"ms_per_video", stages},
                                      {"failed", last.failed}, {"note", last.note}});
          }
        }
      }
    }
    if (a.anchor) {
      // One process, then one per core side by side (the machine's throughput with the
      // reference, to set beside ours with every core and NVDEC).
      nlohmann::json anchor = {{"tool", "vpdq (PyPI), computeHash(seconds_per_hash=1)"}};
      const int want_hashes = static_cast<int>(std::ceil(video_seconds));
      for (const int procs : {1, std::max(1, cores)}) {
        std::vector<double> secs;
        int64_t n = 0;
        for (int r = 0; r < a.repeats; ++r) {
          const auto [t, k] = run_anchor(a.python, clip, procs);
          if (t < 0) break;
          secs.push_back(t);
          n = k;
        }
        if (secs.empty()) break;
        const double t = median(secs);
        std::printf("%-5s %-9s %-5s %-4s %7d %12.0f %14.1f %9s %7s reference vpdq (Python, %d "
                    "process(es), %lld hashes each%s)\n",
                    codec.c_str(), "exact", "vpdq", "-", procs, procs * spec.frames / t,
                    procs * video_seconds / t, "-", "-", procs, static_cast<long long>(n),
                    n == want_hashes ? "" : ", UNEXPECTED COUNT");
        anchor[procs == 1 ? "one_process" : "one_per_core"] = {
            {"processes", procs}, {"seconds_median", t},
            {"frames_per_second", procs * spec.frames / t},
            {"video_seconds_per_second", procs * video_seconds / t}, {"hashes_each", n},
            {"hashes_expected", want_hashes}};
        if (n != want_hashes) exit_code = 1;
      }
      if (!anchor.contains("one_process")) {
        std::printf("%-5s reference vpdq (Python): not available with %s (pip install vpdq)\n",
                    codec.c_str(), a.python.c_str());
        out["anchor_" + codec] = "unavailable";
      } else {
        out["anchor_" + codec] = anchor;
      }
    }
  }
  std::ofstream(a.json) << out.dump(2) << '\n';
  std::printf("# wrote %s%s\n", a.json.c_str(),
              exit_code ? " (exit 1: failed videos, a GPU decoder that used no NVDEC, or no GPU "
                          "with HASHMATCH_REQUIRE_GPU=1)"
                        : "");
  return exit_code;
}
