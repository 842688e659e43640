// Importers of hash-list files into a ListStore.
//
// Every importer streams its input with bounded memory (one line or record at a time; multi-GB
// files are fine) and runs as one ImportSession: all or nothing. Any error - a bad hex value, a
// wrong length, broken CSV quoting, truncated JSON or XML, a duplicate id - rolls the whole import
// back and throws InvalidArgument whose message names the line or record.
//
// Formats (docs/lists.md has the field mappings and the sources followed):
//   te     ThreatExchange / HMA file signals: "<type> <value>" per line (pdq, md5, photo_md5,
//          video_md5, sha1, sha256); '#' comments and blank lines skipped; unknown types an error.
//   csv    comma-separated with a header row (RFC 4180 quoting): a hash column ("hash", "value",
//          "signal" with an optional "algo" column, or columns named after algorithms: "md5",
//          "sha1", "sha256", "pdq"), optional "id", "category", "source", "tags" columns.
//   tsv    the same, tab-separated.
//   lines  one hash per line.
//   vics   Project VIC VICS JSON 1.x ("odata.metadata") and 2.0 ("@odata.context", "#Media" and
//          "#Cases" wrappers).
//   ncmec  NCMEC hash-sharing XML v2 (<queryResult> with <images>/<videos>); deleted entries
//   remove.
// Where a value does not say its algorithm: 32 hex digits are MD5, 40 SHA-1, 64 PDQ unless
// ImportOptions::algo says SHA-256 (or names the algorithm outright).
#pragma once

#include <istream>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "host/lists/hash_value.h"
#include "host/lists/list_store.h"

namespace hashmatch {

enum class ListFormat { kAuto, kTe, kCsv, kTsv, kLines, kVics, kNcmec };
std::string_view format_name(ListFormat f);  // "auto", "te", "csv", "tsv", "lines", "vics", "ncmec"
std::optional<ListFormat> parse_format(std::string_view s);

struct ImportOptions {
  ListFormat format = ListFormat::kAuto;
  std::optional<HashAlgo> algo;  // how to read values that do not say their algorithm
  Labels defaults;               // labels for entries whose file gives none (tags are added)
  std::size_t max_line_bytes = 1 << 20;  // longer lines (line formats) are an error
};

// The format of a file from its first bytes (`head`, e.g. the first 64 KiB): '<' XML -> ncmec,
// '{' or '[' -> vics, "<word> <value>" -> te, a header with tabs -> tsv, with commas -> csv,
// otherwise lines. A UTF-8 byte-order mark and leading blank lines are skipped.
ListFormat detect_format(std::string_view head);

// Imports `in` into `list` (created when missing) in one transaction. `source_name` names the
// input in the import record and in errors. Returns the summary (format resolved from auto).
ImportSummary import_stream(ListStore& store, const std::string& list, std::istream& in,
                            const std::string& source_name, const ImportOptions& opts);
// Same for a file ("-" reads standard input). Throws IoError when the file cannot be read.
ImportSummary import_file(ListStore& store, const std::string& list, const std::string& path,
                          const ImportOptions& opts);

// Writes a list to `out` (one consistent snapshot, streamed):
//   kCsv  header "id,algo,hash,category,source,tags,added", RFC 4180 quoting, tags joined by ';'
//         (the csv importer reads it back into the same entries);
//   kTe   "<algo> <hex>" lines (ids and labels are not part of that format).
// Throws InvalidArgument for another format or a missing list, IoError when writing fails.
void export_list(ListStore& store, const std::string& list, ListFormat format, std::ostream& out);

// The parsers, feeding an open session (used by import_stream; exposed for tests and tools).
void parse_te(std::istream& in, ImportSession& s, const ImportOptions& opts);
void parse_delimited(std::istream& in, char delimiter, ImportSession& s, const ImportOptions& opts);
void parse_lines(std::istream& in, ImportSession& s, const ImportOptions& opts);
void parse_vics(std::istream& in, ImportSession& s, const ImportOptions& opts);
void parse_ncmec(std::istream& in, ImportSession& s, const ImportOptions& opts);

// Reads a value that does not say its algorithm (see above). Throws InvalidArgument.
HashValue parse_bare_hash(std::string_view text, const std::optional<HashAlgo>& algo);

}  // namespace hashmatch
