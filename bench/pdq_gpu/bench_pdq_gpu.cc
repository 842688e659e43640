// bench_pdq_gpu: PDQ capacity on the GPU and the CPU, and nvJPEG's decoding differences.
//
//   bench_pdq_gpu [--mode all|frames|cpu|jpeg|jpeg-diff] [--sizes 640x480,1920x1080,3840x2160]
//                 [--batches 1,4,16,64,256,1024,4096] [--source device,host] [--repeats 5]
//                 [--jpeg-count 512] [--jpeg-size 1920x1080] [--diff-count 200] [--arena-mb 4096]
//                 [--pdqhash SCRIPT] [--json FILE] [--seed N] [--dihedral]
//
// frames:    frames/s of GpuBatchHasher for frames already in device memory (hash_device_frames)
//            and in host memory (hash_frames: pinned staging, overlapped upload), per size and
//            batch size; median over repeats, wall time of whole calls (results on the host).
// cpu:       the CPU reference on all cores (CpuBatchHasher) on the same frames.
// jpeg:      JPEG bytes in memory -> hashes: GpuJpegHasher (nvJPEG + GPU PDQ) and the CPU path
//            (libjpeg-turbo + PDQ on all cores), images/s.
// jpeg-diff: generated JPEGs (sizes, 4:4:4/4:2:2/4:2:0/grey, qualities 50..95) decoded by
//            libjpeg-turbo and by nvJPEG: pixel differences and the distribution of PDQ Hamming
//            distances between the two decodings (the CPU hash of each).
// --pdqhash runs the reference hasher's script (bench/pdq_gpu/pdqhash_ref.py) in the same run.
// GPU parts report "skipped" with the reason when there is no GPU or no nvJPEG.
#include <cstddef>
#include <cstdio>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "host/common/error.h"
#include "host/common/parallel.h"
#include "host/image/decode.h"
#include "host/image/encode_jpeg.h"
#include "host/pdq/pdq_backend.h"
#include "host/pdq/synthetic_images.h"
#include "kernels/rt/device.h"
#if HM_KERNELS_PDQ
#include "kernels/pdq/gpu_jpeg.h"
#include "kernels/pdq/gpu_pdq.h"
#include "kernels/rt/cuda_rt.h"
#endif

using namespace hashmatch;
using namespace hashmatch::pdq;
using json = nlohmann::json;

namespace {

struct Opts {
  std::string mode = "all";
  std::vector<std::pair<int, int>> sizes = {{640, 480}, {1920, 1080}, {3840, 2160}};
  std::vector<int> batches = {1, 4, 16, 64, 256, 1024, 4096};
  std::vector<std::string> sources = {"device", "host"};
  int repeats = 5;
  int jpeg_count = 512;
  std::pair<int, int> jpeg_size = {1920, 1080};
  int diff_count = 200;
  std::size_t arena_mb = 4096;
  std::string pdqhash_script;
  std::string json_path;
  uint32_t seed = 1;
  bool dihedral = false;
  double max_seconds_per_point = 3.0;
};

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// Median seconds of `fn` over repeats, after one warm-up call; fewer repeats when slow.
double time_median(int repeats, double max_seconds, const std::function<void()>& fn) {
  fn();
  std::vector<double> t;
  const double start = now();
  for (int r = 0; r < repeats; ++r) {
    const double t0 = now();
    fn();
    t.push_back(now() - t0);
    if (now() - start > max_seconds && t.size() >= 2) break;
  }
  return median(t);
}

std::vector<std::string> split(const std::string& s, char c) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string x; std::getline(ss, x, c);) if (!x.empty()) out.push_back(x);
  return out;
}
std::pair<int, int> parse_size(const std::string& s) {
  const auto p = s.find('x');
  if (p == std::string::npos) throw InvalidArgument("size WxH expected: " + s);
  return {std::stoi(s.substr(0, p)), std::stoi(s.substr(p + 1))};
}
std::string size_name(std::pair<int, int> s) { return std::to_string(s.first) + "x" + std::to_string(s.second); }

// ---- JPEG encoding with libjpeg (for generated test files) ---------------------------------------
std::vector<uint8_t> encode_jpeg(const Image& img, int quality, int h_samp, int v_samp) {
  return hashmatch::encode_jpeg(img, JpegEncodeOptions{.quality = quality, .luma_h_samp = h_samp, .luma_v_samp = v_samp});
}

