#include <cstdio>
#include <iostream>
#include <string>

#include "host/cli/args.h"
#include "host/cli/commands.h"
#include "host/common/error.h"
#include "host/common/parallel.h"
#include "host/media/hash_media.h"
#include "host/media/media_file.h"

namespace hashmatch::cli {
namespace {

constexpr const char* kUsage =
    "usage: hashmatch hash [options] PATH...\n"
    "  Hashes files and directories (recursively): one JSON line per file with path, size,\n"
    "  md5, sha1, sha256, pdq, pdq_quality (or error). Exit code 1 when any file failed.\n"
    "options:\n"
    "  --format json|pdq     output: JSON lines (default) or 'hash,quality,path' as the\n"
    "                        reference pdq-photo-hasher prints\n"
    "  --dihedral            add pdq_dihedral: the 8 hashes original, rot90, rot180, rot270,\n"
    "                        flipx, flipy, flipplus1, flipminus1\n"
    "  --pdq-prescale N      0 (default): full resolution as HMA/pdqhash/vPDQ; 512: the\n"
    "                        reference command line's 512x512 nearest-neighbour pre-resize\n"
    "  --backend cpu|auto    hashing backend (default auto)\n"
    "  --jobs N              worker threads (default: all cores, or HASHMATCH_THREADS)\n"
    "  --max-file-bytes N    media larger than this get exact hashes only (default 256 MiB,\n"
    "                        HASHMATCH_MAX_FILE_BYTES)\n"
    "  --max-pixels N        images with more pixels are refused from their header\n"
    "                        (default 100000000, HASHMATCH_MAX_PIXELS)\n";

}  // namespace

int cmd_hash(const Argv& argv) {
  Args args(argv, {"format", "pdq-prescale", "jobs", "max-file-bytes", "max-pixels", "backend"},
            {"dihedral", "help"});
  if (args.flag("help")) {
    std::printf("%s", kUsage);
    return 0;
  }
  const std::string format = args.get_or("format", "json");
  if (format != "json" && format != "pdq") {
    throw InvalidArgument("--format must be json or pdq, got '" + format + "'");
  }
  const std::string backend = args.get_or("backend", "auto");
  if (backend != "cpu" && backend != "auto") {
    throw InvalidArgument("--backend must be cpu or auto in this build, got '" + backend + "'");
  }
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
  const int jobs = static_cast<int>(args.get_int("jobs", default_jobs(), 1, 1024));
  if (args.positional().empty()) {
    std::fprintf(stderr, "%s", kUsage);
    return 2;
  }

  std::vector<std::pair<std::string, std::string>> walk_errors;
  const std::vector<std::string> files = expand_paths(args.positional(), &walk_errors);
  int failed = 0;
  for (const auto& [path, msg] : walk_errors) {
    ++failed;
    if (format == "json") {
      nlohmann::json j{{"path", path}, {"error", msg}, {"error_reason", "io"}};
      std::cout << j.dump() << '\n';
    } else {
      std::cerr << path << ": " << msg << '\n';
    }
  }

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
  auto emit = [&](std::size_t, MediaHashResult& r) {
    if (!r.ok()) ++failed;
    if (format == "json") {
      std::cout << to_json(r, opts.dihedral).dump(-1, ' ', false,
                                                   nlohmann::json::error_handler_t::replace)
                << '\n';
    } else if (r.ok() && r.pdq) {
      std::cout << r.pdq->hashes[0].to_hex() << ',' << r.pdq->quality << ',' << r.path << '\n';
    } else if (!r.ok()) {
      std::cerr << r.path << ": " << r.error << '\n';
    }
  };
  ordered_parallel_map<MediaHashResult>(files.size(), jobs, work, emit);
  std::cout.flush();
  tl_hasher = nullptr;
  return failed ? 1 : 0;
}

}  // namespace hashmatch::cli
