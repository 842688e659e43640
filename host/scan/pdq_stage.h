// Choice of the PDQ hashing backend of a scan: CPU hashing in the decode workers (no stage), or a
// batched stage on the GPU when one is compiled in and answers.
#pragma once

#include <memory>
#include <string>

#include "host/scan/scan_matcher.h"

namespace hashmatch::scan {

struct PdqStageOptions {
  std::string backend = "auto";      // auto | cpu | cuda
  std::string jpeg_decoder = "cpu";  // cpu (libjpeg-turbo, bit-exact) | gpu (nvJPEG, faster, not
                                     // bit-exact with the reference lists)
  int batch = 256;                   // images per GPU batch
  int device = 0;
  int prescale = 0;
};

// nullptr for the CPU backend (hashing in the workers). kCuda without a usable GPU throws
// CudaError saying why; kAuto falls back to the CPU. `why` receives the reason for the choice.
std::unique_ptr<BatchPdqStage> make_pdq_stage(const PdqStageOptions& opts, std::string* why);

}  // namespace hashmatch::scan
