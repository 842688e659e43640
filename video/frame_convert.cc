#include "video/frame_convert.h"

extern "C" {
#include <libavutil/pixdesc.h>
}

#include <cstring>
#include <string>

#include "host/common/error.h"

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
  // Line sizes in bytes, multiples of 64 as FFmpeg's are (av_frame_apply_cropping's alignment
  // rule reads them); in samples below.
  const std::size_t ls = (std::size_t(w) * bps + 63) / 64 * 64, cls = (std::size_t(cw) * bps + 63) / 64 * 64;
  const std::size_t ysz = ls * h, csz = cls * ch;
  // Padded as FFmpeg pads frame buffers: swscale's vector code reads whole vectors past a row's end.
  (*storage).resize(ysz + 2 * csz + ls + 256);
  uint8_t* Y = (*storage).data();
  uint8_t* U = Y + ysz;
  uint8_t* V = U + csz;
  const std::size_t lw = ls / bps, cwp = cls / bps;  // line sizes in samples
  if (bps == 1) {
    for (int y = 0; y < h; ++y) std::memcpy(Y + std::size_t(y) * lw, semi->data[0] + std::size_t(y) * semi->linesize[0], w);
    for (int y = 0; y < ch; ++y) {
      const uint8_t* s = semi->data[1] + std::size_t(y) * semi->linesize[1];
      uint8_t* u = U + std::size_t(y) * cwp;
      uint8_t* v = V + std::size_t(y) * cwp;
      for (int x = 0; x < cw; ++x) {
        u[x] = s[2 * x];
        v[x] = s[2 * x + 1];
      }
    }
  } else {
    const int shift = 16 - depth;  // P010/P016 keep the samples in the high bits
    for (int y = 0; y < h; ++y) {
      const uint16_t* s = reinterpret_cast<const uint16_t*>(semi->data[0] + std::size_t(y) * semi->linesize[0]);
      uint16_t* o = reinterpret_cast<uint16_t*>(Y) + std::size_t(y) * lw;
      for (int x = 0; x < w; ++x) o[x] = static_cast<uint16_t>(s[x] >> shift);
    }
    for (int y = 0; y < ch; ++y) {
      const uint16_t* s = reinterpret_cast<const uint16_t*>(semi->data[1] + std::size_t(y) * semi->linesize[1]);
      uint16_t* u = reinterpret_cast<uint16_t*>(U) + std::size_t(y) * cwp;
      uint16_t* v = reinterpret_cast<uint16_t*>(V) + std::size_t(y) * cwp;
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
  f->linesize[0] = static_cast<int>(ls);
  f->linesize[1] = static_cast<int>(cls);
  f->linesize[2] = static_cast<int>(cls);
  return true;
}

AVFrame* as_software_frame(AVFrame* copied, AVPixelFormat sw_format, int crop_flags,
                           std::vector<uint8_t>* storage, AVFrame* planar) {
  const std::size_t top = copied->crop_top, left = copied->crop_left;
  const std::size_t bottom = copied->crop_bottom, right = copied->crop_right;
  AVFrame* out = semi_planar_to_planar(copied, sw_format, storage, planar) ? planar : copied;
  if (top == 0 && left == 0 && bottom == 0 && right == 0) return out;
  out->crop_top = top;
  out->crop_left = left;
  out->crop_bottom = bottom;
  out->crop_right = right;
  const int err = av_frame_apply_cropping(out, crop_flags);
  if (err < 0) {
    throw Error("invalid cropping of a decoded frame (" + std::to_string(left) + "," +
                std::to_string(top) + "," + std::to_string(right) + "," + std::to_string(bottom) +
                " on " + std::to_string(out->width) + "x" + std::to_string(out->height) +
                "): " + ff::error_string(err));
  }
  return out;
}


}  // namespace hashmatch::video
