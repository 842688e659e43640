#include "host/lists/importers.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <streambuf>

#include "host/common/error.h"
#include "host/lists/import_util.h"

namespace hashmatch {

using import_detail::LineReader;
using import_detail::lower;
using import_detail::trim;

std::string_view format_name(ListFormat f) {
  switch (f) {
    case ListFormat::kAuto:
      return "auto";
    case ListFormat::kTe:
      return "te";
    case ListFormat::kCsv:
      return "csv";
    case ListFormat::kTsv:
      return "tsv";
    case ListFormat::kLines:
      return "lines";
    case ListFormat::kVics:
      return "vics";
    case ListFormat::kNcmec:
      return "ncmec";
  }
  return "unknown";
}

std::optional<ListFormat> parse_format(std::string_view s) {
  const std::string l = lower(s);
  for (ListFormat f : {ListFormat::kAuto, ListFormat::kTe, ListFormat::kCsv, ListFormat::kTsv,
                       ListFormat::kLines, ListFormat::kVics, ListFormat::kNcmec}) {
    if (l == format_name(f)) return f;
  }
  if (l == "threatexchange" || l == "hma") return ListFormat::kTe;
  if (l == "json") return ListFormat::kVics;
  if (l == "xml") return ListFormat::kNcmec;
  return std::nullopt;
}

HashValue parse_bare_hash(std::string_view text, const std::optional<HashAlgo>& algo) {
  if (algo && *algo != HashAlgo::kSha256) return HashValue::parse(*algo, text);
  std::optional<HashAlgo> a = algo_from_hex_length(text.size(), algo.value_or(HashAlgo::kPdq));
  if (!a) {
    throw InvalidArgument("'" + printable(text) +
                          "' is not a hash: " + std::to_string(text.size()) +
                          " characters (32 hex digits are MD5, 40 SHA-1, 64 PDQ or SHA-256)");
  }
  return HashValue::parse(*a, text);
}

// ---------------------------------------------------------------------------------------------
// Format detection

namespace {

bool is_word(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') return false;
  }
  return true;
}

bool names_a_hash_column(std::string_view line, char delimiter);  // below, with the CSV reader

}  // namespace

ListFormat detect_format(std::string_view head) {
  if (head.size() >= 3 && std::memcmp(head.data(), "\xEF\xBB\xBF", 3) == 0) head.remove_prefix(3);
  std::size_t i = 0;
  while (i < head.size() && std::isspace(static_cast<unsigned char>(head[i]))) ++i;
  if (i < head.size() && head[i] == '<') return ListFormat::kNcmec;
  if (i < head.size() && (head[i] == '{' || head[i] == '[')) return ListFormat::kVics;
  // The first line that is neither blank nor a comment.
  std::string_view line;
  while (i < head.size()) {
    std::size_t e = head.find('\n', i);
    if (e == std::string_view::npos) e = head.size();
    std::string_view l = trim(head.substr(i, e - i));
    i = e + 1;
    // A '#' line is a comment, unless it is a header with a '#' column (a spreadsheet's row
    // numbers), as the CSV reader takes it.
    if (l.empty() || (l[0] == '#' && !names_a_hash_column(
                                         l, l.find('\t') != std::string_view::npos ? '\t' : ','))) {
      continue;
    }
    line = l;
    break;
  }
  if (line.empty()) return ListFormat::kLines;
  if (const std::size_t tab = line.find('\t'); tab != std::string_view::npos) {
    // "<type><TAB><hash>" is a TE line (a TSV header holds no hash).
    const std::string_view first = trim(line.substr(0, tab)), rest = trim(line.substr(tab + 1));
    if (is_word(first) && !is_hex(first) && rest.find('\t') == std::string_view::npos &&
        is_hex(rest) && algo_from_hex_length(rest.size())) {
      return ListFormat::kTe;
    }
    return ListFormat::kTsv;
  }
  if (line.find(',') != std::string_view::npos || line.find('"') != std::string_view::npos) {
    return ListFormat::kCsv;
  }
  const std::size_t sp = line.find_first_of(" ");
  if (sp != std::string_view::npos) {
    const std::string_view first = line.substr(0, sp);
    // "<type> <value>": the type is a word that is not itself a hash.
    if (is_word(first) && !(is_hex(first) && algo_from_hex_length(first.size()))) {
      return ListFormat::kTe;
    }
    return ListFormat::kLines;
  }
  // One token: a hash (lines) or a one-column header such as "md5" (csv).
  if (is_hex(line) && algo_from_hex_length(line.size())) return ListFormat::kLines;
  if (is_word(line) && !is_hex(line)) return ListFormat::kCsv;
  return ListFormat::kLines;
}

