#include "kernels/pdq/gpu_jpeg.h"

#include <dlfcn.h>

#include <algorithm>
#include <cstdlib>
#include <mutex>

#include "host/common/error.h"
#include "host/pdq/jpeg_route.h"
#include "kernels/rt/cuda_rt.h"

#if defined(HASHMATCH_HAVE_NVJPEG)
#include <nvjpeg.h>
#endif

namespace hashmatch::pdq {

#if !defined(HASHMATCH_HAVE_NVJPEG)

bool nvjpeg_compiled() { return false; }
std::string nvjpeg_status() { return "not compiled in (nvjpeg.h not found at build time)"; }

struct GpuJpegHasher::Impl {};
GpuJpegHasher::GpuJpegHasher(const BatchOptions&, int, std::size_t) {
  throw CudaError("GPU JPEG decoding: this build has no nvJPEG support");
}
GpuJpegHasher::~GpuJpegHasher() = default;
std::vector<JpegHashResult> GpuJpegHasher::hash(std::span<const std::span<const uint8_t>>, bool,
                                                const DecodeLimits&) {
  return {};
}
Image GpuJpegHasher::decode_nvjpeg(std::span<const uint8_t>) { return {}; }
std::string GpuJpegHasher::backend_name() const { return "none"; }
GpuBatchHasher& GpuJpegHasher::pdq_hasher() { throw CudaError("no nvJPEG"); }

#else

namespace {

// ---- the library, loaded once --------------------------------------------------------------------
struct NvJpegApi {
  bool loaded = false;
  std::string error;  // why not loaded
  std::string path;
  int version[3] = {0, 0, 0};
#define HM_NVJPEG_FN(name) decltype(&::name) name = nullptr;
  HM_NVJPEG_FN(nvjpegGetProperty)
  HM_NVJPEG_FN(nvjpegCreateEx)
  HM_NVJPEG_FN(nvjpegDestroy)
  HM_NVJPEG_FN(nvjpegJpegStateCreate)
  HM_NVJPEG_FN(nvjpegJpegStateDestroy)
  HM_NVJPEG_FN(nvjpegGetImageInfo)
  HM_NVJPEG_FN(nvjpegDecode)
  HM_NVJPEG_FN(nvjpegDecodeBatchedInitialize)
  HM_NVJPEG_FN(nvjpegDecodeBatched)
  HM_NVJPEG_FN(nvjpegJpegStreamCreate)
  HM_NVJPEG_FN(nvjpegJpegStreamDestroy)
  HM_NVJPEG_FN(nvjpegJpegStreamParse)
  HM_NVJPEG_FN(nvjpegDecodeBatchedSupported)
#undef HM_NVJPEG_FN
};

const NvJpegApi& api() {
  static NvJpegApi a;
  static std::once_flag once;
  std::call_once(once, [] {
    std::vector<std::string> candidates;
    if (const char* env = std::getenv("HASHMATCH_NVJPEG_LIB")) candidates.push_back(env);
    candidates.push_back(HASHMATCH_NVJPEG_SONAME);
    candidates.push_back("/usr/local/cuda/lib64/" HASHMATCH_NVJPEG_SONAME);
    if (std::string(HASHMATCH_NVJPEG_HINT_DIR).size()) {
      candidates.push_back(std::string(HASHMATCH_NVJPEG_HINT_DIR) + "/" HASHMATCH_NVJPEG_SONAME);
    }
    void* h = nullptr;
    std::string errors;
    for (const std::string& c : candidates) {
      h = dlopen(c.c_str(), RTLD_NOW | RTLD_LOCAL);
      if (h) {
        a.path = c;
        break;
      }
      const char* e = dlerror();
      errors += (errors.empty() ? "" : "; ") + std::string(e ? e : c.c_str());
    }
    if (!h) {
      a.error = errors;
      return;
    }
    bool ok = true;
#define HM_NVJPEG_LOAD(name)                                              \
  a.name = reinterpret_cast<decltype(a.name)>(dlsym(h, #name));           \
  if (!a.name) {                                                          \
    ok = false;                                                           \
    a.error += std::string(a.error.empty() ? "" : "; ") + "no symbol " #name; \
  }
    HM_NVJPEG_LOAD(nvjpegGetProperty)
    HM_NVJPEG_LOAD(nvjpegCreateEx)
    HM_NVJPEG_LOAD(nvjpegDestroy)
    HM_NVJPEG_LOAD(nvjpegJpegStateCreate)
    HM_NVJPEG_LOAD(nvjpegJpegStateDestroy)
    HM_NVJPEG_LOAD(nvjpegGetImageInfo)
    HM_NVJPEG_LOAD(nvjpegDecode)
    HM_NVJPEG_LOAD(nvjpegDecodeBatchedInitialize)
    HM_NVJPEG_LOAD(nvjpegDecodeBatched)
    HM_NVJPEG_LOAD(nvjpegJpegStreamCreate)
    HM_NVJPEG_LOAD(nvjpegJpegStreamDestroy)
    HM_NVJPEG_LOAD(nvjpegJpegStreamParse)
    HM_NVJPEG_LOAD(nvjpegDecodeBatchedSupported)
#undef HM_NVJPEG_LOAD
    if (!ok) return;  // the handle stays open: harmless
    a.nvjpegGetProperty(MAJOR_VERSION, &a.version[0]);
    a.nvjpegGetProperty(MINOR_VERSION, &a.version[1]);
    a.nvjpegGetProperty(PATCH_LEVEL, &a.version[2]);
    a.loaded = true;
  });
  return a;
}

const char* status_name(nvjpegStatus_t s) {
  switch (s) {
    case NVJPEG_STATUS_SUCCESS: return "SUCCESS";
    case NVJPEG_STATUS_NOT_INITIALIZED: return "NOT_INITIALIZED";
    case NVJPEG_STATUS_INVALID_PARAMETER: return "INVALID_PARAMETER";
    case NVJPEG_STATUS_BAD_JPEG: return "BAD_JPEG";
    case NVJPEG_STATUS_JPEG_NOT_SUPPORTED: return "JPEG_NOT_SUPPORTED";
    case NVJPEG_STATUS_ALLOCATOR_FAILURE: return "ALLOCATOR_FAILURE";
    case NVJPEG_STATUS_EXECUTION_FAILED: return "EXECUTION_FAILED";
    case NVJPEG_STATUS_ARCH_MISMATCH: return "ARCH_MISMATCH";
    case NVJPEG_STATUS_INTERNAL_ERROR: return "INTERNAL_ERROR";
    case NVJPEG_STATUS_IMPLEMENTATION_NOT_SUPPORTED: return "IMPLEMENTATION_NOT_SUPPORTED";
    case NVJPEG_STATUS_INCOMPLETE_BITSTREAM: return "INCOMPLETE_BITSTREAM";
  }
  return "UNKNOWN";
}

#define HM_NVJPEG_TRY(call)                                                                  \
  do {                                                                                       \
    const nvjpegStatus_t hm_st_ = (call);                                                    \
    if (hm_st_ != NVJPEG_STATUS_SUCCESS) {                                                   \
      throw CudaError(std::string("nvJPEG error ") + status_name(hm_st_) + " in " #call);     \
    }                                                                                        \
  } while (0)

}  // namespace

bool nvjpeg_compiled() { return true; }

std::string nvjpeg_status() {
  const NvJpegApi& a = api();
  if (!a.loaded) return "library not loadable (" + a.error + ")";
  return a.path + " (nvJPEG " + std::to_string(a.version[0]) + "." + std::to_string(a.version[1]) +
         "." + std::to_string(a.version[2]) + ")";
}

struct GpuJpegHasher::Impl {
  const NvJpegApi& a;
  GpuBatchHasher pdq;
  int max_batch;
  std::size_t budget;
  nvjpegHandle_t handle = nullptr;
  nvjpegJpegState_t batch_state = nullptr;
  nvjpegJpegState_t single_state = nullptr;
  nvjpegJpegStream_t stream_info = nullptr;
  std::string backend = "default";
  bool hardware = false;
  cuda::Stream stream;
  cuda::DeviceBuffer<uint8_t> out;  // decoded RGBI images of one sub-batch

  Impl(const BatchOptions& opts, int mb, std::size_t bud)
      : a(api()), pdq(opts), max_batch(std::max(1, mb)), budget(bud) {
    if (!a.loaded) throw CudaError("nvJPEG: library not loadable (" + a.error + ")");
    cuda::DeviceGuard guard(pdq.device());
    const std::pair<nvjpegBackend_t, const char*> tries[] = {
        {NVJPEG_BACKEND_HARDWARE, "hardware"},
        {NVJPEG_BACKEND_GPU_HYBRID, "gpu-hybrid"},
        {NVJPEG_BACKEND_DEFAULT, "default"}};
    nvjpegStatus_t last = NVJPEG_STATUS_SUCCESS;
    for (const auto& [b, name] : tries) {
      last = a.nvjpegCreateEx(b, nullptr, nullptr, 0, &handle);
      if (last == NVJPEG_STATUS_SUCCESS) {
        backend = name;
        hardware = b == NVJPEG_BACKEND_HARDWARE;
        break;
      }
      handle = nullptr;
    }
    if (!handle) throw CudaError(std::string("nvJPEG: no backend could be created: ") + status_name(last));
    try {
      HM_NVJPEG_TRY(a.nvjpegJpegStateCreate(handle, &batch_state));
      HM_NVJPEG_TRY(a.nvjpegJpegStateCreate(handle, &single_state));
      HM_NVJPEG_TRY(a.nvjpegJpegStreamCreate(handle, &stream_info));
    } catch (...) {
      release();
      throw;
    }
  }
  ~Impl() { release(); }
  void release() noexcept {
    if (stream_info) a.nvjpegJpegStreamDestroy(stream_info);
    if (single_state) a.nvjpegJpegStateDestroy(single_state);
    if (batch_state) a.nvjpegJpegStateDestroy(batch_state);
    if (handle) a.nvjpegDestroy(handle);
    stream_info = nullptr;
    single_state = batch_state = nullptr;
    handle = nullptr;
  }

  // Empty when nvJPEG may decode the file; else why not. Fills w, h, grey.
  std::string gpu_route(std::span<const uint8_t> f, const DecodeLimits& limits, int* w, int* h,
                        bool* grey) {
    const JpegHeaderInfo hi = parse_jpeg_header(f);
    std::string why;
    if (!hi.valid) return "not a parsable JPEG";
    if (!gpu_jpeg_eligible(hi, &why)) return why;
    if (uint64_t(hi.width) * hi.height > limits.max_pixels || hi.width > limits.max_dimension ||
        hi.height > limits.max_dimension) {
      return "over the pixel limits";  // the CPU path reports the error
    }
    int nc = 0;
    nvjpegChromaSubsampling_t css;
    int ws[NVJPEG_MAX_COMPONENT] = {0}, hs[NVJPEG_MAX_COMPONENT] = {0};
    if (a.nvjpegGetImageInfo(handle, f.data(), f.size(), &nc, &css, ws, hs) != NVJPEG_STATUS_SUCCESS) {
      return "nvJPEG cannot read the header";
    }
    if (css == NVJPEG_CSS_UNKNOWN) return "unsupported chroma subsampling";
    if (ws[0] != hi.width || hs[0] != hi.height) return "size disagreement";
    if (hardware) {
      int unsupported = 1;
      if (a.nvjpegJpegStreamParse(handle, f.data(), f.size(), 0, 0, stream_info) !=
              NVJPEG_STATUS_SUCCESS ||
          a.nvjpegDecodeBatchedSupported(handle, stream_info, &unsupported) != NVJPEG_STATUS_SUCCESS ||
          unsupported != 0) {
        return "not supported by the hardware decoder";
      }
    }
    *w = hi.width;
    *h = hi.height;
    *grey = hi.components == 1;
    return "";
  }

  struct Pending {
    std::size_t index;
    int w, h;
    bool grey;
    std::size_t off;
  };

  // Decodes a sub-batch into `out` (RGBI), returns per image whether it decoded.
  std::vector<bool> decode_batch(std::span<const std::span<const uint8_t>> files,
                                 const std::vector<Pending>& batch) {
    std::vector<const unsigned char*> data;
    std::vector<size_t> lengths;
    std::vector<nvjpegImage_t> dest(batch.size());
    for (std::size_t k = 0; k < batch.size(); ++k) {
      const Pending& p = batch[k];
      data.push_back(files[p.index].data());
      lengths.push_back(files[p.index].size());
      dest[k] = nvjpegImage_t{};
      dest[k].channel[0] = out.data() + p.off;
      dest[k].pitch[0] = std::size_t(p.w) * 3;
    }
    std::vector<bool> ok(batch.size(), true);
    const int n = static_cast<int>(batch.size());
    nvjpegStatus_t st = a.nvjpegDecodeBatchedInitialize(handle, batch_state, n, 1, NVJPEG_OUTPUT_RGBI);
    if (st == NVJPEG_STATUS_SUCCESS) {
      st = a.nvjpegDecodeBatched(handle, batch_state, data.data(), lengths.data(), dest.data(),
                                 stream.get());
    }
    if (st == NVJPEG_STATUS_SUCCESS) return ok;
    // One bad file fails the whole batched call: decode one by one, marking failures.
    for (std::size_t k = 0; k < batch.size(); ++k) {
      ok[k] = a.nvjpegDecode(handle, single_state, data[k], lengths[k], NVJPEG_OUTPUT_RGBI, &dest[k],
                             stream.get()) == NVJPEG_STATUS_SUCCESS;
    }
    (void)cudaGetLastError();
    return ok;
  }

  std::vector<JpegHashResult> hash(std::span<const std::span<const uint8_t>> files, bool dihedral,
                                   const DecodeLimits& limits) {
    cuda::DeviceGuard guard(pdq.device());
    std::vector<JpegHashResult> results(files.size());
    std::vector<std::size_t> cpu;  // indices for the CPU decoder
    std::vector<Pending> gpu;
    for (std::size_t i = 0; i < files.size(); ++i) {
      Pending p{i, 0, 0, false, 0};
      const std::string why = gpu_route(files[i], limits, &p.w, &p.h, &p.grey);
      if (why.empty()) {
        gpu.push_back(p);
      } else {
        results[i].cpu_reason = why;
        cpu.push_back(i);
      }
    }
    // GPU: sub-batches bounded by count and decoded bytes.
    std::size_t at = 0;
    while (at < gpu.size()) {
      std::vector<Pending> batch;
      std::size_t bytes = 0;
      while (at < gpu.size() && static_cast<int>(batch.size()) < max_batch) {
        Pending p = gpu[at];
        const std::size_t need = (std::size_t(p.w) * p.h * 3 + 255) / 256 * 256;
        if (!batch.empty() && bytes + need > budget) break;
        p.off = bytes;
        bytes += need;
        batch.push_back(p);
        ++at;
      }
      if (out.size() < bytes) {
        const std::size_t want = std::max(bytes, std::min(budget, 2 * out.size()));
        out = cuda::DeviceBuffer<uint8_t>();  // free first: old and new need not coexist
        out = cuda::DeviceBuffer<uint8_t>(want);
      }
      const std::vector<bool> ok = decode_batch(files, batch);
      std::vector<GpuBatchHasher::Item> items;
      std::vector<std::size_t> owners;
      for (std::size_t k = 0; k < batch.size(); ++k) {
        const Pending& p = batch[k];
        if (!ok[k]) {
          results[p.index].cpu_reason = "nvJPEG failed";
          cpu.push_back(p.index);
          continue;
        }
        GpuBatchHasher::Item it;
        it.view.format = PixelFormat::kRgb24;
        it.view.width = p.w;
        it.view.height = p.h;
        it.view.planes[0] = out.data() + p.off;
        it.view.pitches[0] = p.w * 3;
        it.grey_step3 = p.grey;
        items.push_back(it);
        owners.push_back(p.index);
      }
      const std::vector<PdqDihedral> hashes = pdq.hash_items(items, dihedral, stream.get());
      for (std::size_t k = 0; k < owners.size(); ++k) {
        JpegHashResult& r = results[owners[k]];
        r.pdq = hashes[k];
        r.width = items[k].view.width;
        r.height = items[k].view.height;
        r.gpu_decoded = true;
      }
    }
    // CPU: libjpeg-turbo (or the other decoders), hashed on the GPU in one batch.
    std::sort(cpu.begin(), cpu.end());
    std::vector<Image> images;
    std::vector<std::size_t> owners;
    for (std::size_t i : cpu) {
      try {
        images.push_back(decode_image(files[i], limits));
        owners.push_back(i);
      } catch (const MediaError& e) {
        results[i].error = e.what();
        results[i].error_reason = e.reason();
      } catch (const std::bad_alloc&) {
        results[i].error = "out of memory while decoding";
        results[i].error_reason = "out_of_memory";
      }
    }
    std::vector<const Image*> ptrs;
    for (const Image& im : images) ptrs.push_back(&im);
    const std::vector<PdqDihedral> hashes = pdq.hash_images(ptrs, dihedral);
    for (std::size_t k = 0; k < owners.size(); ++k) {
      JpegHashResult& r = results[owners[k]];
      r.pdq = hashes[k];
      r.width = images[k].width;
      r.height = images[k].height;
    }
    return results;
  }

  Image decode_nvjpeg(std::span<const uint8_t> f) {
    cuda::DeviceGuard guard(pdq.device());
    Pending p{0, 0, 0, false, 0};
    const std::string why = gpu_route(f, DecodeLimits{}, &p.w, &p.h, &p.grey);
    if (!why.empty()) throw MediaError("unsupported", "nvJPEG path not taken: " + why);
    const std::size_t bytes = std::size_t(p.w) * p.h * 3;
    cuda::DeviceBuffer<uint8_t> dev(bytes);
    nvjpegImage_t dest{};
    dest.channel[0] = dev.data();
    dest.pitch[0] = std::size_t(p.w) * 3;
    const nvjpegStatus_t st =
        a.nvjpegDecode(handle, single_state, f.data(), f.size(), NVJPEG_OUTPUT_RGBI, &dest, stream.get());
    if (st != NVJPEG_STATUS_SUCCESS) {
      throw MediaError("corrupt", std::string("nvJPEG failed: ") + status_name(st));
    }
    std::vector<uint8_t> rgb(bytes);
    dev.copy_to_host(rgb.data(), bytes, stream.get());
    stream.synchronize();
    Image img;
    img.width = p.w;
    img.height = p.h;
    if (p.grey) {
      img.channels = 1;
      img.pixels.resize(std::size_t(p.w) * p.h);
      for (std::size_t i = 0; i < img.pixels.size(); ++i) img.pixels[i] = rgb[3 * i];
    } else {
      img.channels = 3;
      img.pixels = std::move(rgb);
    }
    return img;
  }
};

GpuJpegHasher::GpuJpegHasher(const BatchOptions& opts, int max_batch, std::size_t budget)
    : impl_(std::make_unique<Impl>(opts, max_batch, budget)) {}
GpuJpegHasher::~GpuJpegHasher() = default;
std::vector<JpegHashResult> GpuJpegHasher::hash(std::span<const std::span<const uint8_t>> files,
                                                bool dihedral, const DecodeLimits& limits) {
  return impl_->hash(files, dihedral, limits);
}
Image GpuJpegHasher::decode_nvjpeg(std::span<const uint8_t> jpeg) { return impl_->decode_nvjpeg(jpeg); }
std::string GpuJpegHasher::backend_name() const { return impl_->backend; }
GpuBatchHasher& GpuJpegHasher::pdq_hasher() { return impl_->pdq; }

#endif  // HASHMATCH_HAVE_NVJPEG

}  // namespace hashmatch::pdq
