#include "host/image/encode_jpeg.h"

#include <csetjmp>
#include <cstdio>
#include <cstdlib>
#include <string>
// clang-format off
#include <jpeglib.h>
// clang-format on

#include "host/common/error.h"

namespace hashmatch {
namespace {

struct ErrorMgr {
  jpeg_error_mgr pub;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX] = {0};
};

void on_error_exit(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<ErrorMgr*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  std::longjmp(err->jump, 1);
}

// RAII over jpeg_compress_struct and the memory destination libjpeg allocates.
struct Compressor {
  jpeg_compress_struct cinfo{};
  ErrorMgr err{};
  unsigned char* buf = nullptr;
  unsigned long size = 0;
  Compressor() {
    cinfo.err = jpeg_std_error(&err.pub);
    err.pub.error_exit = on_error_exit;
    jpeg_create_compress(&cinfo);
  }
  ~Compressor() {
    jpeg_destroy_compress(&cinfo);
    std::free(buf);
  }
};

// Returns false on a libjpeg error (message in c.err). No C++ objects with destructors live
// between setjmp and longjmp here.
bool compress(Compressor& c, const Image& img, const JpegEncodeOptions& o) {
  if (setjmp(c.err.jump)) return false;
  jpeg_mem_dest(&c.cinfo, &c.buf, &c.size);
  c.cinfo.image_width = static_cast<JDIMENSION>(img.width);
  c.cinfo.image_height = static_cast<JDIMENSION>(img.height);
  c.cinfo.input_components = img.channels;
  c.cinfo.in_color_space = img.channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_set_defaults(&c.cinfo);
  jpeg_set_quality(&c.cinfo, o.quality, TRUE);
  if (img.channels == 3) {
    c.cinfo.comp_info[0].h_samp_factor = o.luma_h_samp;
    c.cinfo.comp_info[0].v_samp_factor = o.luma_v_samp;
    c.cinfo.comp_info[1].h_samp_factor = c.cinfo.comp_info[1].v_samp_factor = 1;
    c.cinfo.comp_info[2].h_samp_factor = c.cinfo.comp_info[2].v_samp_factor = 1;
  }
  if (o.progressive) jpeg_simple_progression(&c.cinfo);
  jpeg_start_compress(&c.cinfo, TRUE);
  while (c.cinfo.next_scanline < c.cinfo.image_height) {
    JSAMPROW row = const_cast<uint8_t*>(img.row(static_cast<int>(c.cinfo.next_scanline)));
    jpeg_write_scanlines(&c.cinfo, &row, 1);
  }
  jpeg_finish_compress(&c.cinfo);
  return true;
}

}  // namespace

std::vector<uint8_t> encode_jpeg(const Image& img, const JpegEncodeOptions& opts) {
  if (img.channels != 1 && img.channels != 3) {
    throw InvalidArgument("JPEG encoding takes 1 or 3 channels, got " + std::to_string(img.channels));
  }
  if (img.width <= 0 || img.height <= 0 || img.width > 65500 || img.height > 65500 ||
      img.pixels.size() < img.row_bytes() * std::size_t(img.height)) {
    throw InvalidArgument("JPEG encoding: bad image " + std::to_string(img.width) + "x" +
                          std::to_string(img.height) + " with " + std::to_string(img.pixels.size()) +
                          " bytes of pixels");
  }
  Compressor c;
  if (!compress(c, img, opts)) throw Error(std::string("JPEG encoding failed: ") + c.err.message);
  return std::vector<uint8_t>(c.buf, c.buf + c.size);
}

}  // namespace hashmatch
