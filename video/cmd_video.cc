// hashmatch video: listed videos (vPDQ frame hashes in the hash-list database) and video-level
// matching. Registered in host/cli/main.cc when the video and lists layers are built.
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <optional>

#include "host/cli/args.h"
#include "host/cli/commands.h"
#include "host/common/error.h"
#include "host/lists/commands.h"
#include "host/media/hash_media.h"
#include "host/media/media_file.h"
#include "video/cmd_video.h"
#include "video/vpdq_io.h"
#include "video/vpdq_store.h"

namespace hashmatch::cli {
namespace {

using video::VpdqFrame;

constexpr const char* kUsage =
    "usage: hashmatch video add --db PATH --list NAME [--id ID] [--category C] [--source S]\n"
    "                           [--tag T]... INPUT...\n"
    "       hashmatch video remove --db PATH --list NAME ID...\n"
    "       hashmatch video match --db PATH [--list NAME]... [--all] INPUT...\n"
    "       hashmatch video compare QUERY OTHER\n"
    "  INPUT: a video (hashed with vPDQ; its md5/sha1/sha256 are listed too) or a vPDQ file\n"
    "  (.txt, .vpdq or .csv in any case; lines 'frame,quality,pdq[,timestamp]' as vpdq-hash-video\n"
    "  writes them, each frame number once; '-' reads stdin).\n"
    "  add: the id defaults to the video's sha256, or a vPDQ file's name without extension.\n"
    "  match / compare: one JSON line per input; vPDQ's rule: frames of quality < F dropped\n"
    "  on both sides (after keeping one frame per distinct hash), q% = share of the query's\n"
    "  frames with a frame of the other within distance D (inclusive), c% the other way; a match\n"
    "  iff q% >= Pq and c% >= Pc. A damaged or truncated video: its error, and `match` still\n"
    "  matches the frames hashed before the problem (exit code 1); `add` and `compare` refuse it.\n"
    "match options:\n"
    "  --quality F            default 50\n"
    "  --distance D           default 31 (a match is distance <= D)\n"
    "  --strict               distance < D, as the reference C++ brute matcher\n"
    "  --query-percent Pq     default 80\n"
    "  --compared-percent Pc  default 0\n"
    "  --no-dedupe            count repeated identical frames (the C++ matcher does)\n"
    "  --all                  also list stored videos that share frames but do not match\n"
    "  --backend B            frame matcher: auto (default), cpu, cuda\n"
    "video options (hashing): --vpdq-seconds-per-hash S, --vpdq-every-frame, --vpdq-size N,\n"
    "  --vpdq-keyframes-only, --vpdq-rotate, --video-decoder D, --video-pdq P, --video-threads N,\n"
    "  --video-time-budget S, --video-max-seconds S (as for `hashmatch hash`)\n";

void print_line(const nlohmann::ordered_json& j) {
  std::cout << j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << '\n';
}

struct Loaded {
  std::vector<VpdqFrame> frames;
  std::optional<ExactDigests> digests;
  std::string kind;  // "video" or "vpdq"
  std::string error, error_reason;
};

// By extension, in any case (".txt", ".TXT"); "-" is stdin.
bool looks_like_vpdq(const std::string& path) {
  if (path == "-") return true;
  std::string ext = std::filesystem::path(path).extension().string();
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext == ".txt" || ext == ".vpdq" || ext == ".csv";
}

// A vPDQ file or a video (hashed).
Loaded load_input(const std::string& path, const HashOptions& hopts) {
  Loaded l;
  if (looks_like_vpdq(path)) {
    l.kind = "vpdq";
    try {
      l.frames = video::read_vpdq_file(path);  // "-": standard input
      if (l.frames.empty()) {
        l.error = "no frame hashes in " + path;
        l.error_reason = "empty";
      }
    } catch (const IoError& e) {  // missing, a directory, unreadable
      l.error = e.what();
      l.error_reason = "io";
    } catch (const std::exception& e) {
      l.error = e.what();
      l.error_reason = "invalid_vpdq";
    }
    return l;
  }
  l.kind = "video";
  pdq::PdqHasher hasher;
  MediaHashResult r = hash_media_file(path, hopts, hasher);
  if (r.have_digests) l.digests = r.digests;
  if (!r.ok()) {
    l.error = r.error;
    l.error_reason = r.error_reason;
  } else if (!r.extra.contains("vpdq")) {
    l.error = "not a video (" + std::string(media_format_name(r.format)) + ")";
    l.error_reason = "not_video";
  }
  // A damaged or truncated video keeps the frames hashed before the problem (hash_media_file):
  // `video match` still matches them, as `hashmatch match` does; `add` and `compare` refuse it.
  if (r.extra.contains("vpdq")) {
    for (const auto& f : r.extra["vpdq"]) {
      l.frames.push_back({f.at("frame").get<int64_t>(), f.at("quality").get<int>(),
                          Hash256::from_hex(f.at("pdq").get<std::string>()),
                          f.at("timestamp").get<double>()});
    }
  }
  return l;
}

video::VideoMatchOptions match_options(const Args& a) {
  video::VideoMatchOptions o;
  o.quality_threshold = static_cast<int>(a.get_int("quality", o.quality_threshold, 0, 101));
  o.distance_threshold = static_cast<int>(a.get_int("distance", o.distance_threshold, 0, 256));
  auto pct = [&](const char* name, double fallback) {
    const auto v = a.get(name);
    if (!v) return fallback;
    char* end = nullptr;
    const double x = std::strtod(v->c_str(), &end);
    if (end == v->c_str() || *end || !(x >= 0 && x <= 100)) {
      throw InvalidArgument(std::string("--") + name + " must be a percentage 0..100, got '" + *v + "'");
    }
    return x;
  };
  o.query_match_percent = pct("query-percent", o.query_match_percent);
  o.compared_match_percent = pct("compared-percent", o.compared_match_percent);
  o.strict_less = a.flag("strict");
  o.unique_frames = !a.flag("no-dedupe");
  return o;
}

nlohmann::ordered_json result_json(const video::VideoMatchResult& r) {
  nlohmann::ordered_json j;
  j["match"] = r.match;
  j["query_match_percent"] = r.query_match_percent;
  j["compared_match_percent"] = r.compared_match_percent;
  j["query_frames"] = r.query_frames;
  j["compared_frames"] = r.compared_frames;
  j["query_matched"] = r.query_matched;
  j["compared_matched"] = r.compared_matched;
  return j;
}

Args parse(const Argv& argv, std::set<std::string> values, std::set<std::string> flags) {
  add_video_option_names(&values, &flags);
  flags.insert("help");
  return Args(argv, values, flags);
}

HashOptions hash_options(const Args& a) {
  HashOptions h;
  h.limits = decode_limits_from_env();
  parse_video_options(a, &h.video);
  return h;
}

int run_add(const Argv& argv) {
  Args a = parse(argv, {"db", "list", "id", "category", "source", "tag"}, {});
  const auto db = a.get("db");
  const auto list = a.get("list");
  if (!db || !list) throw InvalidArgument("video add needs --db and --list");
  if (a.positional().empty()) throw InvalidArgument("video add needs at least one input");
  if (a.get("id") && a.positional().size() != 1) {
    throw InvalidArgument("--id names one video: give exactly one input with it");
  }
  Labels labels;
  labels.category = a.get_or("category", "");
  labels.source = a.get_or("source", "");
  labels.tags = a.get_all("tag");
  const HashOptions hopts = hash_options(a);
  ListStore store(*db);
  video::VpdqStore vs(store);
  int failed = 0;
  for (const std::string& in : a.positional()) {
    nlohmann::ordered_json j{{"path", in}, {"list", *list}};
    Loaded l = load_input(in, hopts);
    if (!l.error.empty()) {
      ++failed;
      j["error"] = l.error;
      j["error_reason"] = l.error_reason;
      print_line(j);
      continue;
    }
    std::string id = a.get_or("id", "");
    if (id.empty()) id = l.digests ? l.digests->sha256 : std::filesystem::path(in).stem().string();
    try {
      vs.add_video(*list, id, l.frames, labels, l.digests ? &*l.digests : nullptr);
      j["id"] = id;
      j["kind"] = l.kind;
      j["frames"] = l.frames.size();
    } catch (const InvalidArgument& e) {  // a bad list name, category or id, repeated frames
      ++failed;
      j["error"] = e.what();
      j["error_reason"] = "invalid_argument";
    }
    print_line(j);
  }
  return failed ? 1 : 0;
}

int run_remove(const Argv& argv) {
  Args a = parse(argv, {"db", "list"}, {});
  const auto db = a.get("db");
  const auto list = a.get("list");
  if (!db || !list) throw InvalidArgument("video remove needs --db and --list");
  ListStore store(*db, /*create=*/false);
  video::VpdqStore vs(store);
  int missing = 0;
  for (const std::string& id : a.positional()) {
    const int64_t n = vs.remove_video(*list, id);
    missing += n == 0;
    print_line({{"list", *list}, {"id", id}, {"removed", n}});
  }
  return missing ? 1 : 0;
}

int run_match(const Argv& argv) {
  Args a = parse(argv, {"db", "list", "quality", "distance", "query-percent", "compared-percent",
                        "backend"},
                 {"strict", "no-dedupe", "all"});
  const auto db = a.get("db");
  if (!db) throw InvalidArgument("video match needs --db");
  if (a.positional().empty()) throw InvalidArgument("video match needs at least one input");
  const HashOptions hopts = hash_options(a);
  ListStore store(*db, /*create=*/false);
  video::VpdqStore vs(store);
  MatcherOptions mo;
  mo.backend = parse_backend(a.get_or("backend", "auto"));
  const video::VideoIndex index(vs, a.get_all("list"), match_options(a), mo);
  int failed = 0;
  for (const std::string& in : a.positional()) {
    nlohmann::ordered_json j{{"path", in}};
    const Loaded l = load_input(in, hopts);
    if (!l.error.empty()) {
      ++failed;
      j["error"] = l.error;
      j["error_reason"] = l.error_reason;
      if (l.frames.empty()) {
        print_line(j);
        continue;
      }
    }
    j["frames"] = l.frames.size();
    j["video_matches"] = video_matches_json(index.match(l.frames, a.flag("all")));
    print_line(j);
  }
  return failed ? 1 : 0;
}

int run_compare(const Argv& argv) {
  Args a = parse(argv, {"quality", "distance", "query-percent", "compared-percent"},
                 {"strict", "no-dedupe"});
  if (a.positional().size() != 2) throw InvalidArgument("video compare takes QUERY and OTHER");
  const HashOptions hopts = hash_options(a);
  const Loaded q = load_input(a.positional()[0], hopts);
  const Loaded c = load_input(a.positional()[1], hopts);
  for (const Loaded* l : {&q, &c}) {
    if (!l->error.empty()) {
      print_line({{"query", a.positional()[0]}, {"compared", a.positional()[1]},
                  {"error", l->error}, {"error_reason", l->error_reason}});
      return 1;
    }
  }
  nlohmann::ordered_json j{{"query", a.positional()[0]}, {"compared", a.positional()[1]}};
  j.update(result_json(video::match_videos(q.frames, c.frames, match_options(a))));
  print_line(j);
  return 0;
}

}  // namespace

nlohmann::ordered_json video_matches_json(const std::vector<video::VideoListMatch>& ms) {
  nlohmann::ordered_json arr = nlohmann::ordered_json::array();
  for (const auto& m : ms) {
    nlohmann::ordered_json j;
    j["list"] = m.list;
    j["id"] = m.id;
    j.update(result_json(m.result));
    j["category"] = m.labels.category;
    j["source"] = m.labels.source;
    j["tags"] = m.labels.tags;
    j["added"] = format_utc(m.added_at);
    arr.push_back(std::move(j));
  }
  return arr;
}

int cmd_video(const Argv& argv) {
  if (argv.empty() || argv[0] == "--help" || argv[0] == "-h" || argv[0] == "help") {
    std::printf("%s", kUsage);
    return argv.empty() ? 2 : 0;
  }
  const std::string sub = argv[0];
  const Argv rest(argv.begin() + 1, argv.end());
  if (std::find(rest.begin(), rest.end(), "--help") != rest.end()) {
    std::printf("%s", kUsage);
    return 0;
  }
  if (sub == "add") return run_add(rest);
  if (sub == "remove") return run_remove(rest);
  if (sub == "match") return run_match(rest);
  if (sub == "compare") return run_compare(rest);
  throw InvalidArgument("unknown video subcommand '" + sub + "' (add, remove, match, compare)");
}

}  // namespace hashmatch::cli

namespace hashmatch::cli {

void register_video_list_matcher() {
  set_video_matcher_factory([](const std::string& db, const std::vector<std::string>& lists,
                                std::optional<int> threshold) -> VideoFileMatcher {
    auto store = std::make_shared<ListStore>(db, /*create=*/false);
    video::VpdqStore vs(*store);
    video::VideoMatchOptions vo;
    if (threshold) vo.distance_threshold = *threshold;
    auto index = std::make_shared<const video::VideoIndex>(vs, lists, vo);
    if (index->videos() == 0) return nullptr;  // no listed video: nothing to add
    return [index](const MediaHashResult& r) -> nlohmann::ordered_json {
      std::vector<VpdqFrame> frames;
      for (const auto& f : r.extra.at("vpdq")) {
        frames.push_back({f.at("frame").get<int64_t>(), f.at("quality").get<int>(),
                          Hash256::from_hex(f.at("pdq").get<std::string>()),
                          f.at("timestamp").get<double>()});
      }
      return video_matches_json(index->match(frames));
    };
  });
}

}  // namespace hashmatch::cli
