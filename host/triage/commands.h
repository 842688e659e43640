#pragma once

#include "host/cli/commands.h"

namespace hashmatch::cli {
int cmd_cluster(const Argv& args);
}  // namespace hashmatch::cli
