// Compiled only when host/lists is part of the build (HM_SCAN_WITH_LISTS); otherwise
// no_list_scan_matcher.cc provides the same functions, which say so.
#include "host/scan/list_scan_matcher.h"

#include <algorithm>
#include <map>
#include <set>

#include "host/common/error.h"
#include "host/lists/frame_matches.h"
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
    // vPDQ frames of videos: one query per distinct matchable frame (host/lists/frame_matches.h),
    // each video's side by side, searched opts_.frame_chunk at a time whatever the videos' lengths
    // (a query holds ~290 bytes; a distinct hash waiting for its turn 32).
    struct FrameItem {
      ScanItem* item;
      std::vector<Hash256> hashes;
      FrameEntryCounter counter;
    };
    std::vector<FrameItem> frame_items;
    for (ScanItem* it : items) {
      it->matches = nlohmann::json::array();
      const MediaHashResult& r = it->result;
      if (r.pdq && r.ok() && r.pdq->quality >= opts_.min_quality) {
        queries.push_back(dihedral ? PdqQuery::dihedral(r.pdq->hashes)
                                   : PdqQuery::original(r.pdq->hashes[0]));
        owners.push_back(it);
      }
      if (r.vpdq) {
        std::vector<Hash256> h = distinct_frame_hashes(*r.vpdq, opts_.min_quality);
        if (!h.empty()) frame_items.push_back({it, std::move(h), {}});
      }
    }
    if (!queries.empty()) {
      const auto res = snap_->match_pdq(queries, q);
      for (std::size_t i = 0; i < res.size(); ++i) {
        for (const ListMatch& m : res[i]) owners[i]->matches.push_back(match_json(m));
      }
    }
    if (!frame_items.empty()) {
      QueryOptions fq = q;
      fq.dihedral = false;
      // Windows of up to opts_.frame_chunk queries over the videos' hashes, one after the other;
      // each window's answers go to the counters of the videos it covers.
      const std::size_t chunk = std::max<std::size_t>(opts_.frame_chunk, 1);
      std::vector<PdqQuery> window;
      std::vector<std::pair<std::size_t, std::size_t>> spans;  // (video, queries in the window)
      auto search = [&] {
        if (window.empty()) return;
        const auto res = snap_->match_pdq(window, fq);
        std::size_t at = 0;
        for (const auto& [v, n] : spans) {
          frame_items[v].counter.add(std::span(res).subspan(at, n));
          at += n;
        }
        window.clear();
        spans.clear();
      };
      for (std::size_t v = 0; v < frame_items.size(); ++v) {
        const std::vector<Hash256>& h = frame_items[v].hashes;
        for (std::size_t i = 0; i < h.size();) {
          const std::size_t n = std::min(h.size() - i, chunk - window.size());
          for (std::size_t k = i; k < i + n; ++k) window.push_back(PdqQuery::original(h[k]));
          spans.emplace_back(v, n);
          i += n;
          if (window.size() == chunk) search();
        }
      }
      search();
      for (FrameItem& f : frame_items) {
        const std::size_t frames = f.hashes.size();
        for (const FrameEntryMatch& a : f.counter.take()) {
          // Frames of this video that match a listed image (PDQ entry): "pdq" with frame counts.
          nlohmann::json j = match_json(a.best);
          j.erase("variant");
          j["frames_matched"] = a.frames_matched;
          j["frames"] = frames;
          j["query_match_percent"] = 100.0 * double(a.frames_matched) / double(frames);
          f.item->matches.push_back(std::move(j));
        }
      }
    }
#if HM_SCAN_WITH_VIDEO
    // Videos against listed videos, video-level (vPDQ's rule: q% and c% thresholds).
    if (videos_) {
      for (ScanItem* it : items) {
        const auto& frames = it->result.vpdq;
        if (!frames || frames->empty()) continue;
        for (const video::VideoListMatch& m : videos_->match(*frames)) {
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
