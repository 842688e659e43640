// Frames handed to PDQ as they come out of decoders: RGB24, grey, or YUV 4:2:0 (NV12 as NVDEC
// delivers it, I420 as nvJPEG/FFmpeg deliver it). Host-safe; the YUV -> RGB conversion below is
// written once and compiled both for the CPU and (through kernels/pdq) for the GPU, so a GPU hash of
// a YUV frame can be checked bit for bit against the CPU hash of frame_to_image(frame).
//
// The conversion (exactly; integer arithmetic, no floating point, so CPU == GPU by construction):
//   chroma siting: nearest — pixel (x, y) uses the chroma sample (x / 2, y / 2) (4:2:0, no
//   interpolation; chroma planes are ceil(w/2) x ceil(h/2));
//   c = Y - 16, d = U - 128, e = V - 128 for the limited-range ("TV") matrices,
//   kBt601Limited (the default; SD video, and what most H.264/HEVC streams without colour tags mean):
//     R = clamp((298 c + 409 e + 128) >> 8), G = clamp((298 c - 100 d - 208 e + 128) >> 8),
//     B = clamp((298 c + 516 d + 128) >> 8)
//   kBt709Limited (HD video):
//     R = clamp((298 c + 459 e + 128) >> 8), G = clamp((298 c - 55 d - 136 e + 128) >> 8),
//     B = clamp((298 c + 541 d + 128) >> 8)
//   kBt601Full (JPEG/JFIF; full range, Y not offset):
//     R = clamp((256 Y + 359 e + 128) >> 8), G = clamp((256 Y - 88 d - 183 e + 128) >> 8),
//     B = clamp((256 Y + 454 d + 128) >> 8)
//   ">>" is an arithmetic shift (floor division by 256), clamp to 0..255.
// Then PDQ's luminance is taken from these 8-bit RGB values as for any RGB image. This is not
// swscale's conversion (vPDQ's reference uses swscale's area filter), so a frame decoded to YUV and
// converted here can differ by a few bits from the reference's RGB24 frames; it is exact between
// our CPU and GPU paths.
#pragma once

#include <cstdint>
#include <string_view>

#include "host/image/image.h"

#if defined(__CUDACC__)
#define HM_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define HM_HOST_DEVICE inline
#endif

namespace hashmatch {

enum class PixelFormat : int {
  kGrey = 0,   // one plane, 1 byte per pixel
  kRgb24 = 1,  // one plane, R G B interleaved
  kNv12 = 2,   // plane 0: Y (w x h); plane 1: U V interleaved (ceil(w/2) pairs x ceil(h/2) rows)
  kI420 = 3,   // plane 0: Y; plane 1: U; plane 2: V (each ceil(w/2) x ceil(h/2))
};

enum class YuvMatrix : int { kBt601Limited = 0, kBt709Limited = 1, kBt601Full = 2 };

std::string_view pixel_format_name(PixelFormat f);
std::string_view yuv_matrix_name(YuvMatrix m);
// Parses "bt601", "bt709", "bt601-full" (InvalidArgument otherwise).
YuvMatrix parse_yuv_matrix(std::string_view s);

// A frame in memory (host or device; the pointer's memory space is said by whoever passes it).
// pitches in bytes; planes the format does not use are ignored.
struct FrameView {
  PixelFormat format = PixelFormat::kRgb24;
  int width = 0;
  int height = 0;
  const uint8_t* planes[3] = {nullptr, nullptr, nullptr};
  int pitches[3] = {0, 0, 0};
  YuvMatrix matrix = YuvMatrix::kBt601Limited;
};

// Bytes each plane of a tightly packed frame takes (0 for unused planes).
std::size_t frame_plane_bytes(PixelFormat f, int width, int height, int plane);
// Tightly packed pitch of a plane.
int frame_plane_pitch(PixelFormat f, int width, int plane);

struct Rgb8 {
  uint8_t r, g, b;
};

HM_HOST_DEVICE uint8_t clamp_u8(int v) { return static_cast<uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v)); }

// The one YUV -> RGB conversion of hashmatch (see the header comment).
HM_HOST_DEVICE Rgb8 yuv_to_rgb(int y, int u, int v, YuvMatrix m) {
  const int d = u - 128, e = v - 128;
  Rgb8 o;
  if (m == YuvMatrix::kBt601Full) {
    const int c = 256 * y;
    o.r = clamp_u8((c + 359 * e + 128) >> 8);
    o.g = clamp_u8((c - 88 * d - 183 * e + 128) >> 8);
    o.b = clamp_u8((c + 454 * d + 128) >> 8);
  } else if (m == YuvMatrix::kBt709Limited) {
    const int c = 298 * (y - 16);
    o.r = clamp_u8((c + 459 * e + 128) >> 8);
    o.g = clamp_u8((c - 55 * d - 136 * e + 128) >> 8);
    o.b = clamp_u8((c + 541 * d + 128) >> 8);
  } else {
    const int c = 298 * (y - 16);
    o.r = clamp_u8((c + 409 * e + 128) >> 8);
    o.g = clamp_u8((c - 100 * d - 208 * e + 128) >> 8);
    o.b = clamp_u8((c + 516 * d + 128) >> 8);
  }
  return o;
}

// Pixel (x, y) of a YUV 4:2:0 frame as RGB (nearest chroma). `f` is kNv12 or kI420; host or device
// pointers alike (called from both).
HM_HOST_DEVICE Rgb8 yuv420_pixel(const FrameView& f, int x, int y) {
  const int luma = f.planes[0][static_cast<std::size_t>(y) * f.pitches[0] + x];
  const int cx = x >> 1, cy = y >> 1;
  int u, v;
  if (f.format == PixelFormat::kNv12) {
    const uint8_t* uv = f.planes[1] + static_cast<std::size_t>(cy) * f.pitches[1] + 2 * cx;
    u = uv[0];
    v = uv[1];
  } else {
    u = f.planes[1][static_cast<std::size_t>(cy) * f.pitches[1] + cx];
    v = f.planes[2][static_cast<std::size_t>(cy) * f.pitches[2] + cx];
  }
  return yuv_to_rgb(luma, u, v, f.matrix);
}

// CPU conversion of a frame in host memory to the Image the CPU hasher takes: grey stays one
// channel, RGB24 is copied, NV12/I420 go through yuv_to_rgb. Throws InvalidArgument for a bad view
// (null plane, pitch too small, non-positive size).
Image frame_to_image(const FrameView& f);

// Checks a view's geometry (sizes, pitches, planes present); throws InvalidArgument.
void validate_frame(const FrameView& f);

}  // namespace hashmatch
