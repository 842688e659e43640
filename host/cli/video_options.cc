// The video options shared by the commands that hash media (hash, match, video, scan, serve):
// --vpdq-*, --video-* and their HASHMATCH_VIDEO_* environment variables.
#include <algorithm>
#include <cstdlib>
#include <set>
#include <string>

#include "host/cli/args.h"
#include "host/cli/commands.h"
#include "host/common/error.h"
#include "host/common/parallel.h"
#include "host/media/hash_media.h"

namespace hashmatch::cli {

static double double_from_env(const char* name, double fallback) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  char* end = nullptr;
  const double x = std::strtod(v, &end);
  if (end == v || *end || !(x >= 0) || x > 1e9) {
    throw InvalidArgument(std::string(name) + " must be a number of seconds in 0..1e9, got '" + v +
                          "'");
  }
  return x;
}

static double get_seconds(const Args& args, const std::string& name, double fallback) {
  const auto v = args.get(name);
  if (!v) return fallback;
  char* end = nullptr;
  const double x = std::strtod(v->c_str(), &end);
  if (end == v->c_str() || *end || !(x >= 0) || x > 1e9) {
    throw InvalidArgument("--" + name + " must be a number of seconds in 0..1e9, got '" + *v + "'");
  }
  return x;
}

void parse_video_options(const Args& args, VideoOptions* v) {
  v->time_budget_seconds = double_from_env("HASHMATCH_VIDEO_TIME_BUDGET", v->time_budget_seconds);
  v->max_duration_seconds = double_from_env("HASHMATCH_VIDEO_MAX_SECONDS", v->max_duration_seconds);
  if (const char* d = std::getenv("HASHMATCH_VIDEO_DECODER"); d && *d) v->decoder = d;
  if (const char* d = std::getenv("HASHMATCH_VIDEO_PDQ"); d && *d) v->pdq = d;
  v->seconds_per_hash = get_seconds(args, "vpdq-seconds-per-hash", v->seconds_per_hash);
  if (args.flag("vpdq-every-frame")) {
    if (args.get("vpdq-seconds-per-hash")) {
      throw InvalidArgument("--vpdq-every-frame and --vpdq-seconds-per-hash exclude each other");
    }
    v->seconds_per_hash = 0;
  }
  v->size = static_cast<int>(args.get_int("vpdq-size", 0, 0, 16384));
  if (v->size != 0 && v->size < 5) throw InvalidArgument("--vpdq-size must be 0 or at least 5");
  v->keyframes_only = args.flag("vpdq-keyframes-only");
  if (v->keyframes_only && (args.flag("vpdq-every-frame") || args.get("vpdq-seconds-per-hash"))) {
    // Keyframes-only hashes every key frame and nothing else: a sampling interval has no say.
    throw InvalidArgument(
        std::string("--vpdq-keyframes-only and ") +
        (args.flag("vpdq-every-frame") ? "--vpdq-every-frame" : "--vpdq-seconds-per-hash") +
        " exclude each other");
  }
  v->apply_rotation = args.flag("vpdq-rotate");
  v->decoder = args.get_or("video-decoder", v->decoder);
  if (v->decoder != "auto" && v->decoder != "cpu" && v->decoder != "cuda") {
    throw InvalidArgument("--video-decoder must be auto, cpu or cuda, got '" + v->decoder + "'");
  }
  v->pdq = args.get_or("video-pdq", v->pdq);
  if (v->pdq != "auto" && v->pdq != "cpu" && v->pdq != "cuda") {
    throw InvalidArgument("--video-pdq must be auto, cpu or cuda, got '" + v->pdq + "'");
  }
  v->threads = static_cast<int>(args.get_int("video-threads", 0, 0, 256));
  v->time_budget_seconds = get_seconds(args, "video-time-budget", v->time_budget_seconds);
  v->max_duration_seconds = get_seconds(args, "video-max-seconds", v->max_duration_seconds);
}

void add_video_option_names(std::set<std::string>* values, std::set<std::string>* flags) {
  values->insert({"vpdq-seconds-per-hash", "vpdq-size", "video-decoder", "video-pdq", "video-threads",
                  "video-time-budget", "video-max-seconds"});
  flags->insert({"vpdq-every-frame", "vpdq-keyframes-only", "vpdq-rotate"});
}

void share_video_threads(VideoOptions* v, std::size_t files, int jobs) {
  if (v->threads == 0 && files > 1 && jobs > 1) {
    const int in_flight = static_cast<int>(std::min<std::size_t>(files, std::size_t(jobs)));
    v->threads = std::max(1, default_jobs() / in_flight);
  }
}

}  // namespace hashmatch::cli
