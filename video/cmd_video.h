// The `video` command (listed videos, video-level matching) and the hook that adds video-level
// matches to `hashmatch match` for video files. Built when the lists layer is (HM_VIDEO_STORE).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "video/vpdq_store.h"

namespace hashmatch::cli {

// hashmatch video add|remove|match|compare ...
int cmd_video(const std::vector<std::string>& args);

// The JSON array of video matches (list, id, match, q%, c%, frame counts, labels).
nlohmann::ordered_json video_matches_json(const std::vector<video::VideoListMatch>& ms);

// Installs the video-level matcher of `hashmatch match` (host/lists/cmd_match.cc's hook).
void register_video_list_matcher();

}  // namespace hashmatch::cli
