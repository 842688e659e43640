// hashmatch video: listed videos (vPDQ frame hashes in the hash-list database) and video-level
// matching. Registered in host/cli/main.cc when the video and lists layers are built.
#include "video/cmd_video.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include "host/cli/args.h"
#include "host/cli/commands.h"
#include "host/common/error.h"
#include "host/common/json_bytes.h"
#include "host/lists/commands.h"
#include "host/media/hash_media.h"
#include "host/media/media_file.h"
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
    "       hashmatch video export --db PATH --list NAME (--dir DIR [--id ID]... | --id ID)\n"
    "  INPUT: a video (hashed with vPDQ; its md5/sha1/sha256 are listed too) or a vPDQ file\n"
    "  (.txt, .vpdq or .csv in any case; lines 'frame,quality,pdq[,timestamp]' as vpdq-hash-video\n"
    "  writes them, each frame number once; '-' reads stdin).\n"
    "  add: the id defaults to the video's sha256, or a vPDQ file's name without extension\n"
    "  (two inputs of one run with the same name: the second is refused, add it with --id).\n"
    "  remove: the listed videos with these ids and their md5/sha1/sha256 entries.\n"
    "  export: each listed video (or those named by --id) as a vPDQ file DIR/<id>.txt, or one\n"
    "  on standard output without --dir; its id and labels in '# hashmatch-video-...' comment\n"
    "  lines, which `add` takes (unless --id, --category, --source or --tag are given).\n"
    "  match / compare: one JSON line per input; vPDQ's rule: frames of quality < F dropped\n"
    "  on both sides, then one frame kept per distinct hash; q% = share of the query's\n"
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
    "  --dedupe-first         one frame per distinct hash before the quality filter, as\n"
    "                         python-threatexchange's brute matcher (its index filters first)\n"
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
  // From a vPDQ file `video export` wrote: the id and labels the video had in its list.
  std::optional<std::string> id;
  std::optional<Labels> labels;
};

// The comment lines `video export` writes before a video's frames (JSON values after the tag;
// vPDQ readers skip '#' lines) and `video add` reads back.
constexpr std::string_view kIdComment = "# hashmatch-video-id: ";
constexpr std::string_view kLabelsComment = "# hashmatch-video-labels: ";
constexpr std::string_view kDigestsComment = "# hashmatch-video-digests: ";

// A string of the comments (host/common/json_bytes.h: any bytes); InvalidArgument when malformed.
std::string comment_bytes(const nlohmann::json& j, const char* what) {
  std::optional<std::string> s = bytes_from_json(j);
  if (!s) throw InvalidArgument(std::string("bad ") + what + " in a hashmatch-video comment");
  return std::move(*s);
}

nlohmann::json labels_to_json(const Labels& l) {
  nlohmann::json tags = nlohmann::json::array();
  for (const std::string& t : l.tags) tags.push_back(bytes_to_json(t));
  return {
      {"category", bytes_to_json(l.category)}, {"source", bytes_to_json(l.source)}, {"tags", tags}};
}

