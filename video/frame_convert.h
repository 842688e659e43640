// Internal to video/: re-laying out NVDEC frames copied to the host as FFmpeg's software decoder
// would have produced them, so that the RGB conversion is the very same swscale path as for
// CPU-decoded frames (equal decoded pixels give equal hashes).
#pragma once

#include <cstdint>
#include <vector>

#include "video/ffmpeg_util.h"

namespace hashmatch::video {

// `semi`: an NV12, P010 or P016 frame (interleaved CbCr; 16-bit samples keep the data in the high
// bits). `want`: the decoder's software format, a planar 4:2:0 format of 8 bits (NV12 in) or 9-16
// bits (P010/P016 in). On success `out` points into `storage` (no ownership) and true is returned;
// false (nothing done) for any other combination.
bool semi_planar_to_planar(const AVFrame* semi, AVPixelFormat want, std::vector<uint8_t>* storage,
                           AVFrame* out);

}  // namespace hashmatch::video
