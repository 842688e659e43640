// TIFF through libtiff's RGBA interface (any photometric, bit depth and compression it supports),
// first directory (page), the rows as stored (the Orientation tag not applied), alpha dropped.
#include <tiffio.h>

#include <cstring>
#include <mutex>
#include <string>

#include "host/common/error.h"
#include "host/image/decoders.h"

namespace hashmatch::detail {
namespace {

struct MemFile {
  std::span<const uint8_t> data;
  toff_t pos = 0;
  bool short_read = false;
};

tsize_t on_read(thandle_t h, tdata_t buf, tsize_t n) {
  auto* f = static_cast<MemFile*>(h);
  if (f->pos >= f->data.size()) {
    f->short_read = true;
    return 0;
  }
  tsize_t take = n;
  if (f->pos + take > f->data.size()) {
    take = static_cast<tsize_t>(f->data.size() - f->pos);
    f->short_read = true;
  }
  std::memcpy(buf, f->data.data() + f->pos, take);
  f->pos += take;
  return take;
}
tsize_t on_write(thandle_t, tdata_t, tsize_t) { return 0; }
toff_t on_seek(thandle_t h, toff_t off, int whence) {
  auto* f = static_cast<MemFile*>(h);
  toff_t base = whence == SEEK_CUR ? f->pos : whence == SEEK_END ? f->data.size() : 0;
  f->pos = base + off;
  return f->pos;
}
int on_close(thandle_t) { return 0; }
toff_t on_size(thandle_t h) { return static_cast<MemFile*>(h)->data.size(); }
int on_map(thandle_t, tdata_t*, toff_t*) { return 0; }
void on_unmap(thandle_t, tdata_t, toff_t) {}

void silence_libtiff() {
  static std::once_flag once;
  std::call_once(once, [] {
    TIFFSetErrorHandler(nullptr);
    TIFFSetWarningHandler(nullptr);
  });
}

struct TiffHandle {
  MemFile file;
  TIFF* tif = nullptr;
  explicit TiffHandle(std::span<const uint8_t> d) {
    silence_libtiff();
    file.data = d;
    tif = TIFFClientOpen("memory", "rm", &file, on_read, on_write, on_seek, on_close, on_size,
                         on_map, on_unmap);
    if (!tif) {
      if (file.short_read) throw MediaError("truncated", "truncated TIFF header");
      throw MediaError("corrupt", "corrupt TIFF header");
    }
  }
  ~TiffHandle() { TIFFClose(tif); }
};

void dims(TIFF* tif, int* w, int* h) {
  uint32_t tw = 0, th = 0;
  if (!TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &tw) || !TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &th)) {
    throw MediaError("corrupt", "TIFF without image dimensions");
  }
  *w = tw > 0x7fffffffu ? -1 : static_cast<int>(tw);
  *h = th > 0x7fffffffu ? -1 : static_cast<int>(th);
}

}  // namespace

void probe_tiff(std::span<const uint8_t> data, int* w, int* h) {
  TiffHandle t(data);
  dims(t.tif, w, h);
}

Image decode_tiff(std::span<const uint8_t> data, const DecodeLimits& limits) {
  TiffHandle t(data);
  Image img;
  dims(t.tif, &img.width, &img.height);
  check_dimensions(img.width, img.height, limits, "tiff");
  std::vector<uint32_t> raster(img.pixel_count());
  // Alpha is dropped, not composited (as for PNG and WebP): unassociated alpha is declared an
  // unspecified extra sample before libtiff's RGBA reader starts, which would otherwise multiply
  // the colour by it (80 bits off for a half-transparent image).
  uint16_t n_extra = 0;
  const uint16_t* extra = nullptr;
  if (TIFFGetField(t.tif, TIFFTAG_EXTRASAMPLES, &n_extra, &extra) && n_extra > 0 && extra) {
    std::vector<uint16_t> kinds(extra, extra + n_extra);
    bool changed = false;
    for (uint16_t& k : kinds) {
      if (k == EXTRASAMPLE_UNASSALPHA) {
        k = EXTRASAMPLE_UNSPECIFIED;
        changed = true;
      }
    }
    if (changed) TIFFSetField(t.tif, TIFFTAG_EXTRASAMPLES, n_extra, kinds.data());
  }
  TIFFRGBAImage rgba;
  char emsg[1024] = {0};
  if (!TIFFRGBAImageOK(t.tif, emsg) || !TIFFRGBAImageBegin(&rgba, t.tif, 0, emsg)) {
    if (t.file.short_read) throw MediaError("truncated", "truncated TIFF image data");
    throw MediaError("corrupt", std::string("TIFF image data could not be decoded: ") + emsg);
  }
  // The rows as stored, top first: the Orientation tag is not applied (as Pillow reads a TIFF,
  // and as EXIF orientation is not applied to JPEG). libtiff's reader applied its flips but not
  // its 90-degree turns (orientations 5-8 came out neither as stored nor turned).
  rgba.orientation = ORIENTATION_TOPLEFT;
  rgba.req_orientation = ORIENTATION_TOPLEFT;
  const int ok = TIFFRGBAImageGet(&rgba, raster.data(), static_cast<uint32_t>(img.width),
                                  static_cast<uint32_t>(img.height));
  TIFFRGBAImageEnd(&rgba);
  if (!ok) {
    if (t.file.short_read) throw MediaError("truncated", "truncated TIFF image data");
    throw MediaError("corrupt", "TIFF image data could not be decoded");
  }
  img.channels = 3;
  img.pixels.resize(img.pixel_count() * 3);
  for (std::size_t i = 0; i < img.pixel_count(); ++i) {
    img.pixels[3 * i] = TIFFGetR(raster[i]);
    img.pixels[3 * i + 1] = TIFFGetG(raster[i]);
    img.pixels[3 * i + 2] = TIFFGetB(raster[i]);
  }
  return img;
}

}  // namespace hashmatch::detail
