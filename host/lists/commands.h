// The `list` and `match` subcommands (registered in host/cli/main.cc under HM_LISTS).
#pragma once

#include <string>
#include <vector>

namespace hashmatch::cli {

// hashmatch list create|import|export|stats|remove ...
int cmd_list(const std::vector<std::string>& args);
// hashmatch match --db PATH [--list NAME]... (--pdq HEX... | --pdq-file F | FILES...)
int cmd_match(const std::vector<std::string>& args);

}  // namespace hashmatch::cli
