// Project VIC VICS JSON importer: a SAX handler over nlohmann::json's streaming parser, so a
// multi-GB file is read one token at a time and only the current media record is held.
//
// Shapes accepted (docs/lists.md):
//   1.x  {"odata.metadata": ".../ProjectVic/DataModels/1.x.xml#Cases",
//         "value": [ {case fields..., "Media": [ {media}, ... ]} ]}
//   2.0  {"@odata.context": ".../DataModels/2.0.xml/<country>/$metadata#Cases",
//         "value": [ {"CaseID": ..., "Media": [ {media}, ... ]} ]}
//        {"@odata.context": ".../$metadata#Media", "value": [ {media}, ... ]}
// A media record: MediaID (id), MD5, SHA1, optional AlternativeHashes [{HashName, HashValue}]
// (SHA1 / SHA256 used, others such as PhotoDNA ignored), Category (category label), the flags
// VictimIdentified, OffenderIdentified, IsDistributed, IsPrecategorized, IsSuspected,
// SelfGenerated (tags when true), Series (string or {"Name": ...}) and Tags (tags).
#include <exception>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>

#include "host/common/error.h"
#include "host/lists/import_util.h"
#include "host/lists/importers.h"

namespace hashmatch {
namespace {

using import_detail::lower;
using import_detail::trim;
using json = nlohmann::json;

// The longest JSON string held (longer ones are cut; an error in a field that is kept).
constexpr std::size_t kMaxVicsString = std::size_t(1) << 20;

enum class Role {
  kRoot,        // the top-level object
  kValue,       // the top-level "value" array
  kItem,        // an element of "value": a case (holds "Media") or a media record (2.0 #Media)
  kMediaArray,  // a case's "Media" array
  kMedia,       // a media record inside a case
  kAltArray,    // a media record's "AlternativeHashes"
  kAlt,         // one alternative hash
  kSeries,      // a media record's "Series" object
  kTagsArray,   // a media record's "Tags" array
  kSkip,        // anything else (MediaFiles, Exifs, case fields...)
};

const std::map<std::string, std::string>& flag_tags() {
  static const std::map<std::string, std::string> m = {
      {"victimidentified", "victim_identified"},
      {"offenderidentified", "offender_identified"},
      {"isdistributed", "distributed"},
      {"isprecategorized", "precategorized"},
      {"issuspected", "suspected"},
      {"selfgenerated", "self_generated"},
  };
  return m;
}

struct MediaRecord {
  std::string id;
  std::optional<std::string> md5, sha1, sha256;
  std::vector<std::pair<std::string, std::string>> alt;  // (HashName, HashValue)
  std::string alt_name, alt_value;
  std::string category;
  std::vector<std::string> tags;
  bool any_field = false;
  void clear() { *this = MediaRecord(); }
};

class VicsHandler {
 public:
  VicsHandler(ImportSession& s, const ImportOptions& opts) : s_(s), opts_(opts) {}

  // --- nlohmann SAX interface; exceptions are kept and the parse stopped (return false).
  bool null() {
    return guard([&] { scalar(std::nullopt, false); });
  }
  bool boolean(bool v) {
    return guard([&] { scalar(v ? "true" : "false", true); });
  }
  bool number_integer(json::number_integer_t v) {
    return guard([&] { scalar(std::to_string(v), false); });
  }
  bool number_unsigned(json::number_unsigned_t v) {
    return guard([&] { scalar(std::to_string(v), false); });
  }
  bool number_float(json::number_float_t, const json::string_t& s) {
    return guard([&] { scalar(s, false); });
  }
  bool string(json::string_t& v) {
    return guard([&] {
      if (cap_ && cap_->cut()) {
        // A string cut at kMaxVicsString: fine for a field the importer ignores (a thumbnail),
        // an error for one it keeps.
        if (!uses_field()) return;
        const std::string field = parent_role() == Role::kTagsArray ? std::string("tags")
                                  : stack_.empty()                  ? std::string()
                                                                    : parent_key();
        throw InvalidArgument("media record " + std::to_string(records_ + 1) + ": field '" + field +
                              "' is longer than " + std::to_string(kMaxVicsString) + " bytes");
      }
      scalar(v, false);
    });
  }
  void set_cap(const import_detail::JsonStringCap* cap) { cap_ = cap; }
  bool binary(json::binary_t&) { return true; }
  bool key(json::string_t& k) {
    if (!stack_.empty()) stack_.back().key = lower(k);
    if (stack_.size() == 1 && (k == "odata.metadata" || k == "@odata.context")) {
      metadata_key_ = k;
    }
    return true;
  }
  bool start_object(std::size_t) {
    return guard([&] { open(true); });
  }
  bool end_object() {
    return guard([&] { close(); });
  }
  bool start_array(std::size_t) {
    return guard([&] { open(false); });
  }
  bool end_array() {
    return guard([&] { close(); });
  }
  bool parse_error(std::size_t position, const std::string& last_token,
                   const nlohmann::detail::exception& ex) {
    std::string what = ex.what();
    // nlohmann's message starts "[json.exception.parse_error.101] parse error at line 3, ..."
    if (auto p = what.find("] "); p != std::string::npos) what = what.substr(p + 2);
    // The position in the input: the bytes of cut strings (JsonStringCap) come before it. (The
    // message's own "column" counts the filtered text.)
    if (cap_) position += cap_->dropped();
    error_ = std::make_exception_ptr(InvalidArgument("JSON " + what + " (byte " +
                                                     std::to_string(position) + ", after " +
                                                     std::to_string(records_) + " media records)"));
    (void)last_token;
    return false;
  }

