// hashmatch match: match PDQ hashes or files against the hash lists of a database.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>

#include "host/cli/args.h"
#include "host/cli/commands.h"
#include "host/common/error.h"
#include "host/common/parallel.h"
#include "host/lists/commands.h"
#include "host/lists/frame_matches.h"
#include "host/lists/import_util.h"
#include "host/lists/list_matcher.h"
#include "host/media/hash_media.h"
#include "host/media/media_file.h"

namespace hashmatch::cli {
namespace {

constexpr const char* kUsage =
    "usage: hashmatch match --db PATH [--list NAME]... [--threshold T] [--dihedral]\n"
    "                       (--pdq HEX... | --pdq-file F | FILES...)\n"
    "  Matches queries against the lists (default: every list in the database) and prints one\n"
    "  JSON line per query with its matches: list, id, algo, hash, distance, variant (PDQ),\n"
    "  category, source, tags, added. Exit code 1 when any input failed.\n"
    "queries:\n"
    "  --pdq HEX           a PDQ hash (repeatable; further hashes may follow as arguments); with\n"
    "                      --dihedral, 8 comma-separated hashes are the query's dihedral variants\n"
    "                      (original, rot90, rot180, rot270, flipx, flipy, flipplus1, flipminus1)\n"
    "  --pdq-file F        one query per line ('-': standard input): 1 or 8 hex hashes separated\n"
    "                      by commas or blanks, or a JSON line of `hashmatch hash` (pdq,\n"
    "                      pdq_dihedral; a video's line: its md5/sha1/sha256, its frames and\n"
    "                      video_matches, as for the video itself)\n"
    "  FILES...            files and directories: hashed (md5, sha1, sha256, PDQ of images, vPDQ\n"
    "                      of videos) and matched by PDQ and by exact digest; a video's frames\n"
    "                      (quality >= 50) against listed PDQ hashes (frames_matched, frames,\n"
    "                      query_match_percent per entry) and against listed videos\n"
    "                      (video_matches)\n"
    "options:\n"
    "  --threshold T       PDQ threshold (0..256, inclusive) for every list instead of each "
    "list's,\n"
    "                      and the frames' distance threshold of video_matches (default 31)\n"
    "  --dihedral          also match the 8 dihedral variants (rotations and flips) of each "
    "query;\n"
    "                      a match reports the variant that matched\n"
    "  --backend B         PDQ matcher: auto (default), cpu or cuda\n"
    "  --jobs N            hashing threads for FILES (default: all cores, or HASHMATCH_THREADS)\n"
    "  --vpdq-*, --video-* how videos among FILES are hashed, as for `hashmatch hash` (see\n"
    "                      `hashmatch hash --help`; their HASHMATCH_VIDEO_* variables too)\n";

constexpr std::size_t kBatch = 4096;  // --pdq-file queries matched per call

nlohmann::ordered_json match_json(const ListMatch& m) {
  nlohmann::ordered_json j;
  j["list"] = m.list;
  j["id"] = m.id;
  j["algo"] = std::string(algo_name(m.algo));
  j["hash"] = m.hash;
  j["distance"] = m.distance;
  if (m.algo == HashAlgo::kPdq) {
    j["threshold"] = m.threshold;
    j["variant"] = std::string(dihedral_name(m.variant));
  }
  j["category"] = m.labels.category;
  j["source"] = m.labels.source;
  j["tags"] = m.labels.tags;
  j["added"] = format_utc(m.added_at);
  return j;
}

nlohmann::ordered_json matches_json(const std::vector<ListMatch>& ms) {
  nlohmann::ordered_json arr = nlohmann::ordered_json::array();
  for (const ListMatch& m : ms) arr.push_back(match_json(m));
  return arr;
}

// A video's frames against the listed PDQ hashes (host/lists/frame_matches.h, quality >= 50:
// vPDQ's filter): one match per list entry with frames_matched, frames, query_match_percent.
std::vector<nlohmann::ordered_json> frame_matches(const ListSnapshot& snap,
                                                  std::span<const VideoFrameHash> vpdq,
                                                  const QueryOptions& qopts) {
  const VideoFrameMatches found = match_video_frames(snap, vpdq, 50, qopts);
  std::vector<nlohmann::ordered_json> out;
  for (const FrameEntryMatch& a : found.entries) {
    nlohmann::ordered_json j = match_json(a.best);
    j.erase("variant");
    j["frames_matched"] = a.frames_matched;
    j["frames"] = found.queries;
    j["query_match_percent"] = 100.0 * double(a.frames_matched) / double(found.queries);
    out.push_back(std::move(j));
  }
  return out;
}

void print_line(const nlohmann::ordered_json& j) {
  std::cout << j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << '\n';
}

// A query text: 1 hex hash, or 8 (the dihedral variants) separated by commas or blanks.
PdqQuery parse_query_text(std::string_view text) {
  std::vector<std::string_view> parts;
  std::size_t b = 0;
  while (b < text.size()) {
    std::size_t e = text.find_first_of(", \t", b);
    if (e == std::string_view::npos) e = text.size();
    if (e > b) parts.push_back(text.substr(b, e - b));
    b = e + 1;
  }
  if (parts.size() != 1 && parts.size() != static_cast<std::size_t>(kNumDihedral)) {
    throw InvalidArgument("expected 1 PDQ hash or 8 (the dihedral variants), got " +
                          std::to_string(parts.size()) + " values");
  }
  PdqQuery q;
  q.count = static_cast<int>(parts.size());
  for (std::size_t i = 0; i < parts.size(); ++i) q.variants[i] = Hash256::from_hex(parts[i]);
  return q;
}

// The query of a --pdq-file JSON line (`hashmatch hash` output) that is not a video's, as
// JsonLineReader (below) read it. Fills `extra` with fields to carry over (path).
PdqQuery query_from_json(const nlohmann::ordered_json& j, nlohmann::ordered_json& extra) {
  if (!j.is_object()) throw InvalidArgument("not a valid JSON object");
  if (j.contains("path") && j["path"].is_string()) extra["path"] = j["path"];
  if (j.contains("pdq_dihedral") && j["pdq_dihedral"].is_array() &&
      j["pdq_dihedral"].size() == static_cast<std::size_t>(kNumDihedral)) {
    std::array<Hash256, kNumDihedral> v;
    for (int i = 0; i < kNumDihedral; ++i) {
      if (!j["pdq_dihedral"][i].is_string())
        throw InvalidArgument("pdq_dihedral holds a non-string");
      v[i] = Hash256::from_hex(j["pdq_dihedral"][i].get<std::string>());
    }
    return PdqQuery::dihedral(v);
  }
  if (j.contains("pdq") && j["pdq"].is_string()) {
    return PdqQuery::original(Hash256::from_hex(j["pdq"].get<std::string>()));
  }
  if (j.contains("error")) throw InvalidArgument("the line is an error record: no pdq");
  throw InvalidArgument("JSON line without a \"pdq\" field");
}

struct Ctx {
  std::shared_ptr<const ListSnapshot> snap;
  QueryOptions qopts;
  int failed = 0;
  std::string db;
};

// The matches of one hashed file, as `hashmatch match` reports them (FILES, and a video's line of
// --pdq-file): its PDQ (an image) and md5/sha1/sha256 against the lists, then a video's frames
// against listed PDQ hashes, in j["matches"]; a video against the listed videos in
// j["video_matches"] (when there are any).
void add_file_matches(const Ctx& c, const MediaHashResult& r, bool dihedral,
                      const VideoFileMatcher& video_matcher, nlohmann::ordered_json& j) {
  std::vector<ListMatch> all;
  if (r.pdq) {
    const PdqQuery q =
        dihedral ? PdqQuery::dihedral(r.pdq->hashes) : PdqQuery::original(r.pdq->hashes[0]);
    all = std::move(c.snap->match_pdq(std::span<const PdqQuery>(&q, 1), c.qopts)[0]);
  }
  if (r.have_digests) {
    for (ListMatch& m : c.snap->match_digests(r.digests, c.qopts)) all.push_back(std::move(m));
  }
  j["matches"] = matches_json(all);
  if (r.vpdq) {
    for (auto& m : frame_matches(*c.snap, *r.vpdq, c.qopts)) j["matches"].push_back(std::move(m));
    if (video_matcher) j["video_matches"] = video_matcher(r);
  }
}

VideoMatcherFactory& video_matcher_factory() {
  static VideoMatcherFactory f;
  return f;
}

void emit_pdq_batch(Ctx& c, std::vector<PdqQuery>& queries,
                    std::vector<nlohmann::ordered_json>& heads) {
  if (heads.empty()) return;
  // Queries that failed to parse carry an "error" and no PdqQuery slot.
  std::vector<std::vector<ListMatch>> results = c.snap->match_pdq(queries, c.qopts);
  std::size_t qi = 0;
  for (nlohmann::ordered_json& h : heads) {
    if (h.contains("error")) {
      print_line(h);
      continue;
    }
    h["matches"] = matches_json(results[qi++]);
    print_line(h);
  }
  queries.clear();
  heads.clear();
}

nlohmann::ordered_json query_head(const PdqQuery& q) {
  nlohmann::ordered_json h;
  h["pdq"] = q.variants[0].to_hex();
  if (q.count == kNumDihedral) {
    nlohmann::ordered_json arr = nlohmann::ordered_json::array();
    for (const Hash256& v : q.variants) arr.push_back(v.to_hex());
    h["pdq_dihedral"] = std::move(arr);
  }
  return h;
}

int run_pdq_args(Ctx& c, const std::vector<std::string>& texts) {
  std::vector<PdqQuery> queries;
  std::vector<nlohmann::ordered_json> heads;
  for (const std::string& t : texts) {
    try {
      const PdqQuery q = parse_query_text(t);
      nlohmann::ordered_json h = {{"query", t}};
      h.update(query_head(q));
      queries.push_back(q);
      heads.push_back(std::move(h));
    } catch (const InvalidArgument& e) {
      ++c.failed;
      heads.push_back({{"query", t}, {"error", e.what()}});
    }
  }
  emit_pdq_batch(c, queries, heads);
  return c.failed ? 1 : 0;
}

// One frame of a video line's `vpdq` array. Throws InvalidArgument naming it (vpdq[i]).
VideoFrameHash frame_from_json(const nlohmann::ordered_json& f, std::size_t i) {
  const std::string where = "vpdq[" + std::to_string(i) + "]";
  if (!f.is_object() || !f.contains("pdq") || !f["pdq"].is_string() || !f.contains("quality") ||
      !f["quality"].is_number_integer() ||
      (f.contains("frame") && !f["frame"].is_number_integer()) ||
      (f.contains("timestamp") && !f["timestamp"].is_number())) {
    throw InvalidArgument(where + ": not a frame {frame, quality, pdq, timestamp}");
  }
  VideoFrameHash v;
  v.frame_number = f.value("frame", int64_t{0});
  const auto& qv = f["quality"];
  if (!is_pdq_quality(qv)) throw InvalidArgument(where + ": quality outside 0..100");
  v.quality = static_cast<int>(qv.get<int64_t>());
  std::string why;
  if (!Hash256::try_from_hex(f["pdq"].get<std::string>(), &v.hash, &why)) {
    throw InvalidArgument(where + ": " + why);
  }
  v.timestamp = f.value("timestamp", 0.0);
  return v;
}

// Reads a --pdq-file JSON line as a stream (nlohmann's SAX interface): the value is built as
// usual, except the top-level `vpdq` array, whose frames become VideoFrameHash records one by
// one as they are read (the array in the value stays empty). A video's line of half a million
// frames (~60 MB of text) peaked near 500 MB parsed into one JSON value; read this way it takes
// 56 bytes a frame beside the line.
class JsonLineReader {
 public:
  using json = nlohmann::ordered_json;
  // False when the line is not valid JSON.
  bool read(std::string_view line) { return json::sax_parse(line, this); }
  json& value() { return root_; }
  // Whether the value is an object with a `vpdq` array (a video's line).
  bool video() const { return root_.is_object() && vpdq_done_; }
  std::vector<VideoFrameHash>& frames() { return frames_; }
  // The first malformed frame's error (the line is refused with it), or empty.
  const std::string& frame_error() const { return frame_error_; }