std::vector<Image> make_frames(std::pair<int, int> s, int n, uint32_t seed) {
  std::vector<Image> v;
  for (int i = 0; i < n; ++i) {
    v.push_back(synthetic_image(s.first, s.second, 3, i % 2 ? Pattern::kBlobs : Pattern::kNoisyGradient, seed + i));
  }
  return v;
}

void print_row(const std::string& what, const std::string& size, int batch, double per_s, const std::string& unit) {
  std::printf("%-34s %-10s batch %5d  %12.1f %s\n", what.c_str(), size.c_str(), batch, per_s, unit.c_str());
  std::fflush(stdout);
}

// ---- modes ----------------------------------------------------------------------------------------
void mode_cpu(const Opts& o, json& out) {
  BatchOptions bo;
  CpuBatchHasher cpu(bo);
  json rows = json::array();
  for (auto s : o.sizes) {
    const int n = std::max(4, default_jobs() * 4);
    const auto frames = make_frames(s, std::min(n, 16), o.seed);
    std::vector<const Image*> batch;
    for (int i = 0; i < n; ++i) batch.push_back(&frames[i % frames.size()]);
    const double t = time_median(o.repeats, o.max_seconds_per_point, [&] { cpu.hash_images(batch, o.dihedral); });
    const double fps = n / t;
    print_row("cpu (" + std::to_string(default_jobs()) + " threads), host memory", size_name(s), n, fps, "frames/s");
    rows.push_back({{"size", size_name(s)}, {"batch", n}, {"threads", default_jobs()}, {"frames_per_s", fps}});
  }
  out["cpu"] = rows;
}

#if HM_KERNELS_PDQ
void mode_frames(const Opts& o, json& out) {
  BatchOptions bo;
  bo.limits.arena_floats = o.arena_mb * (std::size_t(1) << 20) / sizeof(float);
  bo.limits.staging_bytes = std::size_t(1) << 30;
  GpuBatchHasher gpu(bo);
  out["device"] = gpu.description();
  json rows = json::array();
  for (auto s : o.sizes) {
    const int pool = 32;  // distinct frames, repeated to fill large batches
    const auto frames = make_frames(s, pool, o.seed);
    std::vector<cuda::DeviceBuffer<uint8_t>> dev;
    std::vector<FrameView> dev_views, host_views;
    for (const Image& f : frames) {
      dev.emplace_back(f.pixels.size());
      HM_CUDA_TRY(cudaMemcpy(dev.back().data(), f.pixels.data(), f.pixels.size(), cudaMemcpyHostToDevice));
      FrameView v;
      v.format = PixelFormat::kRgb24;
      v.width = f.width;
      v.height = f.height;
      v.pitches[0] = f.width * 3;
      v.planes[0] = dev.back().data();
      dev_views.push_back(v);
      v.planes[0] = f.pixels.data();
      host_views.push_back(v);
    }
    for (const std::string& src : o.sources) {
      for (int b : o.batches) {
        std::vector<FrameView> batch;
        for (int i = 0; i < b; ++i) batch.push_back((src == "device" ? dev_views : host_views)[i % pool]);
        const double t = time_median(o.repeats, o.max_seconds_per_point, [&] {
          if (src == "device") gpu.hash_device_frames(batch, o.dihedral);
          else gpu.hash_frames(batch, o.dihedral);
        });
        const double fps = b / t;
        print_row("gpu, frames in " + src + " memory", size_name(s), b, fps, "frames/s");
        rows.push_back({{"size", size_name(s)}, {"source", src}, {"batch", b}, {"frames_per_s", fps},
                        {"seconds_per_call", t}});
      }
    }
  }
  out["gpu_frames"] = rows;
  const auto st = gpu.stats();
  out["gpu_stats"] = {{"calls", st.calls}, {"chunks", st.chunks}, {"buffer_grows", st.buffer_grows}};
}

