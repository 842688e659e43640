#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "host/cli/args.h"
#include "host/cli/commands.h"
#include "host/common/error.h"
#include "host/common/parallel.h"
#include "host/media/hash_media.h"
#include "host/media/media_file.h"
#include "host/pdq/pdq_backend.h"
#if HM_KERNELS_PDQ
#include "kernels/pdq/gpu_pdq.h"
#endif

namespace hashmatch::cli {
namespace {

constexpr const char* kUsage =
    "usage: hashmatch hash [options] PATH...\n"
    "  Hashes files and directories (recursively): one JSON line per file with path, size,\n"
    "  md5, sha1, sha256, pdq, pdq_quality (or error). Exit code 1 when any file failed.\n"
    "options:\n"
    "  --format json|pdq|vpdq  output: JSON lines (default); 'hash,quality,path' as the\n"
    "                        reference pdq-photo-hasher prints; or for videos the reference\n"
    "                        vpdq-hash-video lines 'frame,quality,pdq,timestamp' (with several\n"
    "                        inputs each video's lines follow a '# PATH' line)\n"
    "  --dihedral            add pdq_dihedral: the 8 hashes original, rot90, rot180, rot270,\n"
    "                        flipx, flipy, flipplus1, flipminus1\n"
    "  --pdq-prescale N      0 (default): full resolution as HMA/pdqhash/vPDQ; 512: the\n"
    "                        reference command line's 512x512 nearest-neighbour pre-resize\n"
    "  --backend cpu|cuda|auto  PDQ backend (default auto: the GPU when one is usable, else\n"
    "                        the CPU; cuda without a GPU is an error). Hashes are identical.\n"
    "  --gpu-batch N         GPU backend: decoded images collected per batch (default 256;\n"
    "                        a batch is also flushed at 256 megapixels)\n"
    "  --jobs N              worker threads (default: all cores, or HASHMATCH_THREADS)\n"
    "  --max-file-bytes N    images larger than this get exact hashes only (default 256 MiB,\n"
    "                        HASHMATCH_MAX_FILE_BYTES); videos are streamed from their file\n"
    "                        whatever their size (limits: --video-max-seconds and\n"
    "                        --video-time-budget)\n"
    "  --max-pixels N        images and video frames with more pixels are refused from their\n"
    "                        header (default 100000000, HASHMATCH_MAX_PIXELS)\n"
    "video (vPDQ: JSON field 'vpdq' = [{frame, quality, pdq, timestamp}], 'video' = details):\n"
    "  --vpdq-seconds-per-hash S  hash frame n iff n % max(1, (int)(S * fps)) == 0 (default 1)\n"
    "  --vpdq-every-frame    hash every frame (the reference command line's default)\n"
    "  --vpdq-size N         scale frames to N x N (SWS_AREA) before PDQ (default: own size)\n"
    "  --vpdq-keyframes-only decode and hash key frames only (fast triage, not vPDQ-exact)\n"
    "  --vpdq-rotate         apply the container's rotation metadata (vPDQ ignores it)\n"
    "  --video-decoder D     auto (NVDEC when a GPU answers, else CPU; default), cpu, cuda\n"
    "                        (HASHMATCH_VIDEO_DECODER)\n"
    "  --video-pdq P         PDQ of NVDEC frames: auto (GPU PDQ without a copy back when every\n"
    "                        frame or keyframes-only; default), cpu (vPDQ-exact host path), cuda\n"
    "                        (HASHMATCH_VIDEO_PDQ)\n"
    "  --video-threads N     decoder/hashing threads per video (default 0: automatic)\n"
    "  --video-time-budget S give up a video after S seconds of wall time (default 600,\n"
    "                        HASHMATCH_VIDEO_TIME_BUDGET)\n"
    "  --video-max-seconds S refuse videos longer than S seconds (default 86400,\n"
    "                        HASHMATCH_VIDEO_MAX_SECONDS)\n";

}  // namespace


int cmd_hash(const Argv& argv) {
  std::set<std::string> values = {"format", "pdq-prescale", "jobs", "max-file-bytes",
                                  "max-pixels", "backend", "gpu-batch"};
  std::set<std::string> flags = {"dihedral", "help"};
  add_video_option_names(&values, &flags);
  Args args(argv, values, flags);
  if (args.flag("help")) {
    std::printf("%s", kUsage);
    return 0;
  }
  const std::string format = args.get_or("format", "json");
  if (format != "json" && format != "pdq" && format != "vpdq") {
    throw InvalidArgument("--format must be json, pdq or vpdq, got '" + format + "'");
  }
  const pdq::BackendKind backend = pdq::parse_backend(args.get_or("backend", "auto"));
  const int gpu_batch = static_cast<int>(args.get_int("gpu-batch", 256, 1, 65536));
  HashOptions opts;
  opts.limits = decode_limits_from_env();
  opts.limits.max_file_bytes = static_cast<uint64_t>(
      args.get_int("max-file-bytes", static_cast<long long>(opts.limits.max_file_bytes), 1, 1ll << 40));
  opts.limits.max_pixels = static_cast<uint64_t>(
      args.get_int("max-pixels", static_cast<long long>(opts.limits.max_pixels), 1, 1ll << 40));
  opts.pdq_prescale = static_cast<int>(args.get_int("pdq-prescale", 0, 0, 1 << 16));
  if (opts.pdq_prescale != 0 && opts.pdq_prescale < 64) {
    throw InvalidArgument("--pdq-prescale must be 0 or at least 64");
  }
  opts.dihedral = args.flag("dihedral");
  parse_video_options(args, &opts.video);
  const int jobs = static_cast<int>(args.get_int("jobs", default_jobs(), 1, 1024));
  if (args.positional().empty()) {
    std::fprintf(stderr, "%s", kUsage);
    return 2;
  }

  // The PDQ backend: the CPU path below hashes on the decode workers; a GPU hasher gets batches of
  // decoded images from them (same results, bit for bit).
  std::unique_ptr<pdq::BatchHasher> gpu;
  if (backend != pdq::BackendKind::kCpu) {
#if HM_KERNELS_PDQ
    pdq::register_gpu_backend();
#endif
    pdq::BatchOptions bo;
    bo.prescale = opts.pdq_prescale;
    auto chosen = pdq::make_batch_hasher(backend, bo);  // CudaError for cuda without a GPU
    if (chosen->backend() != "cpu") gpu = std::move(chosen);
  }
  if (!gpu && std::getenv("HASHMATCH_HASH_BATCHED")) {
    // Test hook: the batched pipeline with the CPU batch hasher, so the collector's ordering and
    // flushing are exercised on machines without a GPU.
    pdq::BatchOptions bo;
    bo.prescale = opts.pdq_prescale;
    bo.jobs = jobs;
    gpu = std::make_unique<pdq::CpuBatchHasher>(bo);
  }

  std::vector<std::pair<std::string, std::string>> walk_errors;
  const std::vector<std::string> files = expand_paths(args.positional(), &walk_errors);
  share_video_threads(&opts.video, files.size(), jobs);
  int failed = 0;
  for (const auto& [path, msg] : walk_errors) {
    ++failed;
    if (format == "json") {
      nlohmann::json j{{"path", path}, {"error", msg}, {"error_reason", "io"}};
      // A path of invalid UTF-8 (a dangling symlink's name) replaced, as in every other line.
      std::cout << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
    } else {
      std::cerr << path << ": " << msg << '\n';
    }
  }

  auto emit = [&](MediaHashResult& r) {
    if (!r.ok()) ++failed;
    if (format == "json") {
      std::string line;
      write_json_line(to_json(r, opts.dihedral, false), r.vpdq ? &*r.vpdq : nullptr, &line);
      line += '\n';
      std::cout << line;
    } else if (format == "vpdq") {
      // Videos only: the reference's per-frame lines (also for a video that failed part way:
      // the frames hashed before the problem, then the error on stderr).
      if (r.vpdq) {
        if (files.size() > 1) std::cout << "# " << r.path << '\n';
        for (const VideoFrameHash& f : *r.vpdq) {
          char ts[64];
          std::snprintf(ts, sizeof ts, "%.3f", f.timestamp);
          std::cout << f.frame_number << ',' << f.quality << ',' << f.hash.to_hex() << ',' << ts
                    << '\n';
        }
      } else if (r.ok()) {
        std::cerr << r.path << ": not a video (no vPDQ lines)\n";
      }
      if (!r.ok()) std::cerr << r.path << ": " << r.error << '\n';
    } else if (r.ok() && r.pdq) {
      std::cout << r.pdq->hashes[0].to_hex() << ',' << r.pdq->quality << ',' << r.path << '\n';
    } else if (!r.ok()) {
      std::cerr << r.path << ": " << r.error << '\n';
    } else if (r.vpdq) {
      // Said, as --format vpdq says it of an image: a line nobody sees is no answer.
      std::cerr << r.path << ": a video (no PDQ line; --format vpdq or json gives its frames)\n";
    }
  };

  if (!gpu) {
    // One hasher (scratch buffers) per worker thread.
    thread_local pdq::PdqHasher* tl_hasher = nullptr;
    std::vector<std::unique_ptr<pdq::PdqHasher>> hashers;
    std::mutex hashers_mu;
    auto work = [&](std::size_t i) -> MediaHashResult {
      if (!tl_hasher) {
        std::lock_guard<std::mutex> lk(hashers_mu);
        hashers.push_back(std::make_unique<pdq::PdqHasher>(opts.pdq_prescale));
        tl_hasher = hashers.back().get();
      }
      return hash_media_file(files[i], opts, *tl_hasher);
    };
    // Each line out as it is ready (a pipe or file reader sees the progress; a process killed
    // late keeps what it printed): one write per file, small beside hashing it.
    ordered_parallel_map<MediaHashResult>(files.size(), jobs, work, [&](std::size_t, MediaHashResult& r) {
      emit(r);
      std::cout.flush();
    });
    tl_hasher = nullptr;
  } else {
    // Decode workers -> in-order collector -> GPU batches. Memory stays bounded: the map keeps at
    // most jobs * 4 decoded results waiting, the collector at most gpu_batch images or 256 MP,
    // and 2 x gpu_batch results in all.
    struct Decoded {
      MediaHashResult r;
      std::optional<Image> img;
    };
    constexpr std::size_t kMaxBatchPixels = std::size_t(256) << 20;
    std::vector<Decoded> pending;
    std::size_t pending_images = 0, pending_pixels = 0;
    bool warned = false;
    auto flush = [&] {
      std::vector<const Image*> imgs;
      std::vector<std::size_t> owners;
      for (std::size_t k = 0; k < pending.size(); ++k) {
        if (pending[k].img) {
          imgs.push_back(&*pending[k].img);
          owners.push_back(k);
        }
      }
      if (!imgs.empty()) {
        std::vector<pdq::PdqDihedral> hashes;
        try {
          hashes = gpu->hash_images(imgs, opts.dihedral);
        } catch (const std::exception& e) {
          // A failed GPU batch (out of memory, device error) is hashed on the CPU instead.
          if (!warned) std::cerr << "hashmatch hash: GPU batch failed, using the CPU: " << e.what() << '\n';
          warned = true;
          pdq::BatchOptions bo;
          bo.prescale = opts.pdq_prescale;
          bo.jobs = jobs;
          hashes = pdq::CpuBatchHasher(bo).hash_images(imgs, opts.dihedral);
        }
        for (std::size_t k = 0; k < owners.size(); ++k) pending[owners[k]].r.pdq = hashes[k];
      }
      for (Decoded& d : pending) emit(d.r);
      std::cout.flush();  // the batch's lines out now (as above)
      pending.clear();
      pending_images = pending_pixels = 0;
    };
    auto work = [&](std::size_t i) -> Decoded {
      Decoded d;
      d.r = decode_media_file(files[i], opts, &d.img);
      return d;
    };
    ordered_parallel_map<Decoded>(files.size(), jobs, work, [&](std::size_t, Decoded& d) {
      if (d.img) {
        ++pending_images;
        pending_pixels += d.img->pixel_count();
      }
      pending.push_back(std::move(d));
      // A result without an image (a video, an error, a file that is no media) waits only for
      // the images before it: out at once when none is waiting, and never more than a batch's
      // worth of results held (a folder of videos printed nothing until the end before).
      if (pending_images == 0 || pending_images >= static_cast<std::size_t>(gpu_batch) ||
          pending_pixels >= kMaxBatchPixels || pending.size() >= 2 * static_cast<std::size_t>(gpu_batch)) {
        flush();
      }
    });
    flush();
  }
  std::cout.flush();
  return failed ? 1 : 0;
}

}  // namespace hashmatch::cli
