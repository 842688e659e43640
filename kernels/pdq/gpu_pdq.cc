#include "kernels/pdq/gpu_pdq.h"

#include <algorithm>
#include <cstring>

#include "host/common/error.h"
#include "kernels/pdq/pdq_kernels.h"
#include "kernels/rt/cuda_rt.h"
#include "kernels/rt/device.h"

namespace hashmatch::pdq {
namespace {

using cuda::DeviceBuffer;
using cuda::Event;
using cuda::PinnedBuffer;
using cuda::Stream;
using steps::ImageDesc;

int plane_count(PixelFormat f) {
  return f == PixelFormat::kNv12 ? 2 : (f == PixelFormat::kI420 ? 3 : 1);
}

// Bytes a host item takes in staging (planes packed with tight pitches).
std::size_t staged_bytes(const GpuBatchHasher::Item& it) {
  if (!it.on_host) return 0;
  std::size_t n = 0;
  for (int p = 0; p < plane_count(it.view.format); ++p) {
    n += frame_plane_bytes(it.view.format, it.view.width, it.view.height, p);
  }
  return n;
}

void validate_item(const GpuBatchHasher::Item& it, std::size_t index) {
  try {
    validate_frame(it.view);
    if (it.grey_step3 && (it.view.format != PixelFormat::kRgb24)) {
      throw InvalidArgument("grey_step3 needs an RGB24 plane");
    }
  } catch (const InvalidArgument& e) {
    throw InvalidArgument("GPU PDQ input " + std::to_string(index) + ": " + e.what());
  }
}

template <typename T>
void ensure(DeviceBuffer<T>& b, std::size_t n, std::size_t limit, uint64_t* grows) {
  if (b.size() >= n) return;
  const std::size_t want = std::max(n, std::min(limit, 2 * b.size()));
  if (b.size() > 0) ++*grows;
  b = DeviceBuffer<T>();  // free first: the old and new buffers need not coexist
  b = DeviceBuffer<T>(want);
}
template <typename T>
void ensure(PinnedBuffer<T>& b, std::size_t n, std::size_t limit, uint64_t* grows) {
  if (b.size() >= n) return;
  const std::size_t want = std::max(n, std::min(limit, 2 * b.size()));
  if (b.size() > 0) ++*grows;
  b = PinnedBuffer<T>();
  b = PinnedBuffer<T>(want);
}

}  // namespace

struct GpuBatchHasher::Impl {
  struct Slot {
    Stream stream;
    Event done{false};
    bool busy = false;
    std::size_t begin = 0, end = 0;  // images of the chunk in flight (indices into the call)
    PinnedBuffer<uint8_t> h_stage;
    DeviceBuffer<uint8_t> d_stage;
    DeviceBuffer<float> arena;
    PinnedBuffer<ImageDesc> h_desc;
    DeviceBuffer<ImageDesc> d_desc;
    PinnedBuffer<int32_t> h_gp;
    DeviceBuffer<int32_t> d_gp;
    PinnedBuffer<int64_t> h_cp;
    DeviceBuffer<int64_t> d_cp;
    PinnedBuffer<uint32_t> h_words;
    DeviceBuffer<uint32_t> d_words;
    PinnedBuffer<int32_t> h_q;
    DeviceBuffer<int32_t> d_q;
  };

  BatchOptions opts;
  int device = 0;
  std::string name;
  DeviceBuffer<float> dct;
  std::vector<Slot> slots;
  Stats stats;

  explicit Impl(const BatchOptions& o) : opts(o), device(o.device) {
    std::string why;
    const auto gpus = list_gpus(&why);
    if (gpus.empty()) throw CudaError("GPU PDQ: no GPU (" + why + ")");
    if (device < 0 || device >= static_cast<int>(gpus.size())) {
      throw CudaError("GPU PDQ: device " + std::to_string(device) + " does not exist (" +
                      std::to_string(gpus.size()) + " visible)");
    }
    name = gpus[device].name;
    if (opts.slots < 1) opts.slots = 1;
    if (opts.limits.max_images < 1) opts.limits.max_images = 1;
    cuda::DeviceGuard guard(device);
    const auto& m = dct_matrix();
    dct = DeviceBuffer<float>(m.size());
    HM_CUDA_TRY(cudaMemcpy(dct.data(), m.data(), m.size() * sizeof(float), cudaMemcpyHostToDevice));
    slots.resize(opts.slots);
  }

  // Waits for a slot's chunk and copies its results out.
  void harvest(Slot& s, std::vector<PdqDihedral>& results) {
    if (!s.busy) return;
    s.done.synchronize();
    s.busy = false;
    for (std::size_t i = s.begin; i < s.end; ++i) {
      const std::size_t k = i - s.begin;
      const uint32_t* w = s.h_words.data() + k * detail::kWordsPerImage;
      PdqDihedral& r = results[i];
      for (int v = 0; v < kNumDihedral; ++v) {
        for (int m = 0; m < 4; ++m) {
          r.hashes[v].w[m] = uint64_t{w[v * 8 + 2 * m]} | (uint64_t{w[v * 8 + 2 * m + 1]} << 32);
        }
      }
      r.quality = s.h_q[k];
    }
  }

