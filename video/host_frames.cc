#include "video/host_frames.h"

#include <memory>
#include <utility>

#include "video/sized_recycler.h"

namespace hashmatch::video {
namespace {

struct HostFrame {
  Image img;
  std::size_t size() const { return img.pixels.capacity(); }
};

// Never destroyed: sinks may still give buffers back while the process exits.
SizedRecycler<HostFrame>& pool() {
  static auto* p =
      new SizedRecycler<HostFrame>(kHostFramesFreePerUser, kHostFramesFreeBytesPerUser);
  return *p;
}

}  // namespace

Image take_host_frame(std::size_t bytes) {
  if (bytes == 0) return {};
  std::unique_ptr<HostFrame> f = pool().take(bytes);
  return f ? std::move(f->img) : Image{};
}

void give_host_frame(Image&& img) noexcept {
  if (img.pixels.capacity() == 0) return;
  try {
    auto f = std::make_unique<HostFrame>();
    f->img = std::move(img);
    // What the caps drop is freed here, outside the pool's lock.
    pool().give(std::move(f));
  } catch (...) {  // no memory for the pool's bookkeeping: the buffer is freed instead
  }
}

HostFramesUser::HostFramesUser() { pool().add_user(); }

HostFramesUser::~HostFramesUser() {
  try {
    pool().remove_user();  // the dropped buffers are freed as the returned vector goes
  } catch (...) {
  }
}

std::size_t host_frames_free_count() { return pool().free_count(); }

}  // namespace hashmatch::video
