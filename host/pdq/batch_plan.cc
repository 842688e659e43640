#include "host/pdq/batch_plan.h"

#include "host/common/error.h"
#include "host/pdq/pdq.h"

namespace hashmatch::pdq {
namespace {

std::size_t align_up(std::size_t v, std::size_t a) { return (v + a - 1) / a * a; }

struct Needs {
  std::size_t plane = 0;  // rows * cols, aligned (tmp and buf each)
  std::size_t nar = 0;    // rows * 64, aligned
  std::size_t a64 = 0;
};

Needs needs_of(const ImagePlan& p) {
  Needs n;
  if (p.mode == GpuMode::kFilter) {
    n.plane = align_up(std::size_t(p.rows) * p.cols, kArenaAlign);
    n.nar = align_up(std::size_t(p.rows) * kDownsampled, kArenaAlign);
  } else if (p.mode == GpuMode::kDirect) {
    n.a64 = std::size_t(kDownsampled) * kDownsampled;
  }
  return n;
}

std::size_t total(const Needs& n) { return 2 * n.plane + n.nar + n.a64; }

}  // namespace

ImagePlan plan_geometry(int width, int height, int prescale) {
  if (width < 0 || height < 0) throw InvalidArgument("negative image size");
  ImagePlan p;
  p.cols = width;
  p.rows = height;
  if (prescale > 0 && (width > prescale || height > prescale)) {
    p.cols = p.rows = prescale;
    p.prescaled = true;
  }
  if (p.rows < kMinDimension || p.cols < kMinDimension) {
    p.mode = GpuMode::kTiny;
  } else if (p.rows == kDownsampled && p.cols == kDownsampled) {
    p.mode = GpuMode::kDirect;
  } else {
    p.mode = GpuMode::kFilter;
  }
  return p;
}

std::size_t arena_floats_for(const ImagePlan& p) { return total(needs_of(p)); }

BatchPlan plan_batch(std::span<const PlanInput> inputs, int prescale, const PlanLimits& limits) {
  if (limits.max_images < 1) throw InvalidArgument("plan_batch: max_images must be >= 1");
  BatchPlan plan;
  plan.images.reserve(inputs.size());
  for (const PlanInput& in : inputs) plan.images.push_back(plan_geometry(in.width, in.height, prescale));

  std::size_t i = 0;
  while (i < inputs.size()) {
    // Grow the chunk greedily while the sums fit (the first image always goes in).
    Chunk c;
    c.begin = i;
    std::size_t plane = 0, nar = 0, a64 = 0, staging = 0;
    std::size_t j = i;
    for (; j < inputs.size(); ++j) {
      if (int(j - i) >= limits.max_images) break;
      const Needs n = needs_of(plan.images[j]);
      const std::size_t st = align_up(inputs[j].staged_bytes, kStagingAlign);
      const std::size_t arena_after = 2 * (plane + n.plane) + nar + n.nar + a64 + n.a64;
      if (j > i && (arena_after > limits.arena_floats || staging + st > limits.staging_bytes)) break;
      plane += n.plane;
      nar += n.nar;
      a64 += n.a64;
      staging += st;
    }
    c.end = j;
    // Lay the regions out: [tmp | buf | nar | a64].
    std::size_t tmp_at = 0, buf_at = plane, nar_at = 2 * plane, a64_at = 2 * plane + nar;
    std::size_t st_at = 0;
    int groups = 0;
    int64_t cols = 0;
    for (std::size_t k = c.begin; k < c.end; ++k) {
      ImagePlan& p = plan.images[k];
      const Needs n = needs_of(p);
      p.tmp_off = tmp_at;
      p.buf_off = buf_at;
      p.nar_off = nar_at;
      p.a64_off = a64_at;
      tmp_at += n.plane;
      buf_at += n.plane;
      nar_at += n.nar;
      a64_at += n.a64;
      p.staging_off = st_at;
      st_at += align_up(inputs[k].staged_bytes, kStagingAlign);
      p.group_begin = groups;
      if (p.mode != GpuMode::kTiny) groups += (p.rows + kRowGroup - 1) / kRowGroup;
      p.col_begin = cols;
      if (p.mode == GpuMode::kFilter) cols += p.cols;
    }
    c.arena_floats = 2 * plane + nar + a64;
    c.staging_bytes = staging;
    c.row_groups = groups;
    c.columns = cols;
    plan.chunks.push_back(c);
    i = j;
  }
  return plan;
}

}  // namespace hashmatch::pdq
