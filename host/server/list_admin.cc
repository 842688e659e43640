#include "host/server/list_admin.h"

#include <istream>
#include <streambuf>

#include "host/common/digest.h"
#include "host/common/error.h"
#include "host/lists/importers.h"
#include "host/server/api_error.h"

namespace hashmatch::server {
namespace {

// An istream over bytes in memory (the request body), without a copy.
class SpanBuf : public std::streambuf {
 public:
  explicit SpanBuf(std::string_view s) {
    char* p = const_cast<char*>(s.data());
    setg(p, p, p + s.size());
  }
};

Labels parse_labels(const nlohmann::json& j, const std::string& where) {
  Labels l;
  if (!j.is_object()) throw InvalidArgument(where + ".labels must be an object");
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it.key() == "category" && it->is_string()) {
      l.category = it->get<std::string>();
    } else if (it.key() == "source" && it->is_string()) {
      l.source = it->get<std::string>();
    } else if (it.key() == "tags" && it->is_array()) {
      for (const auto& t : *it) {
        if (!t.is_string()) throw InvalidArgument(where + ".labels.tags must hold strings");
        l.tags.push_back(t.get<std::string>());
      }
    } else {
      throw InvalidArgument(where + ".labels." + it.key() +
                            ": unknown or mistyped field (category, source: strings; tags: "
                            "list of strings)");
    }
  }
  return l;
}

ApiError not_found_list(const std::string& name) {
  return ApiError(404, "not_found", "no list named '" + name + "'", {{"list", name}});
}

}  // namespace

ListAdmin::ListAdmin(const std::string& db, const std::string& audit_path, ListsState& lists,
                     monitoring::Metrics& metrics)
    : store_(db, /*create=*/true), audit_(audit_path), lists_(lists), metrics_(metrics) {}

nlohmann::json ListAdmin::stats_json(const ListStats& s, const ListSnapshot* snap) {
  nlohmann::json by_algo = nlohmann::json::object();
  for (int a = 0; a < kNumHashAlgos; ++a) {
    by_algo[std::string(algo_name(static_cast<HashAlgo>(a)))] = s.by_algo[a];
  }
  nlohmann::json j = {
      {"name", s.info.name},
      {"threshold", s.info.threshold},
      {"created_at", format_utc(s.info.created_at)},
      {"generation", s.info.generation},
      {"entries", s.entries},
      {"records", s.records},
      {"by_algo", by_algo},
      {"videos", s.videos},
      {"video_frames", s.video_frames},
      {"last_added", s.last_added ? nlohmann::json(format_utc(s.last_added)) : nlohmann::json()},
      {"loaded", false},
      {"loaded_generation", nullptr},
      {"pdq_backend", nullptr},
  };
  if (snap) {
    for (const SnapshotListInfo& l : snap->lists()) {
      if (l.info.name != s.info.name) continue;
      j["loaded"] = true;
      j["loaded_generation"] = l.info.generation;
      j["pdq_backend"] = l.pdq_backend.empty() ? nlohmann::json() : nlohmann::json(l.pdq_backend);
    }
  }
  return j;
}

nlohmann::json ListAdmin::lists_json() {
  const auto snap = lists_.snapshot();
  std::vector<ListStats> all;
  {
    std::lock_guard<std::mutex> lk(mu_);
    all = store_.stats_all();
  }
  nlohmann::json arr = nlohmann::json::array();
  for (const ListStats& s : all) arr.push_back(stats_json(s, snap.get()));
  return {{"lists", arr},
          {"loaded", snap != nullptr},
          {"snapshot_version", snap ? nlohmann::json(snap->version()) : nlohmann::json()}};
}

nlohmann::json ListAdmin::list_json(const std::string& name) {
  const auto snap = lists_.snapshot();
  ListStats s;
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (!store_.find_list(name)) throw not_found_list(name);
    s = store_.stats(name);
  }
  return stats_json(s, snap.get());
}

