// Which JPEGs the GPU decoder (nvJPEG) may decode for PDQ, decided from the headers alone.
// Everything else goes to the CPU decoder (libjpeg-turbo, bit-exact with the reference lists).
#pragma once

#include <cstdint>
#include <span>
#include <string>

namespace hashmatch::pdq {

struct JpegHeaderInfo {
  bool valid = false;       // SOI, a frame header and a scan were found
  int sof = -1;             // frame type: 0xC0 baseline, 0xC1 extended, 0xC2 progressive, ...
  int precision = 0;
  int width = 0, height = 0;
  int components = 0;
  uint8_t component_ids[4] = {0, 0, 0, 0};
  bool jfif = false;        // APP0 "JFIF"
  int adobe_transform = -1; // APP14 "Adobe" transform flag, -1 when absent
  bool has_eoi = false;     // the file ends with an EOI marker (not truncated)
};

JpegHeaderInfo parse_jpeg_header(std::span<const uint8_t> data);

// True when nvJPEG may decode the file as libjpeg would interpret its colours: baseline or extended
// Huffman (SOF0/SOF1), 8-bit, 1 or 3 components that libjpeg treats as grey / YCbCr (not the RGB
// colour space flagged by Adobe transform 0 or component ids 'R','G','B' without JFIF), complete
// (EOI present). Otherwise false and `why` says why ("progressive", "cmyk", ...).
bool gpu_jpeg_eligible(const JpegHeaderInfo& h, std::string* why = nullptr);

}  // namespace hashmatch::pdq
