// NCMEC hash-sharing XML (API v2) importer, streamed through libexpat.
//
// Shape followed (docs/lists.md): the entries response of the v2 API,
//   <queryResult xmlns="https://hashsharing.ncmec.org/hashsharing/v2">
//     <images count=".." maxTimestamp="..">
//       <image>
//         <member id="42">Member name</member> <timestamp>..</timestamp> <id>image1</id>
//         <classification>A1</classification>
//         <fingerprints> <md5>..</md5> <sha1>..</sha1> <pdq>..</pdq> <pdna>..</pdna>
//         </fingerprints>
//       </image>
//       <deletedImage> <member id="43">..</member> <id>image4</id> <timestamp>..</timestamp>
//       </deletedImage>
//     </images>
//     <videos> <video>..</video> <deletedVideo>..</deletedVideo> </videos>
//     <paging> <next>..</next> </paging>
//   </queryResult>
// md5, sha1 and pdq fingerprints become entries with the record's id; other fingerprints (pdna,
// tmk-pdqf, videntifier...) are ignored. A deleted entry removes every entry with its id.
#include <expat.h>

#include <cstring>
#include <exception>

#include "host/common/error.h"
#include "host/lists/import_util.h"
#include "host/lists/importers.h"

namespace hashmatch {
namespace {

using import_detail::trim;

constexpr std::size_t kMaxText = 1 << 16;  // text of one leaf element (bounded memory)

std::string local_name(const XML_Char* name) {
  const char* sep = std::strrchr(name, '|');  // "namespace-uri|local" (XML_ParserCreateNS)
  return sep ? std::string(sep + 1) : std::string(name);
}

class NcmecHandler {
 public:
  NcmecHandler(XML_Parser p, ImportSession& s, const ImportOptions& opts)
      : p_(p), s_(s), opts_(opts) {}

  static void XMLCALL on_start(void* ud, const XML_Char* name, const XML_Char** attrs) {
    auto* h = static_cast<NcmecHandler*>(ud);
    h->guard([&] { h->start(local_name(name), attrs); });
  }
  static void XMLCALL on_end(void* ud, const XML_Char* name) {
    auto* h = static_cast<NcmecHandler*>(ud);
    h->guard([&] { h->end(local_name(name)); });
  }
  static void XMLCALL on_text(void* ud, const XML_Char* s, int len) {
    auto* h = static_cast<NcmecHandler*>(ud);
    h->guard([&] { h->text(s, len); });
  }

  std::exception_ptr error() const { return error_; }
  bool saw_root() const { return saw_root_; }

 private:
  struct Record {
    bool deleted = false;
    std::string type;  // "image" | "video"
    std::string id, classification, member;
    std::vector<std::pair<std::string, std::string>> fingerprints;
    long line = 0;
  };

  template <typename F>
  void guard(F&& f) {
    if (error_) return;
    try {
      f();
    } catch (...) {
      error_ = std::current_exception();
      XML_StopParser(p_, XML_FALSE);
    }
  }

  std::string here() const { return "line " + std::to_string(XML_GetCurrentLineNumber(p_)); }

  void start(const std::string& name, const XML_Char** attrs) {
    const std::string parent = stack_.empty() ? std::string() : stack_.back();
    stack_.push_back(name);
    text_.clear();
    collecting_ = false;
    if (stack_.size() == 1) {
      if (name != "queryResult") {
        throw InvalidArgument(here() + ": not an NCMEC hash-sharing file: the root element is <" +
                              name + ">, expected <queryResult>");
      }
      saw_root_ = true;
      return;
    }
    if ((parent == "images" || parent == "videos") &&
        (name == "image" || name == "video" || name == "deletedImage" || name == "deletedVideo")) {
      in_record_ = true;
      rec_ = Record();
      rec_.deleted = name.rfind("deleted", 0) == 0;
      rec_.type = (name == "image" || name == "deletedImage") ? "image" : "video";
      rec_.line = static_cast<long>(XML_GetCurrentLineNumber(p_));
      record_depth_ = stack_.size();
      return;
    }
    if (!in_record_) return;
    const std::size_t depth = stack_.size() - record_depth_;  // 1: child of the record
    if (depth == 1 && (name == "id" || name == "classification" || name == "member")) {
      collecting_ = true;
      if (name == "member") {
        for (int i = 0; attrs[i]; i += 2) {
          if (std::strcmp(attrs[i], "id") == 0) rec_.member = attrs[i + 1];
        }
      }
    } else if (depth == 2 && parent == "fingerprints") {
      collecting_ = true;
    }
  }