  void finish() {
    if (error_) std::rethrow_exception(error_);
    if (!saw_value_) {
      throw InvalidArgument("not a VICS JSON file: no top-level \"value\" array");
    }
  }
  std::exception_ptr error() const { return error_; }

 private:
  struct Frame {
    Role role;
    bool object;
    std::string key;  // the last key seen in this object (lowercase)
  };

  template <typename F>
  bool guard(F&& f) {
    try {
      f();
      return true;
    } catch (...) {
      error_ = std::current_exception();
      return false;
    }
  }

  Role parent_role() const { return stack_.empty() ? Role::kSkip : stack_.back().role; }
  const std::string& parent_key() const { return stack_.back().key; }
  bool in_media() const {
    const Role r = parent_role();
    return r == Role::kMedia || r == Role::kItem;
  }

  void open(bool object) {
    Role role = Role::kSkip;
    if (stack_.empty()) {
      if (!object) throw InvalidArgument("not a VICS JSON file: the top level is an array");
      role = Role::kRoot;
    } else {
      const Role p = parent_role();
      const std::string& k = parent_key();
      if (p == Role::kRoot && !object && k == "value") {
        role = Role::kValue;
        saw_value_ = true;
      } else if (p == Role::kValue && object) {
        role = Role::kItem;
        rec_.clear();
      } else if (p == Role::kItem && !object && k == "media") {
        role = Role::kMediaArray;
      } else if (p == Role::kMediaArray && object) {
        role = Role::kMedia;
        rec_.clear();
      } else if (in_media() && !object && k == "alternativehashes") {
        role = Role::kAltArray;
      } else if (p == Role::kAltArray && object) {
        role = Role::kAlt;
        rec_.alt_name.clear();
        rec_.alt_value.clear();
      } else if (in_media() && object && k == "series") {
        role = Role::kSeries;
      } else if (in_media() && !object && k == "tags") {
        role = Role::kTagsArray;
      }
    }
    stack_.push_back(Frame{role, object, {}});
  }

  void close() {
    const Role role = stack_.back().role;
    stack_.pop_back();
    if (role == Role::kMedia || role == Role::kItem) {
      if (rec_.any_field) emit();
      rec_.clear();
    } else if (role == Role::kAlt) {
      if (!rec_.alt_name.empty()) rec_.alt.emplace_back(rec_.alt_name, rec_.alt_value);
    }
  }

  // Whether a string in the current place would be kept (scalar() below).
  bool uses_field() const {
    if (stack_.empty()) return false;
    const Role p = parent_role();
    if (p == Role::kTagsArray || p == Role::kAlt || p == Role::kSeries) return true;
    if (!in_media()) return false;
    static const char* const kept[] = {"mediaid",  "md5",    "sha1", "sha256",
                                       "category", "series", "tags"};
    const std::string& k = parent_key();
    for (const char* name : kept) {
      if (k == name) return true;
    }
    return flag_tags().count(k) > 0;
  }