ImportSummary ListAdmin::import_json(const std::string& list, std::string_view body,
                                     const std::string& source) {
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(body.begin(), body.end());
  } catch (const nlohmann::json::parse_error& e) {
    throw InvalidArgument(std::string("the body is not valid JSON: ") + e.what());
  }
  if (!doc.is_object() || !doc.contains("entries") || !doc["entries"].is_array()) {
    throw InvalidArgument("expected {\"entries\": [...]} (or give ?format= for an import format)");
  }
  for (auto it = doc.begin(); it != doc.end(); ++it) {
    if (it.key() != "entries") throw InvalidArgument("unknown field '" + it.key() + "'");
  }
  auto session = store_.begin_import(list, source, "json");
  const auto& entries = doc["entries"];
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const std::string where = "entries[" + std::to_string(i) + "]";
    const auto& e = entries[i];
    if (!e.is_object()) throw InvalidArgument(where + " must be an object");
    std::string id;
    Labels labels;
    std::vector<NewEntry> fps;
    for (auto it = e.begin(); it != e.end(); ++it) {
      const std::string& k = it.key();
      if (k == "id") {
        if (!it->is_string()) throw InvalidArgument(where + ".id must be a string");
        id = it->get<std::string>();
      } else if (k == "labels") {
        labels = parse_labels(*it, where);
      } else if (auto algo = parse_algo(k)) {
        if (!it->is_string()) throw InvalidArgument(where + "." + k + " must be a hex string");
        NewEntry ne;
        std::string why;
        if (!HashValue::try_parse(*algo, it->get<std::string>(), &ne.hash, &why)) {
          throw InvalidArgument(where + "." + k + ": " + why);
        }
        fps.push_back(std::move(ne));
      } else {
        throw InvalidArgument(where + ": unknown field '" + k +
                              "' (id, pdq, md5, sha1, sha256, labels)");
      }
    }
    if (fps.empty()) throw InvalidArgument(where + ": no hash (pdq, md5, sha1 or sha256)");
    for (NewEntry& ne : fps) {
      ne.id = id;
      ne.labels = labels;
    }
    session->count_record();
    if (id.empty()) {
      for (const NewEntry& ne : fps) session->add(ne, where);
    } else {
      session->add_record(fps, where);
    }
  }
  return session->commit();
}

void ListAdmin::after_change(const Actor& actor, const std::string& action, nlohmann::json what) {
  // The change is committed; the audit record is written before it is acknowledged, then the
  // snapshot is rebuilt so that matching sees it.
  audit_.append(actor, action, std::move(what));
  metrics_.add_audit_event(action);
  std::string err;
  lists_.reload(&err);
  if (!err.empty()) {
    throw ApiError(500, "reload_failed",
                   "the change was committed and audited, but reloading the lists failed: " + err);
  }
}

nlohmann::json ListAdmin::add_entries(const std::string& list, std::string_view body,
                                      const std::string& content_type, const std::string& format,
                                      std::optional<int> threshold, const Actor& actor) {
  if (!valid_list_name(list)) {
    throw ApiError(400, "bad_list_name",
                   "invalid list name '" + list +
                       "': 1..64 characters of A-Z a-z 0-9 _ . -, starting with a letter or digit");
  }
  if (threshold && (*threshold < 0 || *threshold > 256)) {
    throw ApiError(400, "bad_request", "threshold must be in 0..256");
  }
  const std::string source = "api:" + actor.who;
  const bool json_doc = format.empty() && content_type.rfind("application/json", 0) == 0;
  ImportSummary summary;
  bool created = false;
  int64_t generation = 0;
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (!store_.find_list(list)) {
      store_.create_list(list, threshold.value_or(kDefaultPdqThreshold));
      created = true;
    }
    try {
      if (json_doc) {
        summary = import_json(list, body, source);
        summary.format = "json";
      } else {
        ImportOptions opts;
        const auto f = parse_format(format.empty() ? "auto" : format);
        if (!f) {
          throw InvalidArgument("unknown format '" + format +
                                "' (auto, te, csv, tsv, lines, vics, ncmec)");
        }
        opts.format = *f;
        SpanBuf buf(body);
        std::istream in(&buf);
        summary = import_stream(store_, list, in, "request body", opts);
      }
    } catch (...) {
      if (created) {
        try {
          store_.drop_list(list);  // nothing was imported: leave no empty list behind
        } catch (...) {
        }
      }
      throw;
    }
    generation = store_.get_list(list).generation;
  }
  nlohmann::json result = {{"list", list},
                           {"created", created},
                           {"format", summary.format},
                           {"records", summary.records},
                           {"imported", summary.imported},
                           {"removed", summary.removed},
                           {"duplicates", summary.duplicates},
                           {"skipped", summary.skipped},
                           {"generation", generation}};
  nlohmann::json what = result;
  what["body_bytes"] = body.size();
  what["body_sha256"] = digest_bytes(body).sha256;
  after_change(actor, "add_entries", std::move(what));
  return result;
}

nlohmann::json ListAdmin::delete_entry(const std::string& list, const std::string& id,
                                       const Actor& actor) {
  int64_t removed = 0;
  int64_t generation = 0;
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (!store_.find_list(list)) throw not_found_list(list);
    removed = store_.remove_id(list, id);
    if (removed == 0) {
      throw ApiError(404, "not_found", "list '" + list + "' has no entry with id '" + id + "'",
                     {{"list", list}, {"id", id}});
    }
    generation = store_.get_list(list).generation;
  }
  nlohmann::json result = {
      {"list", list}, {"id", id}, {"removed", removed}, {"generation", generation}};
  after_change(actor, "delete_entry", result);
  return result;
}

}  // namespace hashmatch::server