// The export comments among the lines before the first frame line; InvalidArgument when one is
// malformed (a hand-edited file: better refused than added under another id).
void read_export_comments(std::string_view text, Loaded* l) {
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);
  while (!text.empty()) {
    const std::size_t e = text.find_first_of("\r\n");
    std::string_view line = text.substr(0, e);
    text.remove_prefix(e == std::string_view::npos ? text.size() : e + 1);
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t')) line.remove_suffix(1);
    if (line.empty()) continue;
    if (line.front() != '#') break;  // the first frame line: comments after it are the file's
    const bool is_id = line.starts_with(kIdComment);
    const bool is_labels = line.starts_with(kLabelsComment);
    const bool is_digests = line.starts_with(kDigestsComment);
    if (!is_id && !is_labels && !is_digests) continue;
    const std::string_view value = line.substr((is_id       ? kIdComment
                                                : is_labels ? kLabelsComment
                                                            : kDigestsComment)
                                                   .size());
    const auto j = nlohmann::json::parse(value, nullptr, /*allow_exceptions=*/false);
    if (is_id) {
      l->id = comment_bytes(j, "id");
      if (l->id->empty()) throw InvalidArgument("bad id in a hashmatch-video comment: empty");
    } else if (is_labels) {
      if (!j.is_object() || (j.contains("tags") && !j["tags"].is_array())) {
        throw InvalidArgument("bad hashmatch-video-labels comment (category, source, tags)");
      }
      Labels lb;
      if (j.contains("category")) lb.category = comment_bytes(j["category"], "category");
      if (j.contains("source")) lb.source = comment_bytes(j["source"], "source");
      if (j.contains("tags")) {
        for (const auto& t : j["tags"]) lb.tags.push_back(comment_bytes(t, "tag"));
      }
      l->labels = std::move(lb);
    } else {
      // The video's md5/sha1/sha256 entries in its list: listed again with it.
      if (!j.is_object()) throw InvalidArgument("bad hashmatch-video-digests comment");
      ExactDigests d;
      auto take = [&](const char* k, HashAlgo a, std::string* out) {
        if (!j.contains(k)) return;
        if (!j[k].is_string()) throw InvalidArgument("bad hashmatch-video-digests comment");
        *out = HashValue::parse(a, j[k].get<std::string>()).to_hex();
      };
      take("md5", HashAlgo::kMd5, &d.md5);
      take("sha1", HashAlgo::kSha1, &d.sha1);
      take("sha256", HashAlgo::kSha256, &d.sha256);
      l->digests = std::move(d);
    }
  }
}

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
      const std::string text = video::read_vpdq_text(path);  // "-": standard input
      l.frames = video::parse_vpdq(text, path == "-" ? "<stdin>" : path);
      read_export_comments(text, &l);
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
  } else if (!r.vpdq) {
    l.error = "not a video (" + std::string(media_format_name(r.format)) + ")";
    l.error_reason = "not_video";
  }
  // A damaged or truncated video keeps the frames hashed before the problem (hash_media_file):
  // `video match` still matches them, as `hashmatch match` does; `add` and `compare` refuse it.
  if (r.vpdq) l.frames = std::move(*r.vpdq);
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
  o.dedupe_first = a.flag("dedupe-first");
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
  if (a.get("id") && a.get("id")->empty()) throw InvalidArgument("--id must not be empty");
  Labels labels;
  labels.category = a.get_or("category", "");
  labels.source = a.get_or("source", "");
  labels.tags = a.get_all("tag");
  const bool labels_given = a.get("category") || a.get("source") || !labels.tags.empty();
  const HashOptions hopts = hash_options(a);
  ListStore store(*db);
  video::VpdqStore vs(store);
  int failed = 0;
  // The ids this run gave from file names, and to which input: two vPDQ files of one name in
  // different folders would otherwise replace each other (a sha256 id repeats only for the same
  // bytes, which replace nothing).
  std::map<std::string, std::string> named;
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
    // The id: --id; an exported file's own; a video's sha256; a vPDQ file's name.
    std::string id = a.get_or("id", "");
    if (id.empty() && !l.id && l.digests && l.kind == "video") id = l.digests->sha256;
    if (id.empty()) {
      id = l.id ? *l.id : std::filesystem::path(in).stem().string();
      const auto [it, fresh] = named.try_emplace(id, in);
      if (!fresh) {
        ++failed;
        j["error"] = "id '" + id + "' was given to '" + it->second +
                     "' in this run: add this input with its own --id";
        j["error_reason"] = "duplicate_id";
        print_line(j);
        continue;
      }
    }
    try {
      const Labels& lb = !labels_given && l.labels ? *l.labels : labels;
      vs.add_video(*list, id, l.frames, lb, l.digests ? &*l.digests : nullptr);
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
  if (a.positional().empty()) throw InvalidArgument("video remove needs at least one id");
  ListStore store(*db, /*create=*/false);
  (void)store.get_list(*list);  // a missing list is an error, not "nothing removed"
  video::VpdqStore vs(store);
  int missing = 0;
  for (const std::string& id : a.positional()) {
    int64_t entries = 0;
    const int64_t n = vs.remove_video(*list, id, &entries);
    nlohmann::ordered_json j{{"list", *list}, {"id", id}, {"removed", n}, {"entries", entries}};
    if (n == 0) {
      // Nothing is touched: an id without a listed video may be an image record's.
      ++missing;
      j["error"] = "no listed video with id '" + id + "' in list '" + *list + "'";
      j["error_reason"] = "not_found";
    }
    print_line(j);
  }
  return missing ? 1 : 0;
}

