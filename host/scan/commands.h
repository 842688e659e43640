// The `scan` and `bench` subcommands (registered in host/cli/main.cc under HM_SCAN).
#pragma once

#include <string>
#include <vector>

namespace hashmatch::cli {

// hashmatch scan --db PATH [--list NAME]... [--output FILE] [--checkpoint FILE] [--shard i/n]
//                (PATH... | --manifest FILE)
int cmd_scan(const std::vector<std::string>& args);
// hashmatch bench [--quick] [--out DIR] [--report DIR] ...
int cmd_bench(const std::vector<std::string>& args);

}  // namespace hashmatch::cli
