#include "video/frame_convert.h"

extern "C" {
#include <libavutil/pixdesc.h>
}

#include <cstring>

namespace hashmatch::video {

bool semi_planar_to_planar(const AVFrame* semi, AVPixelFormat want, std::vector<uint8_t>* storage,
                           AVFrame* out) {
  const auto sw = static_cast<AVPixelFormat>(semi->format);
  const int w = semi->width, h = semi->height;
  const AVPixFmtDescriptor* d = av_pix_fmt_desc_get(want);
  const bool want_420 = d && d->nb_components == 3 && d->log2_chroma_w == 1 &&
                        d->log2_chroma_h == 1 && (d->flags & AV_PIX_FMT_FLAG_PLANAR);
  if (!((sw == AV_PIX_FMT_NV12 || sw == AV_PIX_FMT_P010 || sw == AV_PIX_FMT_P016) && want_420)) {
    return false;
  }
  const int depth = d->comp[0].depth;
  const int bps = depth > 8 ? 2 : 1;  // bytes per sample
  if ((sw == AV_PIX_FMT_NV12) != (bps == 1)) return false;
  const int cw = (w + 1) / 2, ch = (h + 1) / 2;
  const std::size_t ysz = std::size_t(w) * h * bps, csz = std::size_t(cw) * ch * bps;
  // Padded as FFmpeg pads frame buffers: swscale's vector code reads whole vectors past a row's end.
  (*storage).resize(ysz + 2 * csz + std::size_t(w) * bps + 256);
  uint8_t* Y = (*storage).data();
  uint8_t* U = Y + ysz;
  uint8_t* V = U + csz;
  if (bps == 1) {
    for (int y = 0; y < h; ++y) std::memcpy(Y + std::size_t(y) * w, semi->data[0] + std::size_t(y) * semi->linesize[0], w);
    for (int y = 0; y < ch; ++y) {
      const uint8_t* s = semi->data[1] + std::size_t(y) * semi->linesize[1];
      uint8_t* u = U + std::size_t(y) * cw;
      uint8_t* v = V + std::size_t(y) * cw;
      for (int x = 0; x < cw; ++x) {
        u[x] = s[2 * x];
        v[x] = s[2 * x + 1];
      }
    }
  } else {
    const int shift = 16 - depth;  // P010/P016 keep the samples in the high bits
    for (int y = 0; y < h; ++y) {
      const uint16_t* s = reinterpret_cast<const uint16_t*>(semi->data[0] + std::size_t(y) * semi->linesize[0]);
      uint16_t* o = reinterpret_cast<uint16_t*>(Y) + std::size_t(y) * w;
      for (int x = 0; x < w; ++x) o[x] = static_cast<uint16_t>(s[x] >> shift);
    }
    for (int y = 0; y < ch; ++y) {
      const uint16_t* s = reinterpret_cast<const uint16_t*>(semi->data[1] + std::size_t(y) * semi->linesize[1]);
      uint16_t* u = reinterpret_cast<uint16_t*>(U) + std::size_t(y) * cw;
      uint16_t* v = reinterpret_cast<uint16_t*>(V) + std::size_t(y) * cw;
      for (int x = 0; x < cw; ++x) {
        u[x] = static_cast<uint16_t>(s[2 * x] >> shift);
        v[x] = static_cast<uint16_t>(s[2 * x + 1] >> shift);
      }
    }
  }
  // Point `out` at the planar copy (no ownership: the storage outlives its use).
  AVFrame* f = out;
  av_frame_unref(f);
  f->format = want;
  f->width = w;
  f->height = h;
  f->data[0] = Y;
  f->data[1] = U;
  f->data[2] = V;
  f->linesize[0] = w * bps;
  f->linesize[1] = cw * bps;
  f->linesize[2] = cw * bps;
  return true;
}


}  // namespace hashmatch::video