  void drain_no_throw() noexcept {
    for (Slot& s : slots) {
      if (s.busy) HM_CUDA_TRY_NO_THROW(cudaEventSynchronize(s.done.get()));
      s.busy = false;
    }
  }

  std::vector<PdqDihedral> run(std::span<const Item> items, bool dihedral, void* wait_stream) {
    for (std::size_t i = 0; i < items.size(); ++i) validate_item(items[i], i);
    std::vector<PdqDihedral> results(items.size());
    if (items.empty()) return results;
    cuda::DeviceGuard guard(device);
    ++stats.calls;
    std::vector<PlanInput> inputs(items.size());
    for (std::size_t i = 0; i < items.size(); ++i) {
      inputs[i] = PlanInput{items[i].view.width, items[i].view.height, staged_bytes(items[i])};
    }
    const BatchPlan plan = plan_batch(inputs, opts.prescale, opts.limits);

    Event start_after(false);
    if (wait_stream) start_after.record(static_cast<cudaStream_t>(wait_stream));
    try {
      for (std::size_t ci = 0; ci < plan.chunks.size(); ++ci) {
        Slot& s = slots[ci % slots.size()];
        harvest(s, results);
        enqueue_chunk(s, plan, plan.chunks[ci], items, dihedral,
                      wait_stream ? start_after.get() : nullptr);
        ++stats.chunks;
      }
      for (Slot& s : slots) harvest(s, results);
    } catch (...) {
      drain_no_throw();
      throw;
    }
    stats.images += items.size();
    return results;
  }