  // The SAX interface.
  bool null() { return value(nullptr); }
  bool boolean(bool v) { return value(v); }
  bool number_integer(json::number_integer_t v) { return value(v); }
  bool number_unsigned(json::number_unsigned_t v) { return value(v); }
  bool number_float(json::number_float_t v, const json::string_t&) { return value(v); }
  bool string(json::string_t& v) { return value(std::move(v)); }
  bool binary(json::binary_t& v) { return value(json::binary(std::move(v))); }
  bool start_object(std::size_t) { return open(json::object()); }
  bool start_array(std::size_t) {
    const bool vpdq = stack_.size() == 1 && stack_[0]->is_object() && key_ == "vpdq";
    if (!open(json::array())) return false;
    if (vpdq) vpdq_ = stack_.back();
    return true;
  }
  bool key(json::string_t& k) {
    key_ = std::move(k);
    return true;
  }
  bool end_object() { return close(); }
  bool end_array() { return close(); }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) {
    return false;
  }

 private:
  bool value(json v) {
    if (stack_.empty()) {
      root_ = std::move(v);
      return true;
    }
    place(std::move(v));
    take_frame();
    return true;
  }
  bool open(json v) {
    stack_.push_back(stack_.empty() ? &(root_ = std::move(v)) : place(std::move(v)));
    return true;
  }
  bool close() {
    json* done = stack_.back();
    stack_.pop_back();
    if (done == vpdq_) {
      vpdq_ = nullptr;
      vpdq_done_ = true;
    }
    take_frame();
    return true;
  }
  json* place(json v) {
    json* top = stack_.back();
    if (stack_.size() == 1 && top->is_object() && key_ == "vpdq") {
      // A repeated key: the last value counts, as in a parsed value.
      vpdq_done_ = false;
      frames_.clear();
      frame_error_.clear();
      index_ = 0;
    }
    if (top->is_array()) {
      top->push_back(std::move(v));
      return &top->back();
    }
    json& slot = (*top)[key_];
    slot = std::move(v);
    return &slot;
  }
  // A complete element of the vpdq array becomes a frame and leaves the array.
  void take_frame() {
    if (vpdq_ == nullptr || stack_.size() != 2 || stack_.back() != vpdq_ || vpdq_->empty()) return;
    try {
      frames_.push_back(frame_from_json(vpdq_->back(), index_));
    } catch (const InvalidArgument& e) {
      if (frame_error_.empty()) frame_error_ = e.what();
    }
    ++index_;
    vpdq_->erase(vpdq_->size() - 1);
  }

