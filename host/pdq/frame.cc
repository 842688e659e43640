#include "host/pdq/frame.h"

#include <cstring>
#include <string>

#include "host/common/error.h"

namespace hashmatch {

std::string_view pixel_format_name(PixelFormat f) {
  switch (f) {
    case PixelFormat::kGrey: return "grey";
    case PixelFormat::kRgb24: return "rgb24";
    case PixelFormat::kNv12: return "nv12";
    case PixelFormat::kI420: return "i420";
  }
  return "unknown";
}

std::string_view yuv_matrix_name(YuvMatrix m) {
  switch (m) {
    case YuvMatrix::kBt601Limited: return "bt601";
    case YuvMatrix::kBt709Limited: return "bt709";
    case YuvMatrix::kBt601Full: return "bt601-full";
  }
  return "unknown";
}

YuvMatrix parse_yuv_matrix(std::string_view s) {
  if (s == "bt601") return YuvMatrix::kBt601Limited;
  if (s == "bt709") return YuvMatrix::kBt709Limited;
  if (s == "bt601-full") return YuvMatrix::kBt601Full;
  throw InvalidArgument("unknown YUV matrix '" + std::string(s) + "' (bt601, bt709, bt601-full)");
}

int frame_plane_pitch(PixelFormat f, int width, int plane) {
  const int cw = (width + 1) / 2;
  switch (f) {
    case PixelFormat::kGrey: return plane == 0 ? width : 0;
    case PixelFormat::kRgb24: return plane == 0 ? 3 * width : 0;
    case PixelFormat::kNv12: return plane == 0 ? width : (plane == 1 ? 2 * cw : 0);
    case PixelFormat::kI420: return plane == 0 ? width : cw;
  }
  return 0;
}

std::size_t frame_plane_bytes(PixelFormat f, int width, int height, int plane) {
  const std::size_t rows = plane == 0 ? std::size_t(height) : std::size_t((height + 1) / 2);
  return rows * std::size_t(frame_plane_pitch(f, width, plane));
}

void validate_frame(const FrameView& f) {
  if (f.width <= 0 || f.height <= 0) {
    throw InvalidArgument("frame has no pixels (" + std::to_string(f.width) + "x" +
                          std::to_string(f.height) + ")");
  }
  const int nplanes = f.format == PixelFormat::kNv12 ? 2 : (f.format == PixelFormat::kI420 ? 3 : 1);
  for (int p = 0; p < nplanes; ++p) {
    if (!f.planes[p]) throw InvalidArgument("frame plane " + std::to_string(p) + " is null");
    const int need = frame_plane_pitch(f.format, f.width, p);
    if (f.pitches[p] < need) {
      throw InvalidArgument("frame plane " + std::to_string(p) + " pitch " +
                            std::to_string(f.pitches[p]) + " < " + std::to_string(need));
    }
  }
  if (f.format != PixelFormat::kGrey && f.format != PixelFormat::kRgb24 &&
      f.format != PixelFormat::kNv12 && f.format != PixelFormat::kI420) {
    throw InvalidArgument("unknown pixel format " + std::to_string(int(f.format)));
  }
}

Image frame_to_image(const FrameView& f) {
  validate_frame(f);
  Image img;
  img.width = f.width;
  img.height = f.height;
  img.channels = f.format == PixelFormat::kGrey ? 1 : 3;
  img.pixels.resize(std::size_t(f.width) * f.height * img.channels);
  for (int y = 0; y < f.height; ++y) {
    uint8_t* o = img.row(y);
    if (f.format == PixelFormat::kGrey || f.format == PixelFormat::kRgb24) {
      std::memcpy(o, f.planes[0] + std::size_t(y) * f.pitches[0], img.row_bytes());
      continue;
    }
    for (int x = 0; x < f.width; ++x) {
      const Rgb8 p = yuv420_pixel(f, x, y);
      o[3 * x] = p.r;
      o[3 * x + 1] = p.g;
      o[3 * x + 2] = p.b;
    }
  }
  return img;
}

}  // namespace hashmatch