  void scalar(const std::optional<std::string>& v, bool is_bool) {
    if (stack_.empty()) return;
    const Role p = parent_role();
    if (p == Role::kTagsArray) {
      if (v) add_tags(*v);
      return;
    }
    if (p == Role::kAlt) {
      const std::string& k = parent_key();
      if (k == "hashname" && v) rec_.alt_name = lower(trim(*v));
      if (k == "hashvalue" && v) rec_.alt_value = std::string(trim(*v));
      return;
    }
    if (p == Role::kSeries) {
      if (parent_key() == "name" && v && !trim(*v).empty()) {
        rec_.tags.push_back("series:" + std::string(trim(*v)));
      }
      return;
    }
    if (!in_media()) return;
    const std::string& k = parent_key();
    if (k == "mediaid") {
      if (v) rec_.id = std::string(trim(*v));
      rec_.any_field = true;
    } else if (k == "md5") {
      if (v && !trim(*v).empty()) rec_.md5 = std::string(trim(*v));
      rec_.any_field = true;
    } else if (k == "sha1") {
      if (v && !trim(*v).empty()) rec_.sha1 = std::string(trim(*v));
      rec_.any_field = true;
    } else if (k == "sha256") {
      if (v && !trim(*v).empty()) rec_.sha256 = std::string(trim(*v));
      rec_.any_field = true;
    } else if (k == "category") {
      if (v) rec_.category = std::string(trim(*v));
    } else if (k == "series") {
      if (v && !trim(*v).empty()) rec_.tags.push_back("series:" + std::string(trim(*v)));
    } else if (k == "tags") {
      if (v) add_tags(*v);
    } else if (auto it = flag_tags().find(k); it != flag_tags().end()) {
      (void)is_bool;
      if (v && lower(trim(*v)) == "true") rec_.tags.push_back(it->second);
    }
  }

  void add_tags(const std::string& v) {
    std::size_t b = 0;
    while (b <= v.size()) {
      std::size_t e = v.find_first_of(",;|", b);
      if (e == std::string::npos) e = v.size();
      std::string_view t = trim(std::string_view(v).substr(b, e - b));
      if (!t.empty()) rec_.tags.emplace_back(t);
      b = e + 1;
    }
  }

  void emit() {
    ++records_;
    s_.count_record();
    const std::string origin = "media record " + std::to_string(records_) +
                               (rec_.id.empty() ? std::string() : " (MediaID " + rec_.id + ")");
    // Alternative hashes fill in SHA1 / SHA256; a conflicting value is an error.
    for (const auto& [name, value] : rec_.alt) {
      std::optional<std::string>* slot = nullptr;
      if (name == "sha1" || name == "sha-1") slot = &rec_.sha1;
      if (name == "sha256" || name == "sha-256") slot = &rec_.sha256;
      if (name == "md5") slot = &rec_.md5;
      if (!slot || value.empty()) continue;  // PhotoDNA and others: not stored here
      if (*slot && lower(**slot) != lower(value)) {
        throw InvalidArgument(origin + ": AlternativeHashes " + name + " '" + value +
                              "' differs from the record's " + name + " '" + **slot + "'");
      }
      *slot = value;
    }
    Labels labels = opts_.defaults;
    if (labels.source.empty()) labels.source = "vics";
    if (!rec_.category.empty()) labels.category = rec_.category;
    for (std::string& t : rec_.tags) labels.tags.push_back(std::move(t));

    std::vector<NewEntry> entries;
    const std::pair<HashAlgo, const std::optional<std::string>*> parts[] = {
        {HashAlgo::kMd5, &rec_.md5},
        {HashAlgo::kSha1, &rec_.sha1},
        {HashAlgo::kSha256, &rec_.sha256}};
    for (const auto& [algo, text] : parts) {
      if (!*text) continue;
      NewEntry e;
      std::string why;
      if (!HashValue::try_parse(algo, **text, &e.hash, &why)) {
        throw InvalidArgument(origin + ": " + why);
      }
      e.labels = labels;
      entries.push_back(std::move(e));
    }
    if (entries.empty()) {
      s_.count_skipped();
      return;
    }
    // The record's id: MediaID, else its MD5 (or first hash).
    const std::string id = !rec_.id.empty() ? rec_.id : entries[0].hash.to_hex();
    for (NewEntry& e : entries) e.id = id;
    s_.add_record(entries, origin);
  }

  ImportSession& s_;
  const ImportOptions& opts_;
  std::vector<Frame> stack_;
  MediaRecord rec_;
  std::string metadata_key_;
  bool saw_value_ = false;
  int64_t records_ = 0;
  std::exception_ptr error_;
  const import_detail::JsonStringCap* cap_ = nullptr;
};

}  // namespace

void parse_vics(std::istream& in, ImportSession& s, const ImportOptions& opts) {
  VicsHandler h(s, opts);
  // Strings are read through a cap: one of gigabytes (a thumbnail) is never held whole.
  import_detail::JsonStringCap cap(in.rdbuf(), kMaxVicsString);
  std::istream capped(&cap);
  h.set_cap(&cap);
  const bool ok = json::sax_parse(capped, &h, json::input_format_t::json, /*strict=*/true);
  if (!ok && !h.error()) throw InvalidArgument("JSON parse failed");
  h.finish();
}

}  // namespace hashmatch
