#include "host/scan/scan_items.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <iostream>

#include "host/common/error.h"

namespace hashmatch::scan {

uint64_t fnv1a64(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (const char c : s) {
    h ^= static_cast<uint8_t>(c);
    h *= 0x100000001b3ull;
  }
  return h;
}

uint32_t shard_of(std::string_view key, uint32_t n) {
  uint64_t z = fnv1a64(key);
  // splitmix64 finalizer: spreads FNV's weak low bits before the modulo.
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z = z ^ (z >> 31);
  return n <= 1 ? 0 : static_cast<uint32_t>(z % n);
}

std::string Shard::to_string() const {
  return std::to_string(index) + "/" + std::to_string(count);
}

Shard parse_shard(std::string_view s) {
  const auto slash = s.find('/');
  auto bad = [&](const std::string& why) {
    return InvalidArgument("--shard must be i/n with 0 <= i < n (0-based), got '" + std::string(s) +
                           "'" + (why.empty() ? "" : ": " + why));
  };
  if (slash == std::string_view::npos) throw bad("");
  uint64_t i = 0, n = 0;
  const std::string_view a = s.substr(0, slash), b = s.substr(slash + 1);
  auto r1 = std::from_chars(a.data(), a.data() + a.size(), i);
  auto r2 = std::from_chars(b.data(), b.data() + b.size(), n);
  if (a.empty() || b.empty() || r1.ec != std::errc() || r1.ptr != a.data() + a.size() ||
      r2.ec != std::errc() || r2.ptr != b.data() + b.size()) {
    throw bad("");
  }
  if (n < 1 || n > 1'000'000) throw bad("n must be in 1..1000000");
  if (i >= n) throw bad("the index is 0-based: the last shard of " + std::to_string(n) + " is " +
                        std::to_string(n - 1) + "/" + std::to_string(n));
  return Shard{static_cast<uint32_t>(i), static_cast<uint32_t>(n)};
}

void ItemList::add(std::string_view path, std::string_view error) {
  Entry e{arena_.size(), static_cast<uint32_t>(path.size()), static_cast<uint32_t>(error.size())};
  arena_.append(path);
  arena_.append(error);
  offsets_.push_back(e);
}

std::string_view ItemList::path(std::size_t i) const {
  const Entry& e = offsets_.at(i);
  return std::string_view(arena_).substr(e.off, e.path_len);
}

std::string_view ItemList::error(std::size_t i) const {
  const Entry& e = offsets_.at(i);
  return std::string_view(arena_).substr(e.off + e.path_len, e.error_len);
}

namespace {

struct Walker {
  const Shard& shard;
  WalkStats& st;
  ItemList& out;
  void (*on_progress)(const WalkStats&);

  void emit(std::string_view path, std::string_view key, std::string_view error) {
    ++st.files;
    if (!error.empty()) ++st.errors;
    if (shard.all() || shard_of(key, shard.count) == shard.index) {
      out.add(path, error);
      ++st.kept;
    }
    if (on_progress && (st.files & 0xffff) == 0) on_progress(st);
  }

  // The names in `dir` (without . and ..), sorted bytewise; false with errno message on failure.
  static bool list_dir(const std::string& dir, std::vector<std::pair<std::string, unsigned char>>* names,
                       std::string* err) {
    DIR* d = ::opendir(dir.c_str());
    if (!d) {
      *err = std::string("cannot read directory: ") + std::strerror(errno);
      return false;
    }
    for (;;) {
      errno = 0;
      dirent* e = ::readdir(d);
      if (!e) {
        if (errno != 0) {
          *err = std::string("error while reading directory: ") + std::strerror(errno);
          ::closedir(d);
          return false;
        }
        break;
      }
      if (!std::strcmp(e->d_name, ".") || !std::strcmp(e->d_name, "..")) continue;
      names->emplace_back(e->d_name, e->d_type);
    }
    ::closedir(d);
    std::sort(names->begin(), names->end());
    return true;
  }