  void text(const XML_Char* s, int len) {
    if (!collecting_) return;
    if (text_.size() + static_cast<std::size_t>(len) > kMaxText) {
      throw InvalidArgument(here() + ": element <" + stack_.back() + "> text longer than " +
                            std::to_string(kMaxText) + " bytes");
    }
    text_.append(s, static_cast<std::size_t>(len));
  }

  void end(const std::string& name) {
    const std::size_t depth = in_record_ ? stack_.size() - record_depth_ : 0;
    const bool was_collecting = collecting_;
    collecting_ = false;
    if (in_record_ && depth == 0) {
      in_record_ = false;
      emit();
    } else if (in_record_ && was_collecting) {
      const std::string value(trim(text_));
      if (depth == 1 && name == "id") rec_.id = value;
      if (depth == 1 && name == "classification") rec_.classification = value;
      if (depth == 2) rec_.fingerprints.emplace_back(name, value);
    }
    text_.clear();
    stack_.pop_back();
  }

  void emit() {
    s_.count_record();
    const std::string origin = "line " + std::to_string(rec_.line) + " (" +
                               (rec_.deleted ? "deleted " : "") + rec_.type +
                               (rec_.id.empty() ? std::string() : " id " + rec_.id) + ")";
    if (rec_.id.empty()) throw InvalidArgument(origin + ": entry without an <id>");
    if (rec_.deleted) {
      s_.remove_id(rec_.id);
      return;
    }
    Labels labels = opts_.defaults;
    if (!rec_.classification.empty()) labels.category = rec_.classification;
    if (labels.source.empty()) {
      labels.source = rec_.member.empty() ? "ncmec" : "ncmec:" + rec_.member;
    }
    labels.tags.push_back(rec_.type);
    std::vector<NewEntry> entries;
    for (const auto& [kind, value] : rec_.fingerprints) {
      std::optional<HashAlgo> algo;
      if (kind == "md5") algo = HashAlgo::kMd5;
      if (kind == "sha1") algo = HashAlgo::kSha1;
      if (kind == "pdq") algo = HashAlgo::kPdq;
      if (kind == "sha256") algo = HashAlgo::kSha256;
      if (!algo || value.empty()) continue;  // pdna, tmk-pdqf, videntifier...: not ours
      NewEntry e;
      std::string why;
      if (!HashValue::try_parse(*algo, value, &e.hash, &why)) {
        throw InvalidArgument(origin + ": " + why);
      }
      for (const NewEntry& o : entries) {
        if (o.hash.algo == *algo) {
          throw InvalidArgument(origin + ": two <" + kind + "> fingerprints");
        }
      }
      e.id = rec_.id;
      e.labels = labels;
      entries.push_back(std::move(e));
    }
    if (entries.empty()) {
      s_.count_skipped();
      return;
    }
    s_.add_record(entries, origin);
  }

  XML_Parser p_;
  ImportSession& s_;
  const ImportOptions& opts_;
  std::vector<std::string> stack_;
  std::string text_;
  bool collecting_ = false;
  bool in_record_ = false;
  bool saw_root_ = false;
  std::size_t record_depth_ = 0;
  Record rec_;
  std::exception_ptr error_;
};

struct ParserDeleter {
  void operator()(XML_Parser p) const { XML_ParserFree(p); }
};

}  // namespace

void parse_ncmec(std::istream& in, ImportSession& s, const ImportOptions& opts) {
  std::unique_ptr<XML_ParserStruct, ParserDeleter> parser(XML_ParserCreateNS(nullptr, '|'));
  if (!parser) throw Error("cannot create an XML parser");
  XML_Parser p = parser.get();
  NcmecHandler h(p, s, opts);
  XML_SetUserData(p, &h);
  XML_SetElementHandler(p, &NcmecHandler::on_start, &NcmecHandler::on_end);
  XML_SetCharacterDataHandler(p, &NcmecHandler::on_text);
  std::vector<char> buf(1 << 16);
  for (;;) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    const std::streamsize n = in.gcount();
    const bool last = n < static_cast<std::streamsize>(buf.size());
    if (XML_Parse(p, buf.data(), static_cast<int>(n), last ? XML_TRUE : XML_FALSE) !=
        XML_STATUS_OK) {
      if (h.error()) std::rethrow_exception(h.error());
      throw InvalidArgument("XML error at line " + std::to_string(XML_GetCurrentLineNumber(p)) +
                            ", column " + std::to_string(XML_GetCurrentColumnNumber(p)) + ": " +
                            XML_ErrorString(XML_GetErrorCode(p)));
    }
    if (h.error()) std::rethrow_exception(h.error());
    if (last) break;
  }
  if (!h.saw_root()) throw InvalidArgument("not an NCMEC hash-sharing XML file: no root element");
}

}  // namespace hashmatch
