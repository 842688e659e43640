#include "host/scan/pdq_stage.h"

#include "host/common/error.h"

namespace hashmatch::scan {

std::unique_ptr<BatchPdqStage> make_pdq_stage(const PdqStageOptions& opts, std::string* why) {
  if (opts.backend != "auto" && opts.backend != "cpu" && opts.backend != "cuda") {
    throw InvalidArgument("--backend must be auto, cpu or cuda, got '" + opts.backend + "'");
  }
  if (opts.jpeg_decoder != "cpu" && opts.jpeg_decoder != "gpu") {
    throw InvalidArgument("--jpeg-decoder must be cpu or gpu, got '" + opts.jpeg_decoder + "'");
  }
  if (opts.backend == "cuda" || opts.jpeg_decoder == "gpu") {
    throw CudaError("this build has no batched GPU PDQ (kernels/pdq): use --backend cpu");
  }
  if (why) *why = "cpu: PDQ in the decode workers (no GPU PDQ in this build)";
  return nullptr;
}

}  // namespace hashmatch::scan
