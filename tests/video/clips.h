// Test clips generated at test time with the ffmpeg command line (Debian's ffmpeg, from FFmpeg's
// lavfi sources): small and short, never stored in the repository; and the comparison of two
// hashing results of a clip.
#pragma once

#include <filesystem>
#include <string>

#include "video/synth_clip.h"
#include "video/vpdq.h"

namespace hashmatch::test {

// Runs `ffmpeg -hide_banner -loglevel error -y ARGS OUT` and returns OUT (dir / name). Fails the
// calling test (ADD_FAILURE) and returns an empty path when ffmpeg is missing or fails.
std::filesystem::path make_clip(const std::filesystem::path& dir, const std::string& name,
                                const std::string& args);

// A shared folder for the clips of one test executable (created once, removed at exit).
const std::filesystem::path& clip_dir();

// Both results ok, the same number of frames decoded, and the same records (frame number, hash,
// quality, timestamp) in the same order; `what` names the comparison in failures.
void expect_same_result(const video::VpdqResult& a, const video::VpdqResult& b, const std::string& what);

// The same, for results that may be errors (a damaged clip): the same error and reason, frames
// decoded and records.
void expect_same_outcome(const video::VpdqResult& a, const video::VpdqResult& b, const std::string& what);

// Two clips with the same encoder settings (the same parameter sets: a decoder kept after `a`
// takes `b`): `a` from `spec`, `b` with other content (pattern 5) and `b_frames` frames.
void write_clip_pair(const std::filesystem::path& a, const std::filesystem::path& b,
                     video::SynthClipSpec spec, int b_frames);

}  // namespace hashmatch::test
