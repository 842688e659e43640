// Minimal image encoders for tests (generated media only): write procedural pixels in each format
// hashmatch decodes, so decoders can be checked against known pixels.
#pragma once

#include <cstdint>
#include <vector>

#include "host/image/image.h"

namespace hashmatch::test {

// Procedural RGB image with at most `colours` distinct colours (<= 256 for GIF), deterministic
// from `seed`: gradients, stripes and blocks so PDQ has structure to see.
Image procedural_image(int width, int height, uint32_t seed, int colours = 256);

std::vector<uint8_t> encode_png(const Image& img, bool with_alpha = false, bool sixteen_bit = false);
// A palette PNG of an RGB image of at most 256 colours (throws otherwise); with `trns`, a tRNS
// chunk giving the palette entries varied transparencies (0 for some).
std::vector<uint8_t> encode_png_palette(const Image& rgb, bool trns);
std::vector<uint8_t> encode_jpeg(const Image& img, int quality = 90, bool progressive = false);
std::vector<uint8_t> encode_webp_lossless(const Image& img);
std::vector<uint8_t> encode_gif(const Image& img);  // image must have <= 256 colours
std::vector<uint8_t> encode_tiff(const Image& img);
// The same with an Orientation tag (1..8; the rows stored as given) and, with `alpha`, a fourth
// sample of unassociated alpha (0 in the left half, 128 elsewhere).
std::vector<uint8_t> encode_tiff(const Image& img, int orientation, bool alpha);
std::vector<uint8_t> encode_bmp(const Image& img);   // 24-bit bottom-up

}  // namespace hashmatch::test
