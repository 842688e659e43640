// hashmatch: GPU hash-matching appliance (PDQ, vPDQ, MD5/SHA) — command-line entry point.
#include <cstdio>
#include <cstring>
#include <exception>
#include <iostream>
#include <string>

#include "host/cli/commands.h"
#include "host/common/error.h"
#ifdef HM_LISTS
#include "host/lists/commands.h"
#endif
#ifdef HM_SCAN
#include "host/scan/commands.h"
#endif
#ifdef HM_TRIAGE
#include "host/triage/commands.h"
#endif
#ifdef HM_SERVER
#include "host/server/serve.h"
#endif
#include "host/version.h"
#ifdef HM_VIDEO
#include "video/vpdq.h"
#endif
#if defined(HM_VIDEO) && defined(HM_LISTS)
#include "video/cmd_video.h"
#endif

namespace hashmatch::cli {

const std::vector<Command>& commands() {
  static const std::vector<Command> cmds = {
      {"info", "version, compiled-in backends and visible GPUs", cmd_info},
      {"hash", "hash files and directories: md5, sha1, sha256, PDQ (JSON lines)", cmd_hash},
#ifdef HM_LISTS
      {"list", "hash lists: create, import (TE, CSV, VICS, NCMEC), export, stats, remove", cmd_list},
      {"match", "match PDQ hashes or files against hash lists (JSON lines)", cmd_match},
#endif
#if defined(HM_VIDEO) && defined(HM_LISTS)
      {"video", "listed videos (vPDQ) and video-level matching: add, remove, match, compare",
       cmd_video},
#endif
#ifdef HM_SCAN
      {"scan", "bulk backlog rescan against hash lists: resumable, shardable (JSON lines)",
       cmd_scan},
      {"bench", "capacity benchmark suite: matcher, PDQ hashing, end-to-end scan (JSON + report)",
       cmd_bench},
#endif
#ifdef HM_TRIAGE
      {"cluster", "near-duplicate clusters, seen-before memory and new-material queue", cmd_cluster},
#endif
#ifdef HM_SERVER
      {"serve", "the matching server: HTTP JSON API, dynamic batching, Prometheus metrics", cmd_serve},
#endif
  };
  return cmds;
}

namespace {
void usage(FILE* out) {
  std::fprintf(out, "hashmatch %s — perceptual and exact hash matching for child-safety work\n\n",
               kVersion);
  std::fprintf(out, "usage: hashmatch <command> [options]\n\ncommands:\n");
  for (const Command& c : commands()) std::fprintf(out, "  %-8s %s\n", c.name, c.summary);
  std::fprintf(out, "\nhashmatch <command> --help for the options of a command\n");
}
}  // namespace

}  // namespace hashmatch::cli

int main(int argc, char** argv) {
  using namespace hashmatch;
  // What was printed must have reached its destination (a full disk, a closed descriptor: 1).
  auto written = [](const char* what, int rc) {
    std::cout.flush();
    if (!std::cout || std::fflush(stdout) != 0 || std::ferror(stdout)) {
      std::fprintf(stderr, "hashmatch%s%s: error: write error on standard output\n",
                   *what ? " " : "", what);
      return rc == 0 ? 1 : rc;
    }
    return rc;
  };
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") ||
      !std::strcmp(argv[1], "help")) {
    cli::usage(argc < 2 ? stderr : stdout);
    return written("", argc < 2 ? 2 : 0);
  }
  if (!std::strcmp(argv[1], "--version")) {
    std::printf("hashmatch %s\n", kVersion);
    return written("", 0);
  }
#ifdef HM_VIDEO
  video::register_video_hasher();  // videos found by content are hashed with vPDQ
#endif
#if defined(HM_VIDEO) && defined(HM_LISTS)
  cli::register_video_list_matcher();  // `match FILES`: video-level matches for videos
#endif
  const std::string name = argv[1];
  cli::Argv args(argv + 2, argv + argc);
  for (const cli::Command& c : cli::commands()) {
    if (name != c.name) continue;
    try {
      // (`match` and `list import` lost their results to a full disk and exited 0.)
      return written(c.name, c.run(args));
    } catch (const InvalidArgument& e) {
      std::fprintf(stderr, "hashmatch %s: %s\n", c.name, e.what());
      return 2;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "hashmatch %s: error: %s\n", c.name, e.what());
      return 1;
    }
  }
  std::fprintf(stderr, "hashmatch: unknown command '%s'\n\n", name.c_str());
  cli::usage(stderr);
  return 2;
}
