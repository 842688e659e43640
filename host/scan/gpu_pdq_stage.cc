// The batched GPU PDQ stage of a scan (built when kernels/pdq is: HM_SCAN_WITH_GPU_PDQ). Images
// decoded by the workers (libjpeg-turbo & co., bit-exact) are hashed in batches by GpuBatchHasher;
// with --jpeg-decoder gpu, JPEG files are handed over as bytes and decoded by nvJPEG on the device
// (GpuJpegHasher; what nvJPEG should not decode goes to the CPU decoder inside it).
#include <cstdio>

#include "host/common/error.h"
#include "host/pdq/pdq_backend.h"
#include "host/scan/pdq_stage.h"
#include "kernels/pdq/gpu_jpeg.h"
#include "kernels/pdq/gpu_pdq.h"

namespace hashmatch::scan {
namespace {

class GpuPdqStage : public BatchPdqStage {
 public:
  GpuPdqStage(std::unique_ptr<pdq::BatchHasher> hasher, std::unique_ptr<pdq::GpuJpegHasher> jpeg,
              const PdqStageOptions& opts, DecodeLimits limits)
      : hasher_(std::move(hasher)), jpeg_(std::move(jpeg)), opts_(opts), limits_(limits) {}

  bool decodes(MediaFormat f) const override { return jpeg_ && f == MediaFormat::kJpeg; }

  void hash(std::span<ScanItem* const> items, bool dihedral) override {
    std::vector<const Image*> images;
    std::vector<ScanItem*> image_owners;
    std::vector<std::span<const uint8_t>> files;
    std::vector<ScanItem*> file_owners;
    for (ScanItem* it : items) {
      if (!it->bytes.empty()) {
        files.emplace_back(it->bytes);
        file_owners.push_back(it);
      } else {
        images.push_back(&it->image);
        image_owners.push_back(it);
      }
    }
    if (!images.empty()) {
      const std::vector<pdq::PdqDihedral> h = hasher_->hash_images(images, dihedral);
      for (std::size_t k = 0; k < h.size(); ++k) image_owners[k]->result.pdq = h[k];
    }
    if (!files.empty()) {
      const std::vector<pdq::JpegHashResult> r = jpeg_->hash(files, dihedral, limits_);
      for (std::size_t k = 0; k < r.size(); ++k) {
        MediaHashResult& out = file_owners[k]->result;
        if (!r[k].ok()) {
          out.error = r[k].error;
          out.error_reason = r[k].error_reason;
          continue;
        }
        out.pdq = r[k].pdq;
        out.width = r[k].width;
        out.height = r[k].height;
        if (r[k].gpu_decoded) ++gpu_decoded_;
      }
    }
  }

  std::size_t batch_size() const override { return static_cast<std::size_t>(opts_.batch); }

  std::string describe() const override {
    std::string s = hasher_->description() + ", batches of " + std::to_string(opts_.batch);
    if (jpeg_) s += ", JPEG decoded by nvJPEG (" + jpeg_->backend_name() + ")";
    return s;
  }

 private:
  std::unique_ptr<pdq::BatchHasher> hasher_;
  std::unique_ptr<pdq::GpuJpegHasher> jpeg_;
  PdqStageOptions opts_;
  DecodeLimits limits_;
  uint64_t gpu_decoded_ = 0;
};

}  // namespace

std::unique_ptr<BatchPdqStage> make_pdq_stage(const PdqStageOptions& opts, std::string* why) {
  if (opts.jpeg_decoder != "cpu" && opts.jpeg_decoder != "gpu") {
    throw InvalidArgument("--jpeg-decoder must be cpu or gpu, got '" + opts.jpeg_decoder + "'");
  }
  const pdq::BackendKind kind = pdq::parse_backend(opts.backend);
  if (kind == pdq::BackendKind::kCpu) {
    if (opts.jpeg_decoder == "gpu") throw InvalidArgument("--jpeg-decoder gpu needs the GPU backend");
    if (why) *why = "cpu: PDQ in the decode workers (--backend cpu)";
    return nullptr;
  }
  pdq::register_gpu_backend();
  pdq::BatchOptions bo;
  bo.prescale = opts.prescale;
  bo.device = opts.device;
  std::string reason;
  std::unique_ptr<pdq::BatchHasher> h = pdq::make_batch_hasher(kind, bo, &reason);
  if (h->backend() == "cpu") {  // auto without a usable GPU
    if (opts.jpeg_decoder == "gpu") throw CudaError("--jpeg-decoder gpu: " + reason);
    if (why) *why = reason + "; PDQ in the decode workers";
    return nullptr;
  }
  std::unique_ptr<pdq::GpuJpegHasher> jpeg;
  if (opts.jpeg_decoder == "gpu") {
    if (!pdq::nvjpeg_compiled()) throw CudaError("--jpeg-decoder gpu: nvJPEG is not compiled in");
    jpeg = std::make_unique<pdq::GpuJpegHasher>(bo, opts.batch);
  }
  DecodeLimits limits = decode_limits_from_env();
  if (why) *why = reason;
  return std::make_unique<GpuPdqStage>(std::move(h), std::move(jpeg), opts, limits);
}

}  // namespace hashmatch::scan
