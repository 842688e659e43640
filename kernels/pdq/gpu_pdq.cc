#include "kernels/pdq/gpu_pdq.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

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

// Packing host pixels into pinned staging is a plain memcpy, and one thread copies ~8 GB/s: at
// 6 MB per 1080p RGB frame that alone capped the host-memory path near 1,200 frames/s on an H100.
// A process-wide pool (shared by every hasher, so concurrent callers do not multiply threads)
// copies large chunks in parallel; the calling thread works too.
class CopyPool {
 public:
  static CopyPool& instance() {
    static CopyPool pool;
    return pool;
  }
  // Runs fn(0) .. fn(n - 1) (which must not throw) and returns when all have run.
  void run(std::size_t n, const std::function<void(std::size_t)>& fn) {
    if (n <= 1 || workers_.empty()) {
      for (std::size_t i = 0; i < n; ++i) fn(i);
      return;
    }
    auto job = std::make_shared<Job>();
    job->n = n;
    job->fn = &fn;
    {
      std::lock_guard<std::mutex> lk(mu_);
      jobs_.push_back(job);
    }
    cv_.notify_all();
    work_on(*job);
    std::unique_lock<std::mutex> lk(job->mu);
    job->cv.wait(lk, [&] { return job->done == job->n; });
  }
  ~CopyPool() {
    {
      std::lock_guard<std::mutex> lk(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
  }

 private:
  struct Job {
    std::atomic<std::size_t> next{0};
    std::size_t n = 0;
    const std::function<void(std::size_t)>* fn = nullptr;
    std::mutex mu;
    std::condition_variable cv;
    std::size_t done = 0;
  };
  CopyPool() {
    const unsigned hw = std::thread::hardware_concurrency();
    const unsigned n = std::min(8u, hw / 2);
    for (unsigned i = 0; i < n; ++i) workers_.emplace_back([this] { loop(); });
  }
  static void work_on(Job& j) {
    for (;;) {
      const std::size_t i = j.next.fetch_add(1);
      if (i >= j.n) return;
      (*j.fn)(i);
      std::lock_guard<std::mutex> lk(j.mu);
      if (++j.done == j.n) j.cv.notify_all();
    }
  }
  void loop() {
    std::unique_lock<std::mutex> lk(mu_);
    for (;;) {
      cv_.wait(lk, [&] { return stop_ || !jobs_.empty(); });
      if (stop_) return;
      std::shared_ptr<Job> job = jobs_.front();
      if (job->next.load() >= job->n) {  // handed out entirely: drop it from the queue
        jobs_.pop_front();
        continue;
      }
      lk.unlock();
      work_on(*job);
      lk.lock();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Job>> jobs_;
  bool stop_ = false;
  std::vector<std::thread> workers_;
};

struct RowCopy {
  uint8_t* dst;
  const uint8_t* src;
  int dst_pitch, src_pitch, row_bytes, rows;
};

void run_copies(const std::vector<RowCopy>& copies, std::size_t total_bytes) {
  auto one = [&](std::size_t i) {
    const RowCopy& c = copies[i];
    if (c.dst_pitch == c.src_pitch && c.row_bytes == c.src_pitch) {
      std::memcpy(c.dst, c.src, std::size_t(c.rows) * c.row_bytes);
      return;
    }
    for (int r = 0; r < c.rows; ++r) {
      std::memcpy(c.dst + std::size_t(r) * c.dst_pitch, c.src + std::size_t(r) * c.src_pitch,
                  c.row_bytes);
    }
  };
  if (total_bytes < (std::size_t{2} << 20)) {
    for (std::size_t i = 0; i < copies.size(); ++i) one(i);
  } else {
    CopyPool::instance().run(copies.size(), one);
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
    // A chunk of 1080p frames fills the GPU only when it is large: the row passes run one lane
    // per image row, so 1 GiB of scratch (~60 such frames) left an H100 mostly idle between
    // chunks. With the default limit, large GPUs get up to 4 GiB per chunk (1/20 of the device's
    // memory); buffers still grow only as far as a batch needs.
    if (opts.limits.arena_floats == PlanLimits{}.arena_floats) {
      const std::size_t bytes = std::clamp<std::size_t>(gpus[device].total_memory_bytes / 20,
                                                        opts.limits.arena_floats * sizeof(float),
                                                        std::size_t(4) << 30);
      opts.limits.arena_floats = bytes / sizeof(float);
    }
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

  // After an error too: a chunk that failed half-way through enqueue_chunk is not marked busy
  // but may have its upload or kernels queued, so every slot's stream is waited for, not its
  // event (the caller then gives the frames' memory back, and the pooled hasher reuses h_stage).
  void drain_no_throw() noexcept {
    for (Slot& s : slots) {
      if (s.stream.get()) HM_CUDA_TRY_NO_THROW(cudaStreamSynchronize(s.stream.get()));
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

    // Pack host pixels (tight pitches; row blocks of ~1 MB copied in parallel) and describe
    // every image.
    std::vector<RowCopy> copies;
    std::size_t copy_bytes = 0;
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
          const int block = std::max(1, (1 << 20) / std::max(1, pitch));
          for (int r = 0; r < rows; r += block) {
            copies.push_back({dst + std::size_t(r) * pitch, v.planes[k] + std::size_t(r) * v.pitches[k],
                              pitch, v.pitches[k], pitch, std::min(block, rows - r)});
          }
          copy_bytes += std::size_t(rows) * pitch;
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
    run_copies(copies, copy_bytes);
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
