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
// their names for Args, and their parsing (flags over HASHMATCH_VIDEO_* over the defaults).
class Args;
const std::set<std::string>& video_value_options();
const std::set<std::string>& video_flag_options();
void parse_video_options(const Args& args, VideoOptions* v);

// Registered by other layers (lists/matching, server, scan, bench); nullptr when not built.
struct Command {
  const char* name;
  const char* summary;
  int (*run)(const Argv& args);
};
const std::vector<Command>& commands();

}  // namespace hashmatch::cli
