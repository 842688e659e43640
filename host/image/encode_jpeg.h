// JPEG encoding with libjpeg(-turbo), for generated media: the bench suite's scan images, the
// benchmarks' JPEG sets and the tests' encoded inputs (the appliance itself only decodes).
#pragma once

#include <cstdint>
#include <vector>

#include "host/image/image.h"

namespace hashmatch {

struct JpegEncodeOptions {
  int quality = 90;          // 1..100 (libjpeg's scale)
  bool progressive = false;  // progressive scans instead of baseline
  // Luma sampling factors of a colour image (chroma 1x1): 2x2 is 4:2:0 (libjpeg's default), 2x1
  // 4:2:2, 1x1 4:4:4. Grey images have one component and ignore them.
  int luma_h_samp = 2, luma_v_samp = 2;
};

// `img` with 1 (grey) or 3 (RGB) channels, 1..65500 pixels a side. Throws InvalidArgument for
// another channel count or size, or too few pixels, and Error when libjpeg fails.
std::vector<uint8_t> encode_jpeg(const Image& img, const JpegEncodeOptions& opts = {});

}  // namespace hashmatch
