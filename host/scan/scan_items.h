// The items of a bulk scan: walking directories and reading manifests into one deterministic,
// ordered list of paths, and splitting it into shards.
//
// Order: inputs in the order given; a directory is walked depth-first with the entries of every
// directory sorted by name (bytewise), so the same tree always gives the same order. Symbolic links
// to directories are not followed (no loops); links to files are items. Only regular files (or
// links to them) are items; FIFOs, sockets and devices are left out. A path that does not exist and
// a directory that cannot be read become items of their own that carry the error (so every input is
// accounted for in the results).
//
// Shard key: the path relative to the walked directory for files found by walking ("a/b.jpg"), the
// path exactly as given for file arguments and manifest lines. So two machines that mount the same
// store at different places agree on the shards as long as they pass the same inputs.
// Shard rule (docs/scan.md): item belongs to shard i of n iff shard_of(key, n) == i, where
// shard_of = splitmix64_finalizer(fnv1a64(key bytes)) mod n.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

namespace hashmatch::scan {

// 64-bit FNV-1a over the bytes of `s` (offset basis 0xcbf29ce484222325, prime 0x100000001b3).
uint64_t fnv1a64(std::string_view s);
// The shard (0..n-1) a key belongs to: splitmix64 finalizer of fnv1a64(key), modulo n.
uint32_t shard_of(std::string_view key, uint32_t n);

struct Shard {
  uint32_t index = 0;  // 0-based
  uint32_t count = 1;
  bool all() const { return count == 1; }
  std::string to_string() const;  // "i/n"
};
// Parses "i/n" with 0 <= i < n (0-based: shards 0/4, 1/4, 2/4, 3/4). Throws InvalidArgument.
Shard parse_shard(std::string_view s);

struct Item {
  std::string path;   // what is opened (and printed as "path")
  std::string error;  // non-empty: the item could not be listed ("no such file or directory")
};

// An ordered list of items. Kept compact (one string arena); a backlog of 10 M files takes about
// (mean path length + 16) bytes per file.
class ItemList {
 public:
  void add(std::string_view path, std::string_view error = {});
  std::size_t size() const { return offsets_.size(); }
  bool empty() const { return offsets_.empty(); }
  std::string_view path(std::size_t i) const;
  std::string_view error(std::size_t i) const;  // empty for a normal item
  Item item(std::size_t i) const { return {std::string(path(i)), std::string(error(i))}; }
  uint64_t bytes() const { return arena_.size(); }

 private:
  struct Entry {
    uint64_t off;
    uint32_t path_len;
    uint32_t error_len;
  };
  std::string arena_;
  std::vector<Entry> offsets_;
};

struct WalkStats {
  uint64_t inputs = 0;       // paths given and manifest lines read
  uint64_t directories = 0;  // directories walked
  uint64_t files = 0;        // items found (before sharding)
  uint64_t skipped_special = 0;  // FIFOs, sockets, devices left out
  uint64_t errors = 0;       // items that carry an error
  uint64_t kept = 0;         // items in this shard
};

// Builds the item list from paths (files or directories) and manifest files (one path per line;
// blank lines skipped, a trailing '\r' removed, relative paths relative to the current directory;
// "-" reads standard input; each line is one file item, taken as it is without looking at the
// file system, so a missing file is reported when its turn comes). Paths come first, then the manifests' items. Keeps only the items of
// `shard`. `on_progress` (optional) is called now and then with the stats so far (long walks).
ItemList build_items(const std::vector<std::string>& paths, const std::vector<std::string>& manifests,
                     const Shard& shard, WalkStats* stats = nullptr,
                     void (*on_progress)(const WalkStats&) = nullptr);

// Reads a manifest stream into (path) lines as build_items does.
std::vector<std::string> read_manifest_lines(std::istream& in);

}  // namespace hashmatch::scan