  // Depth-first walk of `root` with sorted entries; an explicit stack (deep trees are fine).
  void walk(const std::string& root) {
    struct Frame {
      std::string rel;  // relative directory ("" for the root)
      std::vector<std::pair<std::string, unsigned char>> names;
      std::size_t next = 0;
    };
    const std::string base = (root.size() > 1 && root.back() == '/') ? root.substr(0, root.size() - 1)
                                                                      : root;
    auto full = [&](const std::string& rel) { return rel.empty() ? base : base + "/" + rel; };
    std::vector<Frame> stack;
    auto open = [&](std::string rel) {
      Frame f;
      f.rel = std::move(rel);
      std::string err;
      ++st.directories;
      if (!list_dir(full(f.rel), &f.names, &err)) {
        emit(full(f.rel), f.rel.empty() ? std::string_view(root) : std::string_view(f.rel), err);
        return;
      }
      stack.push_back(std::move(f));
    };
    open("");
    while (!stack.empty()) {
      Frame& f = stack.back();
      if (f.next >= f.names.size()) {
        stack.pop_back();
        continue;
      }
      const auto& [name, dtype] = f.names[f.next++];
      std::string rel = f.rel.empty() ? name : f.rel + "/" + name;
      const std::string path = full(rel);
      unsigned char type = dtype;
      if (type == DT_UNKNOWN) {
        struct stat s {};
        if (::lstat(path.c_str(), &s) != 0) {
          emit(path, rel, std::string("cannot stat: ") + std::strerror(errno));
          continue;
        }
        type = S_ISDIR(s.st_mode) ? DT_DIR : S_ISREG(s.st_mode) ? DT_REG : S_ISLNK(s.st_mode) ? DT_LNK
                                                                                          : DT_FIFO;
      }
      if (type == DT_DIR) {
        open(std::move(rel));  // may invalidate `f`
        continue;
      }
      if (type == DT_LNK) {
        struct stat s {};
        if (::stat(path.c_str(), &s) != 0) {
          emit(path, rel, std::string("broken symbolic link: ") + std::strerror(errno));
          continue;
        }
        if (!S_ISREG(s.st_mode)) {  // links to directories are not followed
          ++st.skipped_special;
          continue;
        }
        type = DT_REG;
      }
      if (type != DT_REG) {
        ++st.skipped_special;
        continue;
      }
      emit(path, rel, {});
    }
  }

  void input(const std::string& p) {
    ++st.inputs;
    struct stat s {};
    if (::stat(p.c_str(), &s) != 0) {
      emit(p, p, errno == ENOENT ? "no such file or directory"
                                 : std::string("cannot stat: ") + std::strerror(errno));
      return;
    }
    if (S_ISDIR(s.st_mode)) {
      walk(p);
    } else if (S_ISREG(s.st_mode)) {
      emit(p, p, {});
    } else {
      emit(p, p, "not a regular file");
    }
  }
};

}  // namespace

std::vector<std::string> read_manifest_lines(std::istream& in) {
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    lines.push_back(std::move(line));
  }
  return lines;
}

ItemList build_items(const std::vector<std::string>& paths, const std::vector<std::string>& manifests,
                     const Shard& shard, WalkStats* stats, void (*on_progress)(const WalkStats&)) {
  WalkStats local;
  WalkStats& st = stats ? *stats : local;
  ItemList out;
  Walker w{shard, st, out, on_progress};
  for (const std::string& p : paths) w.input(p);
  for (const std::string& m : manifests) {
    std::vector<std::string> lines;
    if (m == "-") {
      lines = read_manifest_lines(std::cin);
    } else {
      std::ifstream f(m, std::ios::binary);
      if (!f) throw IoError("cannot open manifest '" + m + "': " + std::strerror(errno));
      lines = read_manifest_lines(f);
      if (f.bad()) throw IoError("error reading manifest '" + m + "'");
    }
    // Manifest lines are items as they are, not looked at now (a manifest of millions of paths on
    // a slow store is not stat'ed twice): a missing file is an error when its turn comes.
    for (const std::string& l : lines) {
      ++st.inputs;
      w.emit(l, l, {});
    }
  }
  return out;
}

}  // namespace hashmatch::scan
