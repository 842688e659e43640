// The glue between host/media (hash_media_file finds videos by content) and hash_video.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <vector>

extern "C" {
#include <libavformat/avformat.h>
}

#include "video/vpdq.h"

namespace hashmatch::video {

nlohmann::json info_to_json(const VideoInfo& i) {
  nlohmann::json j{{"container", i.container},
                   {"codec", i.codec},
                   {"fps", std::round(i.fps * 1000.0) / 1000.0},
                   {"frame_mod", i.frame_mod},
                   {"duration", std::round(i.duration_seconds * 1000.0) / 1000.0},
                   {"frames_decoded", i.frames_decoded},
                   {"frames_hashed", i.frames_hashed},
                   {"decoder", i.decoder}};
  if (i.rotation_degrees != 0) j["rotation"] = i.rotation_degrees;
  // A file with more than one video stream: which was hashed, and how many there are (vPDQ takes
  // the first; the others are not hashed).
  if (i.video_streams > 1) {
    j["stream"] = i.stream_index;
    j["video_streams"] = i.video_streams;
  }
  // Only what the file decides: a result line is the same in every run (`hashmatch scan` resumes
  // and compares by it). Not here: corrupt_frames (FFmpeg's per-frame flags come and go under
  // frame threads) and decoder_reused (the decoder pool's state).
  if (i.decode_errors) j["decode_errors"] = i.decode_errors;
  if (i.logged_errors) j["logged_errors"] = i.logged_errors;
  if (!i.pdq.empty()) j["pdq"] = i.pdq;
  if (!i.note.empty()) j["note"] = i.note;
  return j;
}

namespace {
// sniff_media_format's last resort (set_container_prober): FFmpeg's demuxers probe the head as
// avformat_open_input does, and a format they are sure of (a score above the one at which FFmpeg
// itself reads on for more) is a video container to try; hash_video then says `no_video` for one
// without a video stream (audio formats). Image demuxers (`*_pipe`, `image2`) and text (`tty`)
// are not videos.
bool ffmpeg_recognises(std::span<const uint8_t> head) {
  if (head.size() < 16) return false;
  const std::size_t n = std::min<std::size_t>(head.size(), std::size_t(1) << 20);
  std::vector<uint8_t> buf(n + AVPROBE_PADDING_SIZE, 0);
  std::memcpy(buf.data(), head.data(), n);
  AVProbeData pd{};
  pd.filename = "";
  pd.buf = buf.data();
  pd.buf_size = static_cast<int>(n);
  int score = 0;
  const AVInputFormat* f = av_probe_input_format3(&pd, 1, &score);
  if (!f || !f->name || score <= AVPROBE_SCORE_RETRY) return false;
  const std::string_view name = f->name;
  const bool image =
      name == "image2" || (name.size() > 5 && name.substr(name.size() - 5) == "_pipe");
  return !image && name != "tty";
}
}  // namespace

void register_video_hasher() {
  set_container_prober(ffmpeg_recognises);
  set_video_hasher([](const std::string& path, std::span<const uint8_t> bytes,
                      const HashOptions& opts, MediaHashResult* out) {
    // The bytes are in memory when the file was under the media size limit; larger videos are
    // streamed from the file.
    const VideoInput in = bytes.empty() ? VideoInput::file(path) : VideoInput::memory(bytes, path);
    VpdqResult r = hash_video(in, opts.video, opts.limits);
    out->width = r.info.width;
    out->height = r.info.height;
    out->vpdq = std::move(r.frames);
    if (!r.info.codec.empty()) out->extra["video"] = info_to_json(r.info);
    if (!r.ok()) {
      out->error = r.error;
      out->error_reason = r.error_reason;
    }
  });
}

}  // namespace hashmatch::video
