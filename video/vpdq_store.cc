#include "video/vpdq_store.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <tuple>
#include <unordered_map>

#include "host/common/error.h"
#include "host/common/sqlite_util.h"
#include "video/vpdq_io.h"

namespace hashmatch::video {
namespace {

using sql::Stmt;

int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Hash256 as 32 bytes, most significant first (the hex form's order).
void to_bytes(const Hash256& h, uint8_t* out) {
  for (int w = 0; w < 4; ++w) {
    const uint64_t v = h.w[3 - w];
    for (int b = 0; b < 8; ++b) out[w * 8 + b] = uint8_t(v >> (56 - 8 * b));
  }
}

Hash256 from_bytes(std::string_view b) {
  if (b.size() != 32) throw IoError("vpdq_frames: a hash of " + std::to_string(b.size()) + " bytes");
  Hash256 h;
  for (int w = 0; w < 4; ++w) {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | uint8_t(b[std::size_t(w * 8 + i)]);
    h.w[3 - w] = v;
  }
  return h;
}

// Seconds as the stored microseconds: NaN and negatives as 0, beyond kMaxVpdqTimestamp as that
// (parse_vpdq rejects both; frames built in code may carry anything, and llround of a value past
// 2^63 microseconds is undefined).
int64_t timestamp_us(double seconds) {
  const double t = seconds > 0 ? std::min(seconds, kMaxVpdqTimestamp) : 0.0;
  return std::llround(t * 1e6);
}

// The frames table has one row per frame number: a number given twice would lose a frame.
void check_frame_numbers(const std::string& id, std::span<const VpdqFrame> frames) {
  std::vector<int64_t> n;
  n.reserve(frames.size());
  for (const VpdqFrame& f : frames) n.push_back(f.frame_number);
  std::sort(n.begin(), n.end());
  if (const auto d = std::adjacent_find(n.begin(), n.end()); d != n.end()) {
    throw InvalidArgument("video '" + id + "': frame " + std::to_string(*d) + " appears twice");
  }
}

}  // namespace

VpdqStore::VpdqStore(ListStore& store) : store_(store) {}

void VpdqStore::add_video(const std::string& list, const std::string& id,
                          std::span<const VpdqFrame> frames, const Labels& labels,
                          const ExactDigests* digests) {
  if (id.empty()) throw InvalidArgument("a listed video needs an id");
  if (frames.empty()) throw InvalidArgument("video '" + id + "' has no frame hashes");
  check_frame_numbers(id, frames);
  std::vector<NewEntry> entries;
  if (digests) {
    auto add = [&](HashAlgo a, const std::string& hex) {
      if (!hex.empty()) entries.push_back(NewEntry{HashValue::parse(a, hex), id, labels});
    };
    add(HashAlgo::kMd5, digests->md5);
    add(HashAlgo::kSha1, digests->sha1);
    add(HashAlgo::kSha256, digests->sha256);
  }
  // One transaction, the list store's import session (the list is created when missing): the
  // id's entries are replaced by the new digests (import semantics), or removed when there are
  // none, so an old file's digests never outlive its video; then the video itself.
  auto session = store_.begin_import(list, "video " + id, "vpdq");
  if (entries.empty()) {
    session->remove_id(id);
  } else {
    session->count_record();
    session->add_record(entries, "video");
  }
  const int64_t list_id = store_.get_list(list).id;
  sqlite3* db = store_.handle();
  {
    Stmt(db, "DELETE FROM vpdq_videos WHERE list_id = ? AND video_id = ?").bind(1, list_id).bind(2, id).run();
    Stmt ins(db,
             "INSERT INTO vpdq_videos(list_id, video_id, frames, added_at, category, source, tags) "
             "VALUES(?, ?, ?, ?, ?, ?, ?)");
    ins.bind(1, list_id).bind(2, id).bind(3, int64_t(frames.size())).bind(4, now_seconds());
    ins.bind(5, clean_label(labels.category)).bind(6, clean_label(labels.source)).bind(7, join_tags(labels.tags)).run();
    const int64_t row = sqlite3_last_insert_rowid(db);
    Stmt fr(db, "INSERT INTO vpdq_frames(video_row, frame, quality, hash, timestamp_us) "
                "VALUES(?, ?, ?, ?, ?)");
    for (const VpdqFrame& f : frames) {
      uint8_t b[32];
      to_bytes(f.hash, b);
      fr.bind(1, row).bind(2, f.frame_number).bind(3, int64_t(f.quality)).bind_blob(4, b, 32);
      fr.bind(5, timestamp_us(f.timestamp)).run();
    }
  }
  session->commit();  // advances the list's generation and the store's version
}

int64_t VpdqStore::remove_video(const std::string& list, const std::string& id, int64_t* entries) {
  if (entries) *entries = 0;
  const auto l = store_.find_list(list);
  if (!l) return 0;
  // Only a listed video's id: remove_id would take an image record's entries of that id too.
  Stmt q(store_.handle(), "SELECT COUNT(*) FROM vpdq_videos WHERE list_id = ? AND video_id = ?");
  q.bind(1, l->id).bind(2, id);
  if (!q.step() || q.col_int(0) == 0) return 0;
  int64_t videos = 0;
  // The video and its digest entries, in one transaction.
  const int64_t removed = store_.remove_id(list, id, &videos);
  if (entries) *entries = removed - videos;
  return videos;
}

int64_t VpdqStore::count_videos(const std::string& list) {
  const auto l = store_.find_list(list);
  if (!l) return 0;
  Stmt q(store_.handle(), "SELECT COUNT(*) FROM vpdq_videos WHERE list_id = ?");
  q.bind(1, l->id);
  return q.step() ? q.col_int(0) : 0;
}

std::vector<std::string> VpdqStore::video_ids(const std::string& list) {
  std::vector<std::string> ids;
  const auto l = store_.find_list(list);
  if (!l) return ids;
  Stmt q(store_.handle(), "SELECT video_id FROM vpdq_videos WHERE list_id = ? ORDER BY video_id");
  q.bind(1, l->id);
  while (q.step()) ids.push_back(q.col_text(0));
  return ids;
}

void VpdqStore::for_each_video(const std::vector<std::string>& lists,
                               const std::function<void(const StoredVideo&)>& fn) {
  sqlite3* db = store_.handle();
  store_.read_snapshot([&] {
    Stmt vids(db,
              "SELECT v.row, l.name, v.video_id, v.added_at, v.category, v.source, v.tags "
              "FROM vpdq_videos v JOIN lists l ON l.id = v.list_id ORDER BY l.name, v.video_id");
    Stmt frs(db, "SELECT frame, quality, hash, timestamp_us FROM vpdq_frames WHERE video_row = ? "
                 "ORDER BY frame");
    while (vids.step()) {
      StoredVideo v;
      v.list = vids.col_text(1);
      if (!lists.empty() && std::find(lists.begin(), lists.end(), v.list) == lists.end()) continue;
      v.id = vids.col_text(2);
      v.added_at = vids.col_int(3);
      v.labels.category = vids.col_text(4);
      v.labels.source = vids.col_text(5);
      v.labels.tags = split_tags(vids.col_text(6));
      frs.bind(1, vids.col_int(0));
      while (frs.step()) {
        VpdqFrame f;
        f.frame_number = frs.col_int(0);
        f.quality = static_cast<int>(frs.col_int(1));
        f.hash = from_bytes(frs.col_blob(2));
        f.timestamp = double(frs.col_int(3)) / 1e6;
        v.frames.push_back(f);
      }
      frs.reset();
      fn(v);
    }
  });
}

VideoIndex::VideoIndex(VpdqStore& store, const std::vector<std::string>& lists,
                       const VideoMatchOptions& opts, const MatcherOptions& mopts)
    : opts_(opts) {
  std::vector<Hash256> hashes;
  store.for_each_video(lists, [&](const StoredVideo& v) {
    const std::vector<VpdqFrame> m = matchable_frames(v.frames, opts_);
    const auto idx = static_cast<uint32_t>(videos_.size());
    videos_.push_back(Meta{v.list, v.id, v.labels, v.added_at, owner_.size(), m.size()});
    // Filtered, then deduplicated: a hash takes part at a quality threshold T iff one of its
    // copies has quality >= T, so the index keeps each hash's best quality (a match with a higher
    // threshold than the index's then drops exactly the hashes it would have).
    std::unordered_map<Hash256, int> best;
    if (opts_.unique_frames && !opts_.dedupe_first) {
      for (const VpdqFrame& f : v.frames) {
        int& b = best.try_emplace(f.hash, f.quality).first->second;
        b = std::max(b, f.quality);
      }
    }
    for (const VpdqFrame& f : m) {
      hashes.push_back(f.hash);
      owner_.push_back(idx);
      quality_.push_back(best.empty() ? f.quality : best.at(f.hash));
    }
  });
  MatcherOptions mo = mopts;
  mo.expected_threshold = opts_.distance_threshold;
  matcher_ = make_pdq_matcher(std::move(hashes), mo);
}

std::size_t VideoIndex::videos(const std::vector<std::string>& lists) const {
  if (lists.empty()) return videos_.size();
  return static_cast<std::size_t>(std::count_if(videos_.begin(), videos_.end(), [&](const Meta& v) {
    return std::find(lists.begin(), lists.end(), v.list) != lists.end();
  }));
}

std::vector<VideoListMatch> VideoIndex::match(std::span<const VpdqFrame> query, bool all) const {
  return match(query, opts_, all);
}

std::vector<VideoListMatch> VideoIndex::match(std::span<const VpdqFrame> query,
                                              const VideoMatchOptions& opts, bool all) const {
  if (opts.unique_frames != opts_.unique_frames || opts.dedupe_first != opts_.dedupe_first) {
    throw InvalidArgument(
        "video index: built with unique_frames " + std::string(opts_.unique_frames ? "on" : "off") +
        ", dedupe_first " + (opts_.dedupe_first ? "on" : "off") + "; asked to match with " +
        (opts.unique_frames ? "on" : "off") + ", " + (opts.dedupe_first ? "on" : "off"));
  }
  if (opts.quality_threshold < opts_.quality_threshold) {
    throw InvalidArgument(
        "video index: holds the frames of quality >= " + std::to_string(opts_.quality_threshold) +
        ", cannot match with the quality threshold " + std::to_string(opts.quality_threshold));
  }
  const std::vector<Hash256> q = matchable_hashes(query, opts);
  std::vector<VideoListMatch> out;
  if (q.empty() || videos_.empty()) return out;
  const int limit = opts.strict_less ? opts.distance_threshold - 1 : opts.distance_threshold;
  if (limit < 0) return out;
  // A higher quality threshold than the index's: the indexed frames below it take no part.
  const bool filter = opts.quality_threshold > opts_.quality_threshold;
  // Per video: how many distinct query frames and distinct stored frames take part in a hit.
  // The hits are counted a chunk of queries at a time and then dropped, so that memory stays
  // O(stored frames) at any threshold: near D = 256 every query frame hits every stored frame
  // (100 query frames x 300,000 stored ones were 30 M hits, ~870 MB at once).
  const std::size_t stored = owner_.size();
  std::vector<uint32_t> query_matched(videos_.size(), 0);
  std::vector<uint32_t> last_query(videos_.size(), UINT32_MAX);
  std::vector<uint32_t> compared_matched(videos_.size(), 0);
  std::vector<uint8_t> stored_hit(stored, 0);
  constexpr std::size_t kMaxHits = std::size_t(1) << 22;  // per chunk, worst case (~48 MB)
  std::size_t chunk = std::max<std::size_t>(1, kMaxHits / std::max<std::size_t>(1, stored));
  std::vector<PdqHit> hits;
  for (std::size_t begin = 0; begin < q.size();) {
    const std::size_t n = std::min(chunk, q.size() - begin);
    hits.clear();
    matcher_->range_search(std::span<const Hash256>(q).subspan(begin, n), limit, hits);
    std::sort(hits.begin(), hits.end(), [](const PdqHit& a, const PdqHit& b) {
      return std::tie(a.query, a.index) < std::tie(b.query, b.index);
    });
    for (const PdqHit& h : hits) {
      if (filter && quality_[h.index] < opts.quality_threshold) continue;
      const uint32_t v = owner_[h.index];
      const uint32_t qi = static_cast<uint32_t>(begin) + h.query;
      if (last_query[v] != qi) {
        last_query[v] = qi;
        ++query_matched[v];
      }
      if (!stored_hit[h.index]) {
        stored_hit[h.index] = 1;
        ++compared_matched[v];
      }
    }
    begin += n;
    // Few hits (the usual thresholds): larger chunks, for the matchers' batched searches.
    if (hits.size() < kMaxHits / 4) chunk = std::min(q.size(), chunk * 2);
  }
  for (std::size_t v = 0; v < videos_.size(); ++v) {
    const std::size_t qm = query_matched[v], cm = compared_matched[v];
    if (qm == 0) continue;
    const Meta& m = videos_[v];
    std::size_t frames = m.frames;
    if (filter) {
      const auto b = quality_.begin() + std::ptrdiff_t(m.first);
      frames = std::size_t(std::count_if(b, b + std::ptrdiff_t(m.frames),
                                         [&](int qu) { return qu >= opts.quality_threshold; }));
    }
    VideoMatchResult r;
    r.query_frames = q.size();
    r.compared_frames = frames;
    r.query_matched = qm;
    r.compared_matched = cm;
    r.query_match_percent = 100.0 * double(qm) / double(q.size());
    r.compared_match_percent = 100.0 * double(cm) / double(frames);
    r.match = r.query_match_percent >= opts.query_match_percent &&
              r.compared_match_percent >= opts.compared_match_percent;
    if (r.match || all) out.push_back(VideoListMatch{m.list, m.id, m.labels, m.added_at, r});
  }
  std::sort(out.begin(), out.end(), [](const VideoListMatch& a, const VideoListMatch& b) {
    if (a.result.query_match_percent != b.result.query_match_percent)
      return a.result.query_match_percent > b.result.query_match_percent;
    return std::tie(a.list, a.id) < std::tie(b.list, b.id);
  });
  return out;
}

}  // namespace hashmatch::video