void mode_jpeg(const Opts& o, json& out) {
  const auto frames = make_frames(o.jpeg_size, 16, o.seed + 100);
  std::vector<std::vector<uint8_t>> files;
  for (int i = 0; i < o.jpeg_count; ++i) files.push_back(encode_jpeg(frames[i % frames.size()], 90, 2, 2));
  std::vector<std::span<const uint8_t>> spans(files.begin(), files.end());
  json j;
  j["files"] = o.jpeg_count;
  j["size"] = size_name(o.jpeg_size);
  // CPU: libjpeg-turbo + PDQ on all cores.
  {
    const double t = time_median(o.repeats, o.max_seconds_per_point * 3, [&] {
      std::vector<int> dummy(files.size());
      ordered_parallel_map<int>(files.size(), default_jobs(), [&](std::size_t i) {
        PdqHasher h;
        return h.hash(decode_image(files[i], DecodeLimits{})).quality;
      }, [&](std::size_t i, int& q) { dummy[i] = q; });
    });
    j["cpu_images_per_s"] = files.size() / t;
    print_row("jpeg -> pdq, cpu (libjpeg-turbo)", size_name(o.jpeg_size), o.jpeg_count, files.size() / t, "images/s");
  }
  try {
    GpuJpegHasher jh(BatchOptions{});
    j["nvjpeg_backend"] = jh.backend_name();
    std::vector<JpegHashResult> last;
    const double t = time_median(o.repeats, o.max_seconds_per_point * 3, [&] {
      last = jh.hash(spans, o.dihedral, DecodeLimits{});
    });
    int on_gpu = 0;
    for (const auto& r : last) on_gpu += r.gpu_decoded;
    j["gpu_images_per_s"] = files.size() / t;
    j["gpu_decoded"] = on_gpu;
    print_row("jpeg -> pdq, nvjpeg (" + jh.backend_name() + ") + gpu", size_name(o.jpeg_size), o.jpeg_count,
              files.size() / t, "images/s");
  } catch (const std::exception& e) {
    j["gpu_skipped"] = e.what();
    std::printf("jpeg -> pdq, nvjpeg: skipped: %s\n", e.what());
  }
  out["jpeg"] = j;
}

void mode_jpeg_diff(const Opts& o, json& out) {
  json j;
  GpuJpegHasher jh(BatchOptions{});
  j["nvjpeg_backend"] = jh.backend_name();
  std::mt19937 rng(o.seed);
  std::map<int, int> hist;  // Hamming distance -> count
  std::map<std::string, std::map<int, int>> hist_by_kind;
  double sum_abs = 0;
  uint64_t samples = 0, differing = 0;
  int max_abs = 0, errors = 0;
  PdqHasher ref;
  const char* kinds[] = {"444", "422", "420", "grey"};
  for (int i = 0; i < o.diff_count; ++i) {
    const int w = 16 + rng() % 1500, h = 16 + rng() % 1100;
    const int kind = i % 4;
    const int quality = 50 + rng() % 46;
    const Image img = synthetic_image(w, h, kind == 3 ? 1 : 3, Pattern(rng() % int(Pattern::kCount)), o.seed + i);
    const auto file = encode_jpeg(img, quality, kind == 0 ? 1 : 2, kind == 2 ? 2 : 1);
    Image a, b;
    try {
      a = decode_image(file, DecodeLimits{});
      b = jh.decode_nvjpeg(file);
    } catch (const std::exception& e) {
      ++errors;
      continue;
    }
    if (a.pixels.size() != b.pixels.size()) {
      ++errors;
      continue;
    }
    for (std::size_t k = 0; k < a.pixels.size(); ++k) {
      const int d = std::abs(int(a.pixels[k]) - int(b.pixels[k]));
      sum_abs += d;
      differing += d != 0;
      max_abs = std::max(max_abs, d);
    }
    samples += a.pixels.size();
    const int dist = hamming_distance(ref.hash(a).hash, ref.hash(b).hash);
    ++hist[dist];
    ++hist_by_kind[kinds[kind]][dist];
  }
  j["images"] = o.diff_count;
  j["errors"] = errors;
  j["pixel_mean_abs_diff"] = samples ? sum_abs / samples : 0;
  j["pixel_share_differing"] = samples ? double(differing) / samples : 0;
  j["pixel_max_abs_diff"] = max_abs;
  json hj = json::object();
  for (auto [d, c] : hist) hj[std::to_string(d)] = c;
  j["pdq_distance_histogram"] = hj;
  json hk = json::object();
  for (auto& [k, m] : hist_by_kind) {
    json x = json::object();
    for (auto [d, c] : m) x[std::to_string(d)] = c;
    hk[k] = x;
  }
  j["pdq_distance_histogram_by_subsampling"] = hk;
  std::printf("jpeg-diff (nvjpeg %s vs libjpeg-turbo): %d images, mean |dpixel| %.4f, %.2f%% samples differ, max %d\n",
              jh.backend_name().c_str(), o.diff_count, j["pixel_mean_abs_diff"].get<double>(),
              100 * j["pixel_share_differing"].get<double>(), max_abs);
  std::printf("  PDQ Hamming distance histogram:");
  for (auto [d, c] : hist) std::printf(" %d:%d", d, c);
  std::printf("\n");
  out["jpeg_diff"] = j;
}
#endif

