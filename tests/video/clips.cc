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

void expect_same_result(const video::VpdqResult& a, const video::VpdqResult& b, const std::string& what) {
  ASSERT_TRUE(a.ok()) << what << ": " << a.error;
  ASSERT_TRUE(b.ok()) << what << ": " << b.error;
  expect_same_outcome(a, b, what);
}

void expect_same_outcome(const video::VpdqResult& a, const video::VpdqResult& b, const std::string& what) {
  EXPECT_EQ(a.error, b.error) << what;
  EXPECT_EQ(a.error_reason, b.error_reason) << what;
  EXPECT_EQ(a.info.frames_decoded, b.info.frames_decoded) << what;
  ASSERT_EQ(a.frames.size(), b.frames.size()) << what;
  for (std::size_t i = 0; i < a.frames.size(); ++i) {
    EXPECT_EQ(a.frames[i].frame_number, b.frames[i].frame_number) << what << " frame " << i;
    EXPECT_EQ(a.frames[i].hash, b.frames[i].hash) << what << " frame " << i;
    EXPECT_EQ(a.frames[i].quality, b.frames[i].quality) << what << " frame " << i;
    EXPECT_EQ(a.frames[i].timestamp, b.frames[i].timestamp) << what << " frame " << i;
  }
}

void write_clip_pair(const std::filesystem::path& a, const std::filesystem::path& b,
                     video::SynthClipSpec spec, int b_frames) {
  video::write_synth_clip(a, spec);
  spec.pattern = 5;
  spec.frames = b_frames;
  video::write_synth_clip(b, spec);
}

}  // namespace hashmatch::test
