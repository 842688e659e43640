// The `list` and `match` subcommands (registered in host/cli/main.cc under HM_LISTS).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "host/media/hash_media.h"

namespace hashmatch::cli {

// hashmatch list create|import|export|stats|remove ...
int cmd_list(const std::vector<std::string>& args);
// hashmatch match --db PATH [--list NAME]... (--pdq HEX... | --pdq-file F | FILES...)
int cmd_match(const std::vector<std::string>& args);

// Video-level matching of video files in `match FILES`, installed by video/ when it is built
// (host/cli/main.cc). The factory is called once per run with the database, the lists asked
// for and --threshold (the frames' distance threshold, as `scan` takes it; none: vPDQ's 31); the
// function it returns matches one hashed file (its MediaHashResult.vpdq frames) and
// returns the JSON array put under "video_matches". Called from several threads at once.
using VideoFileMatcher = std::function<nlohmann::ordered_json(const MediaHashResult&)>;
using VideoMatcherFactory = std::function<VideoFileMatcher(
    const std::string& db, const std::vector<std::string>& lists, std::optional<int> threshold)>;
void set_video_matcher_factory(VideoMatcherFactory factory);

}  // namespace hashmatch::cli
