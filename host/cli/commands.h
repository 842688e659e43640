// The subcommands of the `hashmatch` executable. Each returns the process exit code.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "host/media/hash_media.h"

namespace hashmatch::cli {

using Argv = std::vector<std::string>;  // arguments after the subcommand name

int cmd_info(const Argv& args);
int cmd_hash(const Argv& args);

// The video (vPDQ) options of `hash`, shared with the commands that hash videos (cmd_hash.cc):
// their names added to a command's Args names, and their parsing (flags over HASHMATCH_VIDEO_*
// over the defaults).
class Args;
void add_video_option_names(std::set<std::string>* values, std::set<std::string>* flags);
void parse_video_options(const Args& args, VideoOptions* v);
// Videos hashed side by side share the cores: with --video-threads left at 0 and several of
// `files` in flight on `jobs` workers, each gets its slice of them (one video alone gets them all).
void share_video_threads(VideoOptions* v, std::size_t files, int jobs);

// Registered by other layers (lists/matching, server, scan, bench); nullptr when not built.
struct Command {
  const char* name;
  const char* summary;
  int (*run)(const Argv& args);
};
const std::vector<Command>& commands();

}  // namespace hashmatch::cli
