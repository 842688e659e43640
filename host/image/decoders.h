// Per-format decoders (internal to host/image). Each throws MediaError.
#pragma once

#include <cstdint>
#include <span>

#include "host/image/decode.h"
#include "host/image/image.h"

namespace hashmatch::detail {

void probe_jpeg(std::span<const uint8_t> d, int* w, int* h);
void probe_png(std::span<const uint8_t> d, int* w, int* h);
void probe_webp(std::span<const uint8_t> d, int* w, int* h);
void probe_gif(std::span<const uint8_t> d, int* w, int* h);
void probe_bmp(std::span<const uint8_t> d, int* w, int* h);
void probe_tiff(std::span<const uint8_t> d, int* w, int* h);

Image decode_jpeg(std::span<const uint8_t> d, const DecodeLimits& limits);
Image decode_png(std::span<const uint8_t> d, const DecodeLimits& limits);
Image decode_webp(std::span<const uint8_t> d, const DecodeLimits& limits);
Image decode_gif(std::span<const uint8_t> d, const DecodeLimits& limits);
Image decode_bmp(std::span<const uint8_t> d, const DecodeLimits& limits);  // FFmpeg libavcodec
Image decode_tiff(std::span<const uint8_t> d, const DecodeLimits& limits);

}  // namespace hashmatch::detail