// ---------------------------------------------------------------------------------------------
// ThreatExchange / HMA file signals

void parse_te(std::istream& in, ImportSession& s, const ImportOptions& opts) {
  LineReader reader(in, opts.max_line_bytes);
  std::string raw;
  while (reader.next(raw)) {
    const std::string origin = "line " + std::to_string(reader.line());
    std::string_view line = trim(raw);
    if (line.empty() || line[0] == '#') continue;
    s.count_record();
    const std::size_t sp = line.find_first_of(" \t");
    if (sp == std::string_view::npos) {
      throw InvalidArgument(origin + ": expected '<type> <value>', got '" +
                            std::string(line.substr(0, 80)) + "'");
    }
    const std::string type = lower(line.substr(0, sp));
    const std::string_view value = trim(line.substr(sp + 1));
    if (value.find_first_of(" \t") != std::string_view::npos) {
      throw InvalidArgument(origin + ": expected '<type> <value>', got more than two fields");
    }
    NewEntry e;
    e.labels = opts.defaults;
    HashAlgo algo;
    if (type == "pdq") {
      algo = HashAlgo::kPdq;
    } else if (type == "md5" || type == "photo_md5" || type == "video_md5") {
      algo = HashAlgo::kMd5;
      if (type != "md5") e.labels.tags.push_back(type);
    } else if (type == "sha1" || type == "photo_sha1" || type == "video_sha1") {
      algo = HashAlgo::kSha1;
      if (type != "sha1") e.labels.tags.push_back(type);
    } else if (type == "sha256" || type == "photo_sha256" || type == "video_sha256") {
      algo = HashAlgo::kSha256;
      if (type != "sha256") e.labels.tags.push_back(type);
    } else {
      throw InvalidArgument(
          origin + ": unknown signal type '" + std::string(type.substr(0, 40)) +
          "' (supported: pdq, md5, sha1, sha256, and photo_/video_ md5, sha1, sha256)");
    }
    std::string why;
    if (!HashValue::try_parse(algo, value, &e.hash, &why))
      throw InvalidArgument(origin + ": " + why);
    s.add(e, origin);
  }
}

// ---------------------------------------------------------------------------------------------
// One hash per line

void parse_lines(std::istream& in, ImportSession& s, const ImportOptions& opts) {
  LineReader reader(in, opts.max_line_bytes);
  std::string raw;
  while (reader.next(raw)) {
    const std::string origin = "line " + std::to_string(reader.line());
    std::string_view line = trim(raw);
    if (line.empty() || line[0] == '#') continue;
    s.count_record();
    NewEntry e;
    e.labels = opts.defaults;
    try {
      e.hash = parse_bare_hash(line, opts.algo);
    } catch (const InvalidArgument& err) {
      throw InvalidArgument(origin + ": " + err.what());
    }
    s.add(e, origin);
  }
}

// ---------------------------------------------------------------------------------------------
// CSV / TSV (RFC 4180)

