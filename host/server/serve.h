// The `serve` subcommand (registered in host/cli/main.cc under HM_SERVER).
#pragma once

#include <string>
#include <vector>

namespace hashmatch::cli {

// hashmatch serve [--config FILE] [--print-config] [--SETTING VALUE ...]
int cmd_serve(const std::vector<std::string>& args);

}  // namespace hashmatch::cli
