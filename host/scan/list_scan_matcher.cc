// Compiled only when host/lists is part of the build (HM_SCAN_WITH_LISTS); otherwise
// no_list_scan_matcher.cc provides the same functions, which say so.
#include "host/scan/list_scan_matcher.h"

#include <algorithm>
#include <map>
#include <set>

#include "host/common/error.h"
#include "host/lists/list_matcher.h"
#if HM_SCAN_WITH_VIDEO
#include "video/vpdq_store.h"
#endif

namespace hashmatch::scan {
namespace {

nlohmann::json labels_json(const Labels& l) {
  return nlohmann::json{{"category", l.category}, {"source", l.source}, {"tags", l.tags}};
}

nlohmann::json match_json(const ListMatch& m) {
  nlohmann::json j{{"list", m.list},
                   {"id", m.id},
                   {"algo", std::string(algo_name(m.algo))},
                   {"hash", m.hash},
                   {"distance", m.distance},
                   {"labels", labels_json(m.labels)},
                   {"added", format_utc(m.added_at)}};
  if (m.algo == HashAlgo::kPdq) {
    j["threshold"] = m.threshold;
    j["variant"] = std::string(dihedral_name(m.variant));
  }
  return j;
}

class ListScanMatcher : public ScanMatcher {
 public:
  explicit ListScanMatcher(const ListScanOptions& o) : opts_(o) {
    ListMatcherOptions lo;
    lo.matcher.backend = parse_backend(o.backend);
    lo.matcher.threads = o.threads;
    if (o.threshold) lo.matcher.expected_threshold = *o.threshold;
    lo.lists = o.lists;
    matcher_ = std::make_unique<ListMatcher>(o.db, lo);
    snap_ = matcher_->snapshot();
    qopts_.lists = o.lists;
    qopts_.threshold = o.threshold;
#if HM_SCAN_WITH_VIDEO
    // Listed videos (vPDQ, video/vpdq_store.h): one index over their frames.
    ListStore store(o.db, /*create=*/false);
    video::VpdqStore vs(store);
    video::VideoMatchOptions vo;
    vo.quality_threshold = o.min_quality;
    if (o.threshold) vo.distance_threshold = *o.threshold;
    auto index = std::make_unique<video::VideoIndex>(vs, o.lists, vo, lo.matcher);
    if (index->videos() > 0) videos_ = std::move(index);
#endif
  }

