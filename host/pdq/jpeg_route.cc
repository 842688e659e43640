#include "host/pdq/jpeg_route.h"

#include <cstring>

namespace hashmatch::pdq {

JpegHeaderInfo parse_jpeg_header(std::span<const uint8_t> d) {
  JpegHeaderInfo h;
  const std::size_t n = d.size();
  if (n < 4 || d[0] != 0xFF || d[1] != 0xD8) return h;
  // EOI: FF D9 within the last bytes (entropy-coded data never holds FF D9: FF is stuffed).
  for (std::size_t k = n >= 64 ? n - 64 : 0; k + 1 < n; ++k) {
    if (d[k] == 0xFF && d[k + 1] == 0xD9) h.has_eoi = true;
  }
  std::size_t p = 2;
  bool saw_sof = false;
  while (p + 1 < n) {
    if (d[p] != 0xFF) return h;  // not at a marker: corrupt
    while (p < n && d[p] == 0xFF) ++p;  // fill bytes
    if (p >= n) return h;
    const uint8_t m = d[p++];
    if (m == 0xD8 || m == 0x01 || (m >= 0xD0 && m <= 0xD7)) continue;  // no length
    if (m == 0xD9) return h;                                          // EOI before a scan
    if (p + 2 > n) return h;
    const std::size_t len = (std::size_t(d[p]) << 8) | d[p + 1];
    if (len < 2 || p + len > n) return h;
    const uint8_t* seg = d.data() + p + 2;
    const std::size_t seg_len = len - 2;
    if (m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC) {
      if (seg_len < 6) return h;
      h.sof = m;
      h.precision = seg[0];
      h.height = (seg[1] << 8) | seg[2];
      h.width = (seg[3] << 8) | seg[4];
      h.components = seg[5];
      for (int c = 0; c < h.components && c < 4 && 6 + 3 * std::size_t(c) < seg_len; ++c) {
        h.component_ids[c] = seg[6 + 3 * c];
      }
      saw_sof = true;
    } else if (m == 0xE0 && seg_len >= 5 && std::memcmp(seg, "JFIF\0", 5) == 0) {
      h.jfif = true;
    } else if (m == 0xEE && seg_len >= 12 && std::memcmp(seg, "Adobe", 5) == 0) {
      h.adobe_transform = seg[11];
    } else if (m == 0xDA) {
      h.valid = saw_sof;
      return h;
    }
    p += len;
  }
  return h;
}

bool gpu_jpeg_eligible(const JpegHeaderInfo& h, std::string* why) {
  auto no = [&](const char* reason) {
    if (why) *why = reason;
    return false;
  };
  if (!h.valid) return no("unparsed header");
  if (h.sof == 0xC2 || h.sof == 0xC6 || h.sof == 0xCA || h.sof == 0xCE) return no("progressive");
  if (h.sof != 0xC0 && h.sof != 0xC1) return no("lossless/arithmetic/hierarchical coding");
  if (h.precision != 8) return no("not 8-bit");
  if (h.components == 4) return no("cmyk");
  if (h.components != 1 && h.components != 3) return no("unusual component count");
  if (h.components == 3 && !h.jfif) {
    if (h.adobe_transform == 0) return no("rgb colour space (adobe transform 0)");
    if (h.adobe_transform < 0 && h.component_ids[0] == 'R' && h.component_ids[1] == 'G' &&
        h.component_ids[2] == 'B') {
      return no("rgb colour space (component ids)");
    }
  }
  if (!h.has_eoi) return no("truncated");
  if (h.width <= 0 || h.height <= 0) return no("no size in the frame header");
  if (why) why->clear();
  return true;
}

}  // namespace hashmatch::pdq
