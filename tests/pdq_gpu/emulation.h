// CPU emulation of the GPU PDQ kernels (kernels/pdq/pdq_kernels.cu): the same per-thread step
// functions (kernels/pdq/detail/pdq_steps.h) called in the kernels' order, with lanes, warps,
// blocks and threads as loops. Lets the planner, the descriptors, the tiling and the float order
// be tested against host/pdq/pdq.h on machines without a GPU.
#pragma once

#include <span>
#include <vector>

#include "host/pdq/batch_plan.h"
#include "host/pdq/frame.h"
#include "host/pdq/pdq.h"

namespace hashmatch::pdq::test {

struct EmuItem {
  FrameView view;  // host memory
  bool grey_step3 = false;
};

std::vector<PdqDihedral> emulate_gpu_pipeline(std::span<const EmuItem> items, int prescale,
                                              const PlanLimits& limits, bool dihedral);

}  // namespace hashmatch::pdq::test
