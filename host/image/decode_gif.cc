// GIF through giflib: the first frame, palette resolved, drawn on a canvas of the logical screen
// size, as Pillow (what HMA and python-threatexchange hash with) gives it: the canvas outside the
// frame holds the frame's transparent index when its Graphic Control Extension names one, else
// index 0 (not the background colour), in the frame's colour map; an index past the colour map is
// black. Transparency is otherwise ignored (the palette colour is used), as alpha is everywhere
// else. Later frames are never decoded.
#include <gif_lib.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "host/common/error.h"
#include "host/image/decoders.h"

namespace hashmatch::detail {
namespace {

struct Reader {
  std::span<const uint8_t> data;
  std::size_t pos = 0;
  bool short_read = false;
};

int on_read(GifFileType* gif, GifByteType* out, int n) {
  auto* r = static_cast<Reader*>(gif->UserData);
  const std::size_t avail = r->data.size() - r->pos;
  std::size_t take = static_cast<std::size_t>(n);
  if (take > avail) {
    take = avail;
    r->short_read = true;
  }
  std::memcpy(out, r->data.data() + r->pos, take);
  r->pos += take;
  return static_cast<int>(take);
}

struct GifHandle {
  GifFileType* gif = nullptr;
  Reader reader;
  explicit GifHandle(std::span<const uint8_t> d) {
    reader.data = d;
    int err = 0;
    gif = DGifOpen(&reader, on_read, &err);
    if (!gif) {
      if (reader.short_read) throw MediaError("truncated", "truncated GIF header");
      throw MediaError("corrupt", std::string("corrupt GIF: ") + GifErrorString(err));
    }
  }
  ~GifHandle() {
    int err = 0;
    DGifCloseFile(gif, &err);
  }
  [[noreturn]] void fail(const char* what) const {
    if (reader.short_read) throw MediaError("truncated", std::string("truncated GIF (") + what + ")");
    throw MediaError("corrupt", std::string("corrupt GIF (") + what + "): " + GifErrorString(gif->Error));
  }
};

}  // namespace

void probe_gif(std::span<const uint8_t> data, int* w, int* h) {
  GifHandle g(data);
  *w = g.gif->SWidth;
  *h = g.gif->SHeight;
}

Image decode_gif(std::span<const uint8_t> data, const DecodeLimits& limits) {
  GifHandle g(data);
  GifFileType* gif = g.gif;
  check_dimensions(gif->SWidth, gif->SHeight, limits, "gif");
  int transparent = -1;  // the first frame's transparent index (its Graphic Control Extension)
  for (;;) {
    GifRecordType type;
    if (DGifGetRecordType(gif, &type) == GIF_ERROR) g.fail("record");
    if (type == TERMINATE_RECORD_TYPE) throw MediaError("corrupt", "GIF has no image frame");
    if (type == EXTENSION_RECORD_TYPE) {
      int code = 0;
      GifByteType* ext = nullptr;
      if (DGifGetExtension(gif, &code, &ext) == GIF_ERROR) g.fail("extension");
      if (code == GRAPHICS_EXT_FUNC_CODE && ext && ext[0] >= 4 && (ext[1] & 0x01)) {
        transparent = ext[4];  // ext[0]: the block's length; a later one without keeps it
      }
      while (ext) {
        if (DGifGetExtensionNext(gif, &ext) == GIF_ERROR) g.fail("extension");
      }
      continue;
    }
    if (type != IMAGE_DESC_RECORD_TYPE) continue;
    if (DGifGetImageDesc(gif) == GIF_ERROR) g.fail("image descriptor");
    const GifImageDesc& desc = gif->Image;
    const ColorMapObject* cmap = desc.ColorMap ? desc.ColorMap : gif->SColorMap;
    if (!cmap) throw MediaError("corrupt", "GIF frame without a colour map");
    check_dimensions(desc.Width, desc.Height, limits, "gif frame");
    // A frame reaching past the logical screen enlarges it, as Pillow does.
    Image img;
    img.width = std::max<int>(gif->SWidth, desc.Left + desc.Width);
    img.height = std::max<int>(gif->SHeight, desc.Top + desc.Height);
    check_dimensions(img.width, img.height, limits, "gif");
    img.channels = 3;
    img.pixels.resize(img.pixel_count() * 3);
    auto colour = [cmap](int idx) {
      return idx < cmap->ColorCount ? cmap->Colors[idx] : GifColorType{0, 0, 0};
    };
    const GifColorType bg = colour(transparent >= 0 ? transparent : 0);
    for (std::size_t i = 0; i < img.pixel_count(); ++i) {
      img.pixels[3 * i] = bg.Red;
      img.pixels[3 * i + 1] = bg.Green;
      img.pixels[3 * i + 2] = bg.Blue;
    }
    std::vector<GifPixelType> line(desc.Width);
    // Interlaced frames store rows in four passes.
    std::vector<int> order;
    if (desc.Interlace) {
      const int start[4] = {0, 4, 2, 1}, step[4] = {8, 8, 4, 2};
      for (int p = 0; p < 4; ++p)
        for (int y = start[p]; y < desc.Height; y += step[p]) order.push_back(y);
    } else {
      for (int y = 0; y < desc.Height; ++y) order.push_back(y);
    }
    for (int y : order) {
      if (DGifGetLine(gif, line.data(), desc.Width) == GIF_ERROR) g.fail("pixel data");
      const int cy = desc.Top + y;
      if (cy < 0 || cy >= img.height) continue;
      uint8_t* row = img.row(cy);
      for (int x = 0; x < desc.Width; ++x) {
        const int cx = desc.Left + x;
        if (cx < 0 || cx >= img.width) continue;
        const GifColorType c = colour(line[x]);
        row[3 * cx] = c.Red;
        row[3 * cx + 1] = c.Green;
        row[3 * cx + 2] = c.Blue;
      }
    }
    return img;
  }
}

}  // namespace hashmatch::detail