  void match(std::span<ScanItem* const> items, bool dihedral) override {
    QueryOptions q = qopts_;
    q.dihedral = dihedral;
    // PDQ of images, in one batch.
    std::vector<PdqQuery> queries;
    std::vector<ScanItem*> owners;
    // vPDQ frames of videos: one query per matchable frame.
    std::vector<PdqQuery> frame_queries;
    std::vector<std::pair<ScanItem*, std::size_t>> frame_owner;  // item, frame position
    for (ScanItem* it : items) {
      it->matches = nlohmann::json::array();
      const MediaHashResult& r = it->result;
      if (r.pdq && r.ok() && r.pdq->quality >= opts_.min_quality) {
        queries.push_back(dihedral ? PdqQuery::dihedral(r.pdq->hashes)
                                   : PdqQuery::original(r.pdq->hashes[0]));
        owners.push_back(it);
      }
      if (auto v = r.extra.find("vpdq"); v != r.extra.end() && v->is_array()) {
        std::set<Hash256> seen;  // one query per distinct frame hash
        for (std::size_t k = 0; k < v->size(); ++k) {
          const auto& f = (*v)[k];
          if (!f.is_object() || f.value("quality", 0) < opts_.min_quality) continue;
          Hash256 h;
          if (!Hash256::try_from_hex(f.value("pdq", ""), &h) || !seen.insert(h).second) continue;
          frame_queries.push_back(PdqQuery::original(h));
          frame_owner.emplace_back(it, seen.size());
        }
      }
    }
    if (!queries.empty()) {
      const auto res = snap_->match_pdq(queries, q);
      for (std::size_t i = 0; i < res.size(); ++i) {
        for (const ListMatch& m : res[i]) owners[i]->matches.push_back(match_json(m));
      }
    }
    if (!frame_queries.empty()) {
      QueryOptions fq = q;
      fq.dihedral = false;
      const auto res = snap_->match_pdq(frame_queries, fq);
      // Per item and list entry: frames matched, closest distance.
      struct Agg {
        ListMatch best;
        std::size_t frames = 0;
      };
      std::map<ScanItem*, std::map<std::pair<std::string, std::string>, Agg>> per_item;
      std::map<ScanItem*, std::size_t> frames_of;
      for (std::size_t i = 0; i < res.size(); ++i) {
        ScanItem* it = frame_owner[i].first;
        frames_of[it] = std::max(frames_of[it], frame_owner[i].second);
        for (const ListMatch& m : res[i]) {
          Agg& a = per_item[it][{m.list, m.id}];
          if (a.frames == 0 || m.distance < a.best.distance) a.best = m;
          ++a.frames;
        }
      }
      for (auto& [it, entries] : per_item) {
        for (auto& [key, a] : entries) {
          // Frames of this video that match a listed image (PDQ entry): "pdq" with frame counts.
          nlohmann::json j = match_json(a.best);
          j.erase("variant");
          j["frames_matched"] = a.frames;
          j["frames"] = frames_of[it];
          j["query_match_percent"] =
              frames_of[it] ? 100.0 * double(a.frames) / double(frames_of[it]) : 0.0;
          it->matches.push_back(std::move(j));
        }
      }
    }
#if HM_SCAN_WITH_VIDEO
    // Videos against listed videos, video-level (vPDQ's rule: q% and c% thresholds).
    if (videos_) {
      for (ScanItem* it : items) {
        auto v = it->result.extra.find("vpdq");
        if (v == it->result.extra.end() || !v->is_array() || v->empty()) continue;
        std::vector<video::VpdqFrame> frames;
        for (const auto& f : *v) {
          Hash256 h;
          if (!Hash256::try_from_hex(f.value("pdq", ""), &h)) continue;
          frames.push_back({f.value("frame", int64_t{0}), f.value("quality", 0), h,
                            f.value("timestamp", 0.0)});
        }
        for (const video::VideoListMatch& m : videos_->match(frames)) {
          it->matches.push_back({{"list", m.list},
                                 {"id", m.id},
                                 {"algo", "vpdq"},
                                 {"query_match_percent", m.result.query_match_percent},
                                 {"compared_match_percent", m.result.compared_match_percent},
                                 {"frames", m.result.query_frames},
                                 {"frames_matched", m.result.query_matched},
                                 {"labels", labels_json(m.labels)},
                                 {"added", format_utc(m.added_at)}});
        }
      }
    }
#endif
    // Exact digests (every file that was read, media or not).
    for (ScanItem* it : items) {
      const MediaHashResult& r = it->result;
      if (!r.have_digests) continue;
      for (const ListMatch& m : snap_->match_digests(r.digests, q)) {
        it->matches.push_back(match_json(m));
      }
    }
  }

  std::size_t batch_size() const override { return 4096; }

  nlohmann::json describe() const override {
    nlohmann::json lists = nlohmann::json::array();
    std::set<std::string> backends;
    for (const SnapshotListInfo& l : snap_->lists()) {
      lists.push_back({{"name", l.info.name}, {"entries", l.entries}, {"threshold", l.info.threshold}});
      if (!l.pdq_backend.empty()) backends.insert(l.pdq_backend);
    }
    std::string be;
    for (const std::string& b : backends) be += (be.empty() ? "" : ",") + b;
    return nlohmann::json{{"db", opts_.db},
                          {"lists", lists},
                          {"entries", snap_->entries()},
                          {"videos", videos_ ? videos_->videos() : 0},
                          {"pdq_matcher", be},
                          {"min_quality", opts_.min_quality}};
  }

 private:
  ListScanOptions opts_;
  std::unique_ptr<ListMatcher> matcher_;
  std::shared_ptr<const ListSnapshot> snap_;
  QueryOptions qopts_;
#if HM_SCAN_WITH_VIDEO
  std::unique_ptr<video::VideoIndex> videos_;
#else
  struct NoVideos {
    std::size_t videos() const { return 0; }
  };
  std::unique_ptr<NoVideos> videos_;
#endif
};

}  // namespace

bool list_matching_available() { return true; }

std::unique_ptr<ScanMatcher> make_list_scan_matcher(const ListScanOptions& opts) {
  return std::make_unique<ListScanMatcher>(opts);
}

}  // namespace hashmatch::scan