  json root_;
  std::vector<json*> stack_;  // the open containers (their parents do not grow meanwhile)
  std::string key_;
  json* vpdq_ = nullptr;  // the top-level vpdq array while it is read
  bool vpdq_done_ = false;
  std::size_t index_ = 0;
  std::vector<VideoFrameHash> frames_;
  std::string frame_error_;
};

// A video's `hashmatch hash` / `scan` line (its `vpdq` array, read into `frames`) from
// --pdq-file, matched as `hashmatch match VIDEO` matches the video: its md5/sha1/sha256 and its
// frames against the lists, and video-level against the listed videos. Throws InvalidArgument for
// a malformed line.
nlohmann::ordered_json match_video_line(Ctx& c, const nlohmann::ordered_json& j,
                                        std::vector<VideoFrameHash> frames,
                                        std::optional<VideoFileMatcher>& video_matcher) {
  MediaHashResult r;
  auto digest = [&](const char* k, HashAlgo algo, std::string* out) {
    if (!j.contains(k)) return;
    if (!j[k].is_string()) throw InvalidArgument(std::string(k) + " is not a string");
    *out = HashValue::parse(algo, j[k].get<std::string>()).to_hex();
    r.have_digests = true;
  };
  digest("md5", HashAlgo::kMd5, &r.digests.md5);
  digest("sha1", HashAlgo::kSha1, &r.digests.sha1);
  digest("sha256", HashAlgo::kSha256, &r.digests.sha256);
  if (r.have_digests &&
      (r.digests.md5.empty() || r.digests.sha1.empty() || r.digests.sha256.empty())) {
    throw InvalidArgument("a video line gives md5, sha1 and sha256 together, or none");
  }
  r.vpdq = std::move(frames);
  nlohmann::ordered_json h;
  h["frames"] = r.vpdq->size();
  if (!video_matcher) {
    video_matcher = video_matcher_factory()
                        ? video_matcher_factory()(c.db, c.qopts.lists, c.qopts.threshold)
                        : VideoFileMatcher();
  }
  add_file_matches(c, r, /*dihedral=*/false, *video_matcher, h);
  return h;
}

int run_pdq_file(Ctx& c, const std::string& path) {
  std::ifstream f;
  std::istream* in = &std::cin;
  if (path != "-") {
    f.open(path, std::ios::binary);
    if (!f) throw IoError("cannot open " + path);
    in = &f;
  }
  // Lines up to 64 MiB: a video's line holds ~120 bytes per frame (half a million frames).
  import_detail::LineReader reader(*in, std::size_t(64) << 20);
  std::optional<VideoFileMatcher> video_matcher;  // made at the first video line
  std::vector<PdqQuery> queries;
  std::vector<nlohmann::ordered_json> heads;
  std::string raw;
  for (;;) {
    bool more;
    try {
      more = reader.next(raw);
    } catch (const InvalidArgument& e) {  // a line over the limit: an error, then the next
      ++c.failed;
      heads.push_back({{"line", reader.line()}, {"error", e.what()}});
      reader.skip_rest_of_line();
      continue;
    }
    if (!more) break;
    const std::string_view line = import_detail::trim(raw);
    if (line.empty() || line[0] == '#') continue;
    // A JSON line, read once: a video's is matched on its own, after the image queries before it
    // (lines stay in input order); any other gives a query (or its error) as a text line does.
    std::optional<JsonLineReader> json_line;
    if (line[0] == '{') {
      json_line.emplace();
      if (!json_line->read(line)) json_line->value() = nullptr;  // "not a valid JSON object"
      if (json_line->video()) {
        const nlohmann::ordered_json& j = json_line->value();
        emit_pdq_batch(c, queries, heads);
        nlohmann::ordered_json h = {{"line", reader.line()}};
        if (j.contains("path") && j["path"].is_string()) h["path"] = j["path"];
        try {
          if (!json_line->frame_error().empty()) throw InvalidArgument(json_line->frame_error());
          h.update(match_video_line(c, j, std::move(json_line->frames()), video_matcher));
          // A video that failed part way: its frames are matched, its error stays (as for a file).
          if (j.contains("error")) {
            ++c.failed;
            h["error"] = j["error"];
            if (j.contains("error_reason")) h["error_reason"] = j["error_reason"];
          }
        } catch (const std::exception& e) {
          ++c.failed;
          h["error"] = e.what();
        }
        print_line(h);
        continue;
      }
    }
    try {
      nlohmann::ordered_json extra = nlohmann::ordered_json::object();
      const PdqQuery q =
          json_line ? query_from_json(json_line->value(), extra) : parse_query_text(line);
      nlohmann::ordered_json h = {{"line", reader.line()}};
      h.update(extra);
      h.update(query_head(q));
      queries.push_back(q);
      heads.push_back(std::move(h));
    } catch (const std::exception& e) {
      ++c.failed;
      heads.push_back({{"line", reader.line()}, {"error", e.what()}});
    }
    if (heads.size() >= kBatch) emit_pdq_batch(c, queries, heads);
  }
  emit_pdq_batch(c, queries, heads);
  if (in->bad()) throw IoError("read error in " + path);
  return c.failed ? 1 : 0;
}

int run_files(Ctx& c, const std::vector<std::string>& inputs, int jobs, const VideoOptions& video) {
  std::vector<std::pair<std::string, std::string>> walk_errors;
  const std::vector<std::string> files = expand_paths(inputs, &walk_errors);
  for (const auto& [path, msg] : walk_errors) {
    ++c.failed;
    print_line({{"path", path}, {"error", msg}, {"error_reason", "io"}});
  }
  HashOptions hopts;
  hopts.limits = decode_limits_from_env();
  hopts.dihedral = c.qopts.dihedral;
  hopts.video = video;
  share_video_threads(&hopts.video, files.size(), jobs);
  thread_local pdq::PdqHasher* tl_hasher = nullptr;
  std::vector<std::unique_ptr<pdq::PdqHasher>> hashers;
  std::mutex hashers_mu;
  // Videos: vPDQ frames matched video-level against the listed videos (when video/ is built).
  VideoFileMatcher video_matcher;
  if (video_matcher_factory()) {
    video_matcher = video_matcher_factory()(c.db, c.qopts.lists, c.qopts.threshold);
  }
  // Hashing and matching run on the workers (the snapshot is immutable); lines come out in order.
  // A line is made on the worker, as text (a video's frames are written straight from the typed
  // frames, never held as JSON values).
  struct Line {
    std::string text;
    bool failed = false;
  };
  auto work = [&](std::size_t i) -> Line {
    if (!tl_hasher) {
      std::lock_guard<std::mutex> lk(hashers_mu);
      hashers.push_back(std::make_unique<pdq::PdqHasher>());
      tl_hasher = hashers.back().get();
    }
    const MediaHashResult r = hash_media_file(files[i], hopts, *tl_hasher);
    nlohmann::ordered_json j = to_json(r, hopts.dihedral, /*with_frames=*/false);
    try {
      add_file_matches(c, r, hopts.dihedral, video_matcher, j);
    } catch (const std::exception& e) {
      j["match_error"] = e.what();
    }
    Line line;
    line.failed = j.contains("error") || j.contains("match_error");
    write_json_line(j, r.vpdq ? &*r.vpdq : nullptr, &line.text);
    line.text += '\n';
    return line;
  };
  auto emit = [&](std::size_t, Line& line) {
    if (line.failed) ++c.failed;
    std::cout << line.text;
  };
  ordered_parallel_map<Line>(files.size(), jobs, work, emit);
  tl_hasher = nullptr;
  return c.failed ? 1 : 0;
}

}  // namespace

