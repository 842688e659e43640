#include "tests/video/clips.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>

#include "tests/testutil/testutil.h"

namespace hashmatch::test {

std::filesystem::path make_clip(const std::filesystem::path& dir, const std::string& name,
                                const std::string& args) {
  const std::filesystem::path out = dir / name;
  if (std::filesystem::exists(out)) return out;
  const std::filesystem::path tmp = dir / ("tmp-" + name);
  const std::string cmd = "SVT_LOG=1 ffmpeg -nostdin -hide_banner -loglevel error -y " + args + " '" +
                          tmp.string() + "' 2>&1";
  const int rc = std::system(cmd.c_str());
  if (rc != 0 || !std::filesystem::exists(tmp)) {
    ADD_FAILURE() << "generating " << name << " failed (rc " << rc << "): " << cmd;
    return {};
  }
  std::filesystem::rename(tmp, out);
  return out;
}

const std::filesystem::path& clip_dir() {
  static std::unique_ptr<TempDir> dir = std::make_unique<TempDir>();
  return dir->path();
}

}  // namespace hashmatch::test
