// hashmatch list create|import|export|stats|remove|drop
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "host/cli/args.h"
#include "host/cli/commands.h"
#include "host/common/error.h"
#include "host/lists/commands.h"
#include "host/lists/importers.h"
#include "host/lists/list_store.h"

namespace hashmatch::cli {
namespace {

constexpr const char* kUsage =
    "usage: hashmatch list <action> --db PATH [options]\n"
    "actions:\n"
    "  create --db PATH --list NAME [--threshold T]\n"
    "      creates a list (PDQ threshold T, default 31, inclusive); on an existing list sets the\n"
    "      threshold when given. Prints {\"list\", \"threshold\", \"created\"}.\n"
    "  import --db PATH --list NAME [--format te|csv|tsv|lines|vics|ncmec] [--algo A]\n"
    "         [--source S] [--category C] [--tag T]... FILE...\n"
    "      imports each FILE ('-': standard input) in one transaction (all or nothing); the list\n"
    "      is created on first import. The format is detected from the content unless given.\n"
    "      Values that do not say their algorithm: 32 hex digits MD5, 40 SHA-1, 64 PDQ unless\n"
    "      --algo sha256. --source/--category/--tag label entries whose file gives none.\n"
    "      Prints one JSON summary per file: list, format, source, records, imported, removed,\n"
    "      duplicates, skipped.\n"
    "  export --db PATH --list NAME [--format csv|te]\n"
    "      writes the list to standard output: CSV (id,algo,hash,category,source,tags,added; the\n"
    "      csv importer reads it back) or ThreatExchange '<type> <value>' lines.\n"
    "  stats --db PATH [--list NAME]\n"
    "      JSON: per list the threshold, entries per algorithm, records (distinct ids), times.\n"
    "  remove --db PATH --list NAME (--id ID... | --all)\n"
    "      removes the entries with these ids (every fingerprint of the record), or all entries.\n"
    "  drop --db PATH --list NAME\n"
    "      deletes the list and its entries.\n";

std::string required(const Args& a, const std::string& name) {
  auto v = a.get(name);
  if (!v || v->empty()) throw InvalidArgument("--" + name + " is required");
  return *v;
}

void print_json(const nlohmann::ordered_json& j) {
  std::cout << j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << '\n';
  std::cout.flush();
}

nlohmann::ordered_json stats_json(const ListStats& s) {
  nlohmann::ordered_json j;
  j["list"] = s.info.name;
  j["threshold"] = s.info.threshold;
  j["entries"] = s.entries;
  j["records"] = s.records;
  for (int a = 0; a < kNumHashAlgos; ++a)
    j[std::string(algo_name(static_cast<HashAlgo>(a)))] = s.by_algo[a];
  j["videos"] = s.videos;
  j["video_frames"] = s.video_frames;
  j["created"] = format_utc(s.info.created_at);
  j["last_added"] = s.last_added ? nlohmann::ordered_json(format_utc(s.last_added))
                                 : nlohmann::ordered_json(nullptr);
  j["generation"] = s.info.generation;
  return j;
}

int do_create(const Argv& argv) {
  Args a(argv, {"db", "list", "threshold"}, {});
  const std::string db = required(a, "db"), name = required(a, "list");
  ListStore store(db);
  const auto t = a.get("threshold");
  const int threshold = static_cast<int>(a.get_int("threshold", kDefaultPdqThreshold, 0, 256));
  bool created = false;
  if (store.find_list(name)) {
    if (t) store.set_threshold(name, threshold);
  } else {
    store.create_list(name, threshold);
    created = true;
  }
  const ListInfo l = store.get_list(name);
  print_json({{"list", l.name}, {"threshold", l.threshold}, {"created", created}});
  return 0;
}

int do_import(const Argv& argv) {
  Args a(argv, {"db", "list", "format", "algo", "source", "category", "tag"}, {});
  const std::string db = required(a, "db"), name = required(a, "list");
  ImportOptions opts;
  if (auto f = a.get("format")) {
    auto pf = parse_format(*f);
    if (!pf)
      throw InvalidArgument("--format must be te, csv, tsv, lines, vics or ncmec, got '" + *f +
                            "'");
    opts.format = *pf;
  }
  if (auto al = a.get("algo")) {
    opts.algo = parse_algo(*al);
    if (!opts.algo)
      throw InvalidArgument("--algo must be pdq, md5, sha1 or sha256, got '" + *al + "'");
  }
  opts.defaults.source = a.get_or("source", "");
  opts.defaults.category = a.get_or("category", "");
  opts.defaults.tags = a.get_all("tag");
  if (a.positional().empty())
    throw InvalidArgument("no FILE to import (use '-' for standard input)");
  if (!valid_list_name(name)) {
    throw InvalidArgument(
        "invalid list name '" + name +
        "': use 1-64 letters, digits, '_', '-' or '.', starting with a letter or digit");
  }
  ListStore store(db);
  int failed = 0;
  for (const std::string& file : a.positional()) {
    try {
      const ImportSummary s = import_file(store, name, file, opts);
      print_json({{"list", s.list},
                  {"format", s.format},
                  {"source", file},
                  {"records", s.records},
                  {"imported", s.imported},
                  {"removed", s.removed},
                  {"duplicates", s.duplicates},
                  {"skipped", s.skipped}});
    } catch (const std::exception& e) {
      ++failed;
      std::fprintf(stderr, "hashmatch list import: %s\n", e.what());
      print_json({{"list", name}, {"source", file}, {"error", e.what()}});
    }
  }
  return failed ? 1 : 0;
}

int do_export(const Argv& argv) {
  Args a(argv, {"db", "list", "format"}, {});
  const std::string db = required(a, "db"), name = required(a, "list");
  const std::string format = a.get_or("format", "csv");
  if (format != "csv" && format != "te") {
    throw InvalidArgument("--format must be csv or te, got '" + format + "'");
  }
  ListStore store(db, /*create=*/false, /*cache_mib=*/8);
  export_list(store, name, format == "te" ? ListFormat::kTe : ListFormat::kCsv, std::cout);
  // Listed videos are frame-hash sequences that neither format carries (their md5/sha1/sha256
  // entries are exported): said, so that an export is not taken for a complete copy.
  if (const int64_t videos = store.stats(name).videos; videos > 0) {
    std::fprintf(stderr,
                 "hashmatch list export: list '%s' also holds %lld listed video(s) whose vPDQ "
                 "frame hashes are not in this export ('hashmatch video export' writes them)\n",
                 name.c_str(), static_cast<long long>(videos));
  }
  return 0;
}

int do_stats(const Argv& argv) {
  Args a(argv, {"db", "list"}, {});
  const std::string db = required(a, "db");
  ListStore store(db, /*create=*/false, /*cache_mib=*/8);
  if (auto name = a.get("list")) {
    print_json(stats_json(store.stats(*name)));
    return 0;
  }
  nlohmann::ordered_json lists = nlohmann::ordered_json::array();
  int64_t total = 0;
  for (const ListStats& s : store.stats_all()) {
    lists.push_back(stats_json(s));
    total += s.entries;
  }
  print_json({{"db", db}, {"version", store.version()}, {"entries", total}, {"lists", lists}});
  return 0;
}

int do_remove(const Argv& argv) {
  Args a(argv, {"db", "list", "id"}, {"all"});
  const std::string db = required(a, "db"), name = required(a, "list");
  const std::vector<std::string> ids = a.get_all("id");
  if (ids.empty() == !a.flag("all"))
    throw InvalidArgument("give either --id ID (repeatable) or --all");
  ListStore store(db, /*create=*/false, /*cache_mib=*/8);
  int64_t removed = 0;
  if (a.flag("all")) {
    removed = store.remove_all(name);
  } else {
    for (const std::string& id : ids) removed += store.remove_id(name, id);
  }
  print_json({{"list", name}, {"removed", removed}});
  return 0;
}

int do_drop(const Argv& argv) {
  Args a(argv, {"db", "list"}, {});
  const std::string db = required(a, "db"), name = required(a, "list");
  ListStore store(db, /*create=*/false, /*cache_mib=*/8);
  const ListStats s = store.stats(name);
  store.drop_list(name);
  print_json({{"list", name},
              {"dropped", true},
              {"removed", s.entries + s.videos},
              {"entries", s.entries},
              {"videos", s.videos}});
  return 0;
}

}  // namespace

int cmd_list(const Argv& argv) {
  if (argv.empty() || argv[0] == "--help" || argv[0] == "-h" || argv[0] == "help") {
    std::fprintf(argv.empty() ? stderr : stdout, "%s", kUsage);
    return argv.empty() ? 2 : 0;
  }
  const std::string action = argv[0];
  const Argv rest(argv.begin() + 1, argv.end());
  for (const std::string& s : rest) {
    if (s == "--help" || s == "-h") {
      std::printf("%s", kUsage);
      return 0;
    }
  }
  if (action == "create") return do_create(rest);
  if (action == "import") return do_import(rest);
  if (action == "export") return do_export(rest);
  if (action == "stats") return do_stats(rest);
  if (action == "remove") return do_remove(rest);
  if (action == "drop") return do_drop(rest);
  throw InvalidArgument("unknown action '" + action +
                        "' (create, import, export, stats, remove, drop; --help for usage)");
}

}  // namespace hashmatch::cli