int run_match(const Argv& argv) {
  Args a = parse(
      argv, {"db", "list", "quality", "distance", "query-percent", "compared-percent", "backend"},
      {"strict", "no-dedupe", "dedupe-first", "all"});
  const auto db = a.get("db");
  if (!db) throw InvalidArgument("video match needs --db");
  if (a.positional().empty()) throw InvalidArgument("video match needs at least one input");
  const HashOptions hopts = hash_options(a);
  ListStore store(*db, /*create=*/false);
  // A list named that does not exist is an error (as for `hashmatch match`): a misspelt name
  // must not read as "this video is not known".
  for (const std::string& l : a.get_all("list")) (void)store.get_list(l);
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

// A file name for an id: letters, digits, '.', '-', '_' kept, other bytes as '_', at most 100
// bytes, never hidden or empty (the id itself is in the file's comment).
std::string file_stem(const std::string& id) {
  std::string s;
  for (const char c : id.substr(0, 100)) {
    const bool keep =
        std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_';
    s += keep && static_cast<unsigned char>(c) < 0x80 ? c : '_';
  }
  if (s.empty() || s.front() == '.') s = "video" + s;
  return s;
}

int run_export(const Argv& argv) {
  Args a = parse(argv, {"db", "list", "id", "dir"}, {});
  const auto db = a.get("db");
  const auto list = a.get("list");
  if (!db || !list) throw InvalidArgument("video export needs --db and --list");
  if (!a.positional().empty())
    throw InvalidArgument("video export takes no inputs (--id names videos)");
  const std::vector<std::string> ids = a.get_all("id");
  const auto dir = a.get("dir");
  if (!dir && ids.size() != 1) {
    throw InvalidArgument(
        "video export: --dir DIR for several videos, or one --id for standard output");
  }
  ListStore store(*db, /*create=*/false);
  (void)store.get_list(*list);
  video::VpdqStore vs(store);
  if (dir) std::filesystem::create_directories(*dir);
  std::set<std::string> wanted(ids.begin(), ids.end()), found;
  // The videos' digest entries (a video added from a file lists its md5/sha1/sha256 under its
  // id): exported with it, so that adding the file back lists them again.
  const std::vector<std::string> listed = vs.video_ids(*list);
  const std::set<std::string> video_ids(listed.begin(), listed.end());
  std::map<std::string, ExactDigests> digests;
  store.for_each_entry(*list, [&](const StoredEntry& e) {
    if (!video_ids.count(e.id) || (!wanted.empty() && !wanted.count(e.id))) return;
    ExactDigests& d = digests[e.id];
    if (e.hash.algo == HashAlgo::kMd5) d.md5 = e.hash.to_hex();
    if (e.hash.algo == HashAlgo::kSha1) d.sha1 = e.hash.to_hex();
    if (e.hash.algo == HashAlgo::kSha256) d.sha256 = e.hash.to_hex();
  });
  auto dump = [](const nlohmann::json& j) {
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  };
  int failed = 0;
  vs.for_each_video({*list}, [&](const video::StoredVideo& v) {
    if (!wanted.empty() && !wanted.count(v.id)) return;
    found.insert(v.id);
    std::ostringstream text;
    text << "# hashmatch video export: list " << dump(v.list) << ", " << v.frames.size()
         << " frames\n";
    text << kIdComment << dump(bytes_to_json(v.id)) << '\n';
    text << kLabelsComment << dump(labels_to_json(v.labels)) << '\n';
    if (const auto it = digests.find(v.id); it != digests.end()) {
      nlohmann::json dj = nlohmann::json::object();
      if (!it->second.md5.empty()) dj["md5"] = it->second.md5;
      if (!it->second.sha1.empty()) dj["sha1"] = it->second.sha1;
      if (!it->second.sha256.empty()) dj["sha256"] = it->second.sha256;
      text << kDigestsComment << dump(dj) << '\n';
    }
    video::write_vpdq(text, v.frames);
    if (!dir) {
      std::cout << text.str();
      return;
    }
    // Never over a file that is there (an earlier export, another id of the same file name):
    // the first free name of stem.txt, stem-2.txt ...
    const std::string stem = file_stem(v.id);
    std::filesystem::path path;
    bool created = false;
    for (int k = 1; k <= 100000; ++k) {
      path = std::filesystem::path(*dir) / (stem + (k > 1 ? "-" + std::to_string(k) : "") + ".txt");
      const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
      if (fd >= 0) {
        ::close(fd);
        created = true;
        break;
      }
      if (errno != EEXIST) break;
    }
    nlohmann::ordered_json j{
        {"list", v.list}, {"id", v.id}, {"path", path.string()}, {"frames", v.frames.size()}};
    std::ofstream out;
    if (created) out.open(path, std::ios::binary | std::ios::trunc);
    out << text.str();
    out.close();
    if (!out) {
      ++failed;
      j["error"] = "cannot write " + path.string();
      j["error_reason"] = "io";
    }
    print_line(j);
  });
  for (const std::string& id : ids) {
    if (found.count(id)) continue;
    ++failed;
    // On stdout only with --dir (there the lines are JSON); else the error goes to stderr.
    nlohmann::ordered_json j{
        {"list", *list},
        {"id", id},
        {"error", "no listed video with id '" + id + "' in list '" + *list + "'"},
        {"error_reason", "not_found"}};
    if (dir) {
      print_line(j);
    } else {
      std::cerr << j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << '\n';
    }
  }
  return failed ? 1 : 0;
}

int run_compare(const Argv& argv) {
  Args a = parse(argv, {"quality", "distance", "query-percent", "compared-percent"},
                 {"strict", "no-dedupe", "dedupe-first"});
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
  if (sub == "export") return run_export(rest);
  throw InvalidArgument("unknown video subcommand '" + sub +
                        "' (add, remove, match, compare, export)");
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
      if (!r.vpdq) return video_matches_json({});
      return video_matches_json(index->match(*r.vpdq));
    };
  });
}

}  // namespace hashmatch::cli
