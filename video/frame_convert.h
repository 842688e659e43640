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
// Its planes' line sizes are multiples of 64, as FFmpeg's frame buffers' are (cropping below
// depends on it).
bool semi_planar_to_planar(const AVFrame* semi, AVPixelFormat want, std::vector<uint8_t>* storage,
                           AVFrame* out);

// An NVDEC frame copied to the host (`copied`: av_hwframe_transfer_data's output, with the hardware
// frame's properties, its cropping fields among them), as FFmpeg's software decoder would have
// given it: re-laid out as `sw_format` (semi_planar_to_planar, into `storage` and `planar`; other
// formats are left as they are) and cropped. FFmpeg crops hardware frames at the right and bottom
// only and leaves crop_top / crop_left to the user; they are applied here with `crop_flags` (the
// decoder's: AV_FRAME_CROP_UNALIGNED when AV_CODEC_FLAG_UNALIGNED is set, else 0, when a small
// left crop is dropped to keep the planes aligned), as the software decoder applies them.
// Returns `planar` or `copied`; throws hashmatch::Error when the cropping fields are invalid.
AVFrame* as_software_frame(AVFrame* copied, AVPixelFormat sw_format, int crop_flags,
                           std::vector<uint8_t>* storage, AVFrame* planar);

}  // namespace hashmatch::video