void run_pdqhash(const Opts& o, json& out) {
  std::string sizes;
  for (auto s : o.sizes) {
    if (!sizes.empty()) sizes += ',';
    sizes += size_name(s);
  }
  const std::string cmd = "python3 " + o.pdqhash_script + " --sizes " + sizes + " --seconds 2";
  FILE* p = popen(cmd.c_str(), "r");
  std::string text;
  if (p) {
    char buf[4096];
    std::size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) text.append(buf, n);
    pclose(p);
  }
  try {
    out["pdqhash"] = json::parse(text);
    for (const auto& r : out["pdqhash"].value("results", json::array())) {
      print_row("pdqhash (reference), 1 thread", r["size"], 1, r["frames_per_s_1thread"], "frames/s");
      std::string label = "pdqhash, ";
      label += std::to_string(r["procs"].get<int>());
      label += " processes";
      print_row(label, r["size"], 1,
                r["frames_per_s_all_cores"], "frames/s");
    }
  } catch (const std::exception&) {
    out["pdqhash"] = {{"error", "no JSON from " + cmd}, {"output", text}};
    std::printf("pdqhash: failed (%s)\n", text.c_str());
  }
}

}  // namespace

int main(int argc, char** argv) {
  Opts o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto val = [&]() -> std::string {
      if (i + 1 >= argc) throw InvalidArgument(a + " needs a value");
      return argv[++i];
    };
    if (a == "--mode") o.mode = val();
    else if (a == "--sizes") { o.sizes.clear(); for (auto& s : split(val(), ',')) o.sizes.push_back(parse_size(s)); }
    else if (a == "--batches") { o.batches.clear(); for (auto& s : split(val(), ',')) o.batches.push_back(std::stoi(s)); }
    else if (a == "--source") o.sources = split(val(), ',');
    else if (a == "--repeats") o.repeats = std::stoi(val());
    else if (a == "--jpeg-count") o.jpeg_count = std::stoi(val());
    else if (a == "--jpeg-size") o.jpeg_size = parse_size(val());
    else if (a == "--diff-count") o.diff_count = std::stoi(val());
    else if (a == "--arena-mb") o.arena_mb = std::stoul(val());
    else if (a == "--pdqhash") o.pdqhash_script = val();
    else if (a == "--json") o.json_path = val();
    else if (a == "--seed") o.seed = std::stoul(val());
    else if (a == "--dihedral") o.dihedral = true;
    else if (a == "--max-seconds") o.max_seconds_per_point = std::stod(val());
    else { std::fprintf(stderr, "unknown option %s (see the header of bench_pdq_gpu.cc)\n", a.c_str()); return 2; }
  }
  json out;
  std::string why;
  const auto gpus = list_gpus(&why);
  out["gpu"] = gpus.empty() ? "none (" + why + ")" : gpus[0].name;
  out["threads"] = default_jobs();
  out["seed"] = o.seed;
  out["dihedral"] = o.dihedral;
  std::printf("bench_pdq_gpu: gpu %s, %d CPU threads, seed %u, dihedral %s\n", out["gpu"].get<std::string>().c_str(),
              default_jobs(), o.seed, o.dihedral ? "yes" : "no");
  auto want = [&](const char* m) { return o.mode == "all" || o.mode == m; };
  auto guarded = [&](const char* name, const std::function<void()>& fn) {
    try {
      fn();
    } catch (const std::exception& e) {
      out[std::string(name) + "_skipped"] = e.what();
      std::printf("%s: skipped: %s\n", name, e.what());
    }
  };
#if HM_KERNELS_PDQ
  if (want("frames")) guarded("frames", [&] { mode_frames(o, out); });
#else
  if (want("frames")) out["frames_skipped"] = "no CUDA backend in this build";
#endif
  if (want("cpu")) guarded("cpu", [&] { mode_cpu(o, out); });
#if HM_KERNELS_PDQ
  if (want("jpeg")) guarded("jpeg", [&] { mode_jpeg(o, out); });
  if (want("jpeg-diff")) guarded("jpeg-diff", [&] { mode_jpeg_diff(o, out); });
#endif
  if (!o.pdqhash_script.empty()) guarded("pdqhash", [&] { run_pdqhash(o, out); });
  if (!o.json_path.empty()) std::ofstream(o.json_path) << out.dump(2) << '\n';
  return 0;
}