void set_video_matcher_factory(VideoMatcherFactory factory) {
  video_matcher_factory() = std::move(factory);
}

int cmd_match(const Argv& argv) {
  std::set<std::string> values = {"db", "list", "threshold", "pdq", "pdq-file", "backend", "jobs"};
  std::set<std::string> flags = {"dihedral", "help"};
  add_video_option_names(&values, &flags);
  Args a(argv, values, flags);
  if (a.flag("help")) {
    std::printf("%s", kUsage);
    return 0;
  }
  const auto db = a.get("db");
  if (!db || db->empty()) throw InvalidArgument("--db is required");
  const std::vector<std::string> pdq = a.get_all("pdq");
  const auto pdq_file = a.get("pdq-file");
  const bool have_files = !a.positional().empty();
  if (!pdq.empty() + pdq_file.has_value() + (have_files && pdq.empty()) != 1) {
    std::fprintf(stderr, "%s", kUsage);
    throw InvalidArgument("give exactly one of --pdq HEX..., --pdq-file F or FILES");
  }
  ListMatcherOptions mopts;
  mopts.matcher.backend = parse_backend(a.get_or("backend", "auto"));
  mopts.lists = a.get_all("list");
  const int jobs = static_cast<int>(a.get_int("jobs", default_jobs(), 1, 1024));
  mopts.matcher.threads = jobs;

  ListMatcher matcher(*db, mopts);
  Ctx c;
  c.snap = matcher.snapshot();
  c.db = *db;
  c.qopts.lists = mopts.lists;
  if (a.get("threshold")) c.qopts.threshold = static_cast<int>(a.get_int("threshold", 0, 0, 256));
  c.qopts.dihedral = a.flag("dihedral");

  int rc;
  if (!pdq.empty()) {
    std::vector<std::string> texts = pdq;
    for (const std::string& p : a.positional()) texts.push_back(p);
    rc = run_pdq_args(c, texts);
  } else if (pdq_file) {
    rc = run_pdq_file(c, *pdq_file);
  } else {
    VideoOptions video;
    parse_video_options(a, &video);
    rc = run_files(c, a.positional(), jobs, video);
  }
  std::cout.flush();
  return rc;
}

}  // namespace hashmatch::cli
