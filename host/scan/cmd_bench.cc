// hashmatch bench: capacity benchmark suite (placeholder while the suite is written).
#include <cstdio>

#include "host/scan/commands.h"

namespace hashmatch::cli {

int cmd_bench(const std::vector<std::string>& args) {
  std::fprintf(stderr, "hashmatch bench: not yet available\n");
  return 2;
}

}  // namespace hashmatch::cli