namespace {

enum class Col { kIgnore, kHash, kAlgo, kId, kCategory, kSource, kTags, kAlgoHash };

struct Column {
  Col role = Col::kIgnore;
  HashAlgo algo = HashAlgo::kPdq;  // for kAlgoHash
};

Column classify(std::string_view name) {
  std::string n = lower(trim(name));
  if (n.size() >= 2 && n.front() == '"') n = n.substr(1, n.size() - 2);
  std::string squeezed;
  for (char c : n) {
    if (c != '_' && c != '-' && c != ' ') squeezed += c;
  }
  if (squeezed == "hash" || squeezed == "value" || squeezed == "signal" ||
      squeezed == "signalvalue" || squeezed == "hashvalue" || squeezed == "indicator") {
    return {Col::kHash};
  }
  if (squeezed == "algo" || squeezed == "algorithm" || squeezed == "type" ||
      squeezed == "signaltype" || squeezed == "hashtype" || squeezed == "hashname") {
    return {Col::kAlgo};
  }
  if (squeezed == "id" || squeezed == "externalid" || squeezed == "extid" ||
      squeezed == "recordid" || squeezed == "mediaid" || squeezed == "entryid") {
    return {Col::kId};
  }
  if (squeezed == "category" || squeezed == "classification" || squeezed == "class") {
    return {Col::kCategory};
  }
  if (squeezed == "source") return {Col::kSource};
  if (squeezed == "tags" || squeezed == "tag" || squeezed == "labels") return {Col::kTags};
  for (const char* suffix : {"", "hash"}) {
    for (HashAlgo a : {HashAlgo::kPdq, HashAlgo::kMd5, HashAlgo::kSha1, HashAlgo::kSha256}) {
      const std::string an = std::string(algo_name(a));
      if (squeezed == an + suffix || squeezed == std::string(suffix) + an)
        return {Col::kAlgoHash, a};
    }
  }
  return {Col::kIgnore};
}

// Whether a '#' line before the header is the header: its first cell is '#' or '#' and a word
// (a spreadsheet's row-number column: "#,id,md5", "#id,md5"; not a comment such as
// "# exported, md5") and some cell names a hash column.
bool names_a_hash_column(std::string_view line, char delimiter) {
  line = trim(line);
  const std::string_view first = trim(line.substr(0, std::min(line.find(delimiter), line.size())));
  const std::string_view unquoted = first.size() >= 2 && first.front() == '"' && first.back() == '"'
                                        ? first.substr(1, first.size() - 2)
                                        : first;
  if (unquoted.empty() || unquoted.front() != '#' ||
      !std::all_of(unquoted.begin() + 1, unquoted.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
      })) {
    return false;
  }
  std::size_t b = 0;
  for (;;) {
    const std::size_t e = std::min(line.find(delimiter, b), line.size());
    const Col r = classify(trim(line.substr(b, e - b))).role;
    if (r == Col::kHash || r == Col::kAlgoHash) return true;
    if (e == line.size()) return false;
    b = e + 1;
  }
}

std::vector<std::string> split_tag_field(std::string_view f) {
  std::vector<std::string> out;
  std::size_t b = 0;
  while (b <= f.size()) {
    std::size_t e = f.find_first_of(";|", b);
    if (e == std::string_view::npos) e = f.size();
    std::string_view t = trim(f.substr(b, e - b));
    if (!t.empty()) out.emplace_back(t);
    b = e + 1;
  }
  return out;
}

// An algorithm named in an "algo" cell: "pdq", "md5", "sha1", "sha256", and the TE names.
std::optional<HashAlgo> algo_cell(std::string_view cell) {
  const std::string l = lower(trim(cell));
  if (auto a = parse_algo(l)) return a;
  if (l == "photo_md5" || l == "video_md5") return HashAlgo::kMd5;
  return std::nullopt;
}

}  // namespace