  void enqueue_chunk(Slot& s, const BatchPlan& plan, const Chunk& c, std::span<const Item> items,
                     bool dihedral, cudaEvent_t start_after) {
    const std::size_t n = c.end - c.begin;
    const std::size_t max_n = static_cast<std::size_t>(opts.limits.max_images);
    ensure(s.arena, c.arena_floats, opts.limits.arena_floats, &stats.buffer_grows);
    if (c.staging_bytes > 0) {
      ensure(s.h_stage, c.staging_bytes, opts.limits.staging_bytes, &stats.buffer_grows);
      ensure(s.d_stage, c.staging_bytes, opts.limits.staging_bytes, &stats.buffer_grows);
    }
    ensure(s.h_desc, n, max_n, &stats.buffer_grows);
    ensure(s.d_desc, n, max_n, &stats.buffer_grows);
    ensure(s.h_gp, n + 1, max_n + 1, &stats.buffer_grows);
    ensure(s.d_gp, n + 1, max_n + 1, &stats.buffer_grows);
    ensure(s.h_cp, n + 1, max_n + 1, &stats.buffer_grows);
    ensure(s.d_cp, n + 1, max_n + 1, &stats.buffer_grows);
    ensure(s.h_words, n * detail::kWordsPerImage, max_n * detail::kWordsPerImage,
           &stats.buffer_grows);
    ensure(s.d_words, n * detail::kWordsPerImage, max_n * detail::kWordsPerImage,
           &stats.buffer_grows);
    ensure(s.h_q, n, max_n, &stats.buffer_grows);
    ensure(s.d_q, n, max_n, &stats.buffer_grows);
    const cudaStream_t st = s.stream.get();
    if (start_after) HM_CUDA_TRY(cudaStreamWaitEvent(st, start_after, 0));

    // Pack host pixels (tight pitches) and describe every image.
    for (std::size_t i = c.begin; i < c.end; ++i) {
      const Item& it = items[i];
      const ImagePlan& p = plan.images[i];
      ImageDesc d{};
      const FrameView& v = it.view;
      if (it.on_host) {
        std::size_t off = p.staging_off;
        for (int k = 0; k < plane_count(v.format); ++k) {
          const int pitch = frame_plane_pitch(v.format, v.width, k);
          const int rows = k == 0 ? v.height : (v.height + 1) / 2;
          uint8_t* dst = s.h_stage.data() + off;
          for (int r = 0; r < rows; ++r) {
            std::memcpy(dst + std::size_t(r) * pitch, v.planes[k] + std::size_t(r) * v.pitches[k],
                        pitch);
          }
          d.plane[k] = s.d_stage.data() + off;
          d.pitch[k] = pitch;
          off += std::size_t(rows) * pitch;
        }
      } else {
        for (int k = 0; k < 3; ++k) {
          d.plane[k] = v.planes[k];
          d.pitch[k] = v.pitches[k];
        }
      }
      d.format = it.grey_step3 ? steps::kDescGreyStep3 : static_cast<int32_t>(v.format);
      d.matrix = static_cast<int32_t>(v.matrix);
      d.src_w = v.width;
      d.src_h = v.height;
      d.cols = p.cols;
      d.rows = p.rows;
      d.prescaled = p.prescaled ? 1 : 0;
      d.mode = static_cast<int32_t>(p.mode);
      d.tmp_off = static_cast<int64_t>(p.tmp_off);
      d.buf_off = static_cast<int64_t>(p.buf_off);
      d.nar_off = static_cast<int64_t>(p.nar_off);
      d.a64_off = static_cast<int64_t>(p.a64_off);
      const std::size_t k = i - c.begin;
      s.h_desc[k] = d;
      s.h_gp[k] = p.group_begin;
      s.h_cp[k] = p.col_begin;
    }
    s.h_gp[n] = c.row_groups;
    s.h_cp[n] = c.columns;

    if (c.staging_bytes > 0) {
      HM_CUDA_TRY(cudaMemcpyAsync(s.d_stage.data(), s.h_stage.data(), c.staging_bytes,
                                  cudaMemcpyHostToDevice, st));
    }
    s.d_desc.copy_from_host(s.h_desc.data(), n, st);
    s.d_gp.copy_from_host(s.h_gp.data(), n + 1, st);
    s.d_cp.copy_from_host(s.h_cp.data(), n + 1, st);

    detail::PipelineArgs a;
    a.descs = s.d_desc.data();
    a.group_prefix = s.d_gp.data();
    a.col_prefix = s.d_cp.data();
    a.n = static_cast<int>(n);
    a.row_groups = c.row_groups;
    a.columns = c.columns;
    a.arena = s.arena.data();
    a.dct = dct.data();
    a.out_words = s.d_words.data();
    a.out_quality = s.d_q.data();
    a.dihedral = dihedral;
    detail::launch_pipeline(a, st);

    s.d_words.copy_to_host(s.h_words.data(), n * detail::kWordsPerImage, st);
    s.d_q.copy_to_host(s.h_q.data(), n, st);
    s.done.record(st);
    s.busy = true;
    s.begin = c.begin;
    s.end = c.end;
  }
};

GpuBatchHasher::GpuBatchHasher(const BatchOptions& opts) : impl_(std::make_unique<Impl>(opts)) {}
GpuBatchHasher::~GpuBatchHasher() {
  if (impl_) impl_->drain_no_throw();
}

std::vector<PdqDihedral> GpuBatchHasher::hash_items(std::span<const Item> items, bool dihedral,
                                                    void* stream) {
  return impl_->run(items, dihedral, stream);
}

std::vector<PdqDihedral> GpuBatchHasher::hash_images(std::span<const Image* const> images,
                                                     bool dihedral) {
  std::vector<Item> items(images.size());
  for (std::size_t i = 0; i < images.size(); ++i) {
    const Image* img = images[i];
    if (!img) throw InvalidArgument("hash_images: null image");
    if (img->channels != 1 && img->channels != 3) {
      throw InvalidArgument("hash_images: image with " + std::to_string(img->channels) +
                            " channels (1 or 3 expected)");
    }
    Item& it = items[i];
    it.on_host = true;
    it.view.format = img->channels == 1 ? PixelFormat::kGrey : PixelFormat::kRgb24;
    it.view.width = img->width;
    it.view.height = img->height;
    it.view.planes[0] = img->pixels.data();
    it.view.pitches[0] = static_cast<int>(img->row_bytes());
    if (img->width <= 0 || img->height <= 0) {
      // Degenerate images hash to zero, as on the CPU; keep the plan valid with a 1x1 dummy view.
      static const uint8_t zero[3] = {0, 0, 0};
      it.view.width = std::max(img->width, 1);
      it.view.height = std::max(img->height, 1);
      it.view.planes[0] = zero;
      it.view.pitches[0] = 3;
      it.view.format = PixelFormat::kRgb24;
    }
  }
  return hash_items(items, dihedral, nullptr);
}

std::vector<PdqDihedral> GpuBatchHasher::hash_frames(std::span<const FrameView> frames,
                                                     bool dihedral) {
  std::vector<Item> items(frames.size());
  for (std::size_t i = 0; i < frames.size(); ++i) items[i] = Item{frames[i], true, false};
  return hash_items(items, dihedral, nullptr);
}

std::vector<PdqDihedral> GpuBatchHasher::hash_device_frames(std::span<const FrameView> frames,
                                                            bool dihedral, void* stream) {
  std::vector<Item> items(frames.size());
  for (std::size_t i = 0; i < frames.size(); ++i) items[i] = Item{frames[i], false, false};
  return hash_items(items, dihedral, stream);
}

std::string GpuBatchHasher::description() const {
  return "cuda (" + impl_->name + ", device " + std::to_string(impl_->device) + ")";
}

GpuBatchHasher::Stats GpuBatchHasher::stats() const { return impl_->stats; }
int GpuBatchHasher::device() const { return impl_->device; }

void register_gpu_backend() {
  register_gpu_factory([](const BatchOptions& o) -> std::unique_ptr<BatchHasher> {
    return std::make_unique<GpuBatchHasher>(o);
  });
}

}  // namespace hashmatch::pdq
