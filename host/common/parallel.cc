#include "host/common/parallel.h"

#include <cstdlib>
#include <string>

namespace hashmatch {

int default_jobs() {
  if (const char* v = std::getenv("HASHMATCH_THREADS")) {
    const int n = std::atoi(v);
    if (n > 0) return n;
  }
  const unsigned hc = std::thread::hardware_concurrency();
  return hc ? static_cast<int>(hc) : 1;
}

}  // namespace hashmatch