void parse_delimited(std::istream& in, char delimiter, ImportSession& s,
                     const ImportOptions& opts) {
  import_detail::CsvReader reader(in, delimiter, opts.max_line_bytes);
  std::vector<std::string> fields;
  reader.skip_preamble(
      [delimiter](std::string_view line) { return names_a_hash_column(line, delimiter); });
  if (!reader.next(fields)) throw InvalidArgument("empty file: expected a header row");
  const std::string header_at = "line " + std::to_string(reader.record_line());
  std::vector<Column> cols;
  bool any_hash = false;
  for (std::size_t i = 0; i < fields.size(); ++i) {
    std::string_view name = fields[i];
    if (i == 0 && name.size() >= 3 && std::memcmp(name.data(), "\xEF\xBB\xBF", 3) == 0) {
      name.remove_prefix(3);
    }
    // A header cell that is itself a hash: the first row is data (a header such as "pdq" before
    // it would have been taken as a TE line "pdq<TAB>hex" otherwise, and the hash lost).
    if (is_hex(trim(name)) && algo_from_hex_length(trim(name).size())) {
      throw InvalidArgument(header_at + ": the header row holds a hash ('" +
                            std::string(trim(name).substr(0, 16)) +
                            "...'): the file has no header row; import a '<type> <hash>' file "
                            "with --format te, one hash per line with --format lines");
    }
    cols.push_back(classify(name));
    any_hash |= cols.back().role == Col::kHash || cols.back().role == Col::kAlgoHash;
  }
  if (!any_hash) {
    std::string msg = header_at +
                      ": the header has no hash column (expected one of hash, value, "
                      "signal, pdq, md5, sha1, sha256)";
    if (!fields.empty() && is_hex(trim(fields[0])) &&
        algo_from_hex_length(trim(fields[0]).size())) {
      msg += "; the first row looks like data: add a header row, or import with --format lines";
    }
    throw InvalidArgument(msg);
  }
  while (reader.next(fields)) {
    const std::string origin = "line " + std::to_string(reader.record_line());
    if (fields.size() == 1 && trim(fields[0]).empty()) continue;  // blank line
    if (fields.size() != cols.size()) {
      throw InvalidArgument(origin + ": " + std::to_string(fields.size()) +
                            " fields, the header has " + std::to_string(cols.size()));
    }
    s.count_record();
    Labels labels = opts.defaults;
    std::string id;
    std::optional<HashAlgo> row_algo = opts.algo;
    for (std::size_t i = 0; i < cols.size(); ++i) {
      const std::string_view f = trim(fields[i]);
      switch (cols[i].role) {
        case Col::kId:
          id = std::string(f);
          break;
        case Col::kCategory:
          if (!f.empty()) labels.category = std::string(f);
          break;
        case Col::kSource:
          if (!f.empty()) labels.source = std::string(f);
          break;
        case Col::kTags:
          for (std::string& t : split_tag_field(f)) labels.tags.push_back(std::move(t));
          break;
        case Col::kAlgo:
          if (!f.empty()) {
            row_algo = algo_cell(f);
            if (!row_algo) {
              throw InvalidArgument(origin + ": unknown algorithm '" +
                                    std::string(f.substr(0, 40)) +
                                    "' (expected pdq, md5, sha1 or sha256)");
            }
          }
          break;
        default:
          break;
      }
    }
    std::vector<NewEntry> record;
    for (std::size_t i = 0; i < cols.size(); ++i) {
      const std::string_view f = trim(fields[i]);
      if (f.empty()) continue;
      NewEntry e;
      e.id = id;
      e.labels = labels;
      try {
        if (cols[i].role == Col::kHash) {
          e.hash = parse_bare_hash(f, row_algo);
        } else if (cols[i].role == Col::kAlgoHash) {
          e.hash = HashValue::parse(cols[i].algo, f);
        } else {
          continue;
        }
      } catch (const InvalidArgument& err) {
        throw InvalidArgument(origin + ": " + err.what());
      }
      for (const NewEntry& o : record) {
        if (o.hash.algo == e.hash.algo && !id.empty()) {
          throw InvalidArgument(origin + ": two " + std::string(algo_name(e.hash.algo)) +
                                " values for one id");
        }
      }
      record.push_back(std::move(e));
    }
    if (record.empty()) throw InvalidArgument(origin + ": no hash value in this row");
    if (id.empty()) {
      for (const NewEntry& e : record) s.add(e, origin);  // each gets its own generated id
    } else {
      s.add_record(record, origin);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Export

namespace {

// RFC 4180: quote a field holding the delimiter, a quote or a line break.
std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + '"';
}

}  // namespace

void export_list(ListStore& store, const std::string& list, ListFormat format, std::ostream& out) {
  if (format != ListFormat::kCsv && format != ListFormat::kTe) {
    throw InvalidArgument("lists export as csv or te, not " + std::string(format_name(format)));
  }
  store.get_list(list);
  if (format == ListFormat::kCsv) out << "id,algo,hash,category,source,tags,added\n";
  std::string tags;
  store.for_each_entry(list, [&](const StoredEntry& e) {
    if (format == ListFormat::kTe) {
      out << algo_name(e.hash.algo) << ' ' << e.hash.to_hex() << '\n';
      return;
    }
    tags.clear();
    for (const std::string& t : e.labels.tags) {
      if (!tags.empty()) tags += ';';
      tags += t;
    }
    out << csv_field(e.id) << ',' << algo_name(e.hash.algo) << ',' << e.hash.to_hex() << ','
        << csv_field(e.labels.category) << ',' << csv_field(e.labels.source) << ','
        << csv_field(tags) << ',' << format_utc(e.added_at) << '\n';
  });
  out.flush();
  if (!out) throw IoError("write error while exporting list '" + list + "'");
}

// ---------------------------------------------------------------------------------------------
// Dispatch

namespace {

// A streambuf that yields `head` and then the rest of `rest`: format detection reads the first
// bytes of a stream that may not be seekable (standard input).
class ChainBuf : public std::streambuf {
 public:
  ChainBuf(std::string head, std::istream& rest) : head_(std::move(head)), rest_(rest) {
    setg(head_.data(), head_.data(), head_.data() + head_.size());
  }

 protected:
  int_type underflow() override {
    if (gptr() < egptr()) return traits_type::to_int_type(*gptr());
    if (!rest_.good()) return traits_type::eof();
    rest_.read(buf_, sizeof buf_);
    const std::streamsize n = rest_.gcount();
    if (n <= 0) return traits_type::eof();
    setg(buf_, buf_, buf_ + n);
    return traits_type::to_int_type(*gptr());
  }

 private:
  std::string head_;
  std::istream& rest_;
  char buf_[1 << 16];
};

}  // namespace

ImportSummary import_stream(ListStore& store, const std::string& list, std::istream& in,
                            const std::string& source_name, const ImportOptions& opts) {
  std::string head(1 << 16, '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<std::size_t>(std::max<std::streamsize>(in.gcount(), 0)));
  if (in.bad()) throw IoError("cannot read " + source_name);
  ListFormat format = opts.format == ListFormat::kAuto ? detect_format(head) : opts.format;
  auto chain = std::make_unique<ChainBuf>(std::move(head), in);
  std::istream src(chain.get());

  auto session = store.begin_import(list, source_name, std::string(format_name(format)));
  try {
    switch (format) {
      case ListFormat::kTe:
        parse_te(src, *session, opts);
        break;
      case ListFormat::kCsv:
        parse_delimited(src, ',', *session, opts);
        break;
      case ListFormat::kTsv:
        parse_delimited(src, '\t', *session, opts);
        break;
      case ListFormat::kLines:
        parse_lines(src, *session, opts);
        break;
      case ListFormat::kVics:
        parse_vics(src, *session, opts);
        break;
      case ListFormat::kNcmec:
        parse_ncmec(src, *session, opts);
        break;
      case ListFormat::kAuto:
        break;
    }
    if (in.bad()) throw IoError("read error in " + source_name);
  } catch (const InvalidArgument& e) {
    throw InvalidArgument(source_name + " (" + std::string(format_name(format)) + "): " + e.what() +
                          "; nothing was imported");
  }
  return session->commit();
}

ImportSummary import_file(ListStore& store, const std::string& list, const std::string& path,
                          const ImportOptions& opts) {
  if (path == "-") return import_stream(store, list, std::cin, "<stdin>", opts);
  std::ifstream f(path, std::ios::binary);
  if (!f) throw IoError("cannot open " + path + ": " + std::strerror(errno));
  return import_stream(store, list, f, path, opts);
}

}  // namespace hashmatch
