// The subcommands of the `hashmatch` executable. Each returns the process exit code.
#pragma once

#include <string>
#include <vector>

namespace hashmatch::cli {

using Argv = std::vector<std::string>;  // arguments after the subcommand name

int cmd_info(const Argv& args);
int cmd_hash(const Argv& args);

// Registered by other layers (lists/matching, server, scan, bench); nullptr when not built.
struct Command {
  const char* name;
  const char* summary;
  int (*run)(const Argv& args);
};
const std::vector<Command>& commands();

}  // namespace hashmatch::cli
