#include "tests/pdq_gpu/emulation.h"

#include <cmath>
#include <limits>

#include "kernels/pdq/detail/pdq_steps.h"

namespace hashmatch::pdq::test {
namespace {

using namespace steps;

constexpr int kModeTiny = 0, kModeDirect = 1, kModeFilter = 2;

struct Chunk {
  std::vector<ImageDesc> descs;
  std::vector<int32_t> gp;
  std::vector<int64_t> cp;
  int n = 0, row_groups = 0;
  int64_t columns = 0;
  std::vector<float> arena;
  const float* dct = nullptr;
  std::vector<uint32_t> words;
  std::vector<int32_t> quality;
  bool dihedral = false;
};

// row_pass_kernel<kFirst>, block g (4 warps, lanes as loops).
template <bool kFirst>
void row_pass_block(Chunk& a, int g) {
  const int img = find_owner(a.gp.data(), a.n, static_cast<int32_t>(g));
  const ImageDesc d = a.descs[img];
  for (int warp = 0; warp < kRowWarps; ++warp) {
    const int r0 = (g - a.gp[img]) * (kRowWarps * kWarp) + warp * kWarp;
    if (d.mode == kModeTiny || r0 >= d.rows) continue;
    if (!kFirst && d.mode != kModeFilter) continue;
    if (kFirst && d.mode == kModeDirect) {
      float* a64 = a.arena.data() + d.a64_off;
      for (int rr = 0; rr < kWarp && r0 + rr < d.rows; ++rr) {
        for (int lane = 0; lane < kWarp; ++lane) {
          for (int c = lane; c < kN; c += kWarp) a64[(r0 + rr) * kN + c] = pixel_luma(d, r0 + rr, c);
        }
      }
      continue;
    }
    const Box b = make_box(d.cols);
    std::vector<float> tr(kWarp * kTilePitch), tl(kWarp * kTilePitch);
    const float* src = a.arena.data() + d.buf_off;
    float* tmp = a.arena.data() + d.tmp_off;
    float* nar = a.arena.data() + d.nar_off;
    const int rows_here = std::min(kWarp, d.rows - r0);
    float sum[kWarp] = {};
    int count[kWarp] = {};
    Sampler s[kWarp];
    for (int lane = 0; lane < kWarp; ++lane) s[lane] = make_sampler(d.cols);
    const int n = box_steps(b);
    for (int c0 = 0; c0 < n; c0 += kTileCols) {
      for (int lane = 0; lane < kWarp; ++lane) {
        int col_r, col_l;
        const bool ok_r = tile_col_r(b, c0, lane, &col_r);
        const bool ok_l = tile_col_l(b, c0, lane, &col_l);
        for (int rr = 0; rr < rows_here; ++rr) {
          const int row = r0 + rr;
          float vr = 0.0f, vl = 0.0f;
          if (kFirst) {
            if (ok_r) vr = pixel_luma(d, row, col_r);
            if (ok_l) vl = pixel_luma(d, row, col_l);
          } else {
            const float* line = src + static_cast<std::size_t>(row) * d.cols;
            if (ok_r) vr = line[col_r];
            if (ok_l) vl = line[col_l];
          }
          tr[rr * kTilePitch + lane] = vr;
          tl[rr * kTilePitch + lane] = vl;
        }
      }
      for (int lane = 0; lane < kWarp; ++lane) {
        const int my_row = r0 + lane;
        if (my_row >= d.rows) continue;
        float* my_r = tr.data() + lane * kTilePitch;
        const float* my_l = tl.data() + lane * kTilePitch;
        if (kFirst) {
          row_chunk(b, c0, my_r, my_l, &sum[lane], &count[lane], [](int, float) {});
        } else {
          float* out = nar + static_cast<std::size_t>(my_row) * kN;
          row_chunk(b, c0, my_r, my_l, &sum[lane], &count[lane], [&](int oi, float v) {
            sample(&s[lane], d.cols, oi, v, [&](int slot, float x) { out[slot] = x; });
          });
        }
      }
      if (kFirst) {
        for (int lane = 0; lane < kWarp; ++lane) {
          const int oi = tile_out_index(b, c0, lane);
          if (oi < 0) continue;
          for (int rr = 0; rr < rows_here; ++rr) {
            tmp[static_cast<std::size_t>(r0 + rr) * d.cols + oi] = tr[rr * kTilePitch + lane];
          }
        }
      }
    }
  }
}

void column_thread(Chunk& a, int64_t gid) {
  const int img = find_owner(a.cp.data(), a.n, gid);
  const ImageDesc d = a.descs[img];
  const int j = static_cast<int>(gid - a.cp[img]);
  const float* in = a.arena.data() + d.tmp_off + j;
  float* out = a.arena.data() + d.buf_off + j;
  const std::size_t stride = static_cast<std::size_t>(d.cols);
  box_line(in, stride, make_box(d.rows), [&](int oi, float v) { out[oi * stride] = v; });
}

void final_block(Chunk& a, int img) {
  constexpr int kP = kN + 1;
  std::vector<float> s_a(kN * kN, std::numeric_limits<float>::quiet_NaN()), s_d(kD * kP),
      s_t(kD * kP), s_b(kD * kD);
  float s_p[4][kD * kD];
  float s_med[4];
  const ImageDesc d = a.descs[img];
  uint32_t* out = a.words.data() + static_cast<std::size_t>(img) * 64;
  if (d.mode == kModeTiny) {
    for (int t = 0; t < 64; ++t) out[t] = 0;
    a.quality[img] = 0;
    return;
  }
  for (int k = 0; k < kD * kN; ++k) s_d[(k / kN) * kP + k % kN] = a.dct[k];
  if (d.mode == kModeDirect) {
    const float* a64 = a.arena.data() + d.a64_off;
    for (int k = 0; k < kN * kN; ++k) s_a[k] = a64[k];
  } else {
    for (int tid = 0; tid < kN; ++tid) {
      const float* in = a.arena.data() + d.nar_off + tid;
      Sampler s = make_sampler(d.rows);
      box_line(in, kN, make_box(d.rows), [&](int oi, float v) {
        sample(&s, d.rows, oi, v, [&](int slot, float x) { s_a[slot * kN + tid] = x; });
      });
    }
  }
  int q = 0;
  for (int p = 0; p < 2 * (kN - 1) * kN; ++p) q += quality_pair(s_a.data(), p);
  for (int e = 0; e < kD * kN; ++e) {
    const int i = e / kN, j = e % kN;
    s_t[i * kP + j] = dct_t(s_d.data(), kP, s_a.data(), kN, i, j);
  }
  const int patterns = a.dihedral ? 4 : 1;
  for (int tid = 0; tid < kFinalThreads; ++tid) {
    const float x = dct_b(s_t.data(), kP, s_d.data(), kP, tid / kD, tid % kD);
    s_b[tid] = x;
    for (int p = 0; p < patterns; ++p) s_p[p][tid] = pattern_value(p, tid, x);
  }
  for (int p = 0; p < patterns; ++p) {
    bool found = false;
    for (int tid = 0; tid < kFinalThreads; ++tid) {
      if (is_lower_median(s_p[p][tid], s_p[p])) {
        s_med[p] = s_p[p][tid];
        found = true;
      }
    }
    if (!found) s_med[p] = std::numeric_limits<float>::quiet_NaN();
  }
  const int variants = a.dihedral ? 8 : 1;
  for (int v = 0; v < 8; ++v) {
    for (int w = 0; w < 8; ++w) {
      uint32_t word = 0;
      if (v < variants) {
        for (int lane = 0; lane < kWarp; ++lane) {
          const int tid = w * kWarp + lane;
          const DihedralSource src = dihedral_source(v, tid);
          const float val = src.neg ? -s_b[src.src] : s_b[src.src];
          if (val > s_med[dihedral_pattern(v)]) word |= 1u << lane;
        }
      }
      out[v * 8 + w] = word;
    }
  }
  a.quality[img] = quality_from_sum(q);
}

}  // namespace

std::vector<PdqDihedral> emulate_gpu_pipeline(std::span<const EmuItem> items, int prescale,
                                              const PlanLimits& limits, bool dihedral) {
  std::vector<PlanInput> inputs;
  for (const EmuItem& it : items) inputs.push_back({it.view.width, it.view.height, 0});
  const BatchPlan plan = plan_batch(inputs, prescale, limits);
  std::vector<PdqDihedral> results(items.size());
  for (const pdq::Chunk& c : plan.chunks) {
    Chunk a;
    a.n = static_cast<int>(c.end - c.begin);
    a.row_groups = c.row_groups;
    a.columns = c.columns;
    // Poisoned scratch: a value read before it was written shows up as NaN in the hash.
    a.arena.assign(c.arena_floats, std::numeric_limits<float>::quiet_NaN());
    a.dct = dct_matrix().data();
    a.dihedral = dihedral;
    a.words.assign(std::size_t(a.n) * 64, 0xdeadbeefu);
    a.quality.assign(a.n, -1);
    for (std::size_t i = c.begin; i < c.end; ++i) {
      const ImagePlan& p = plan.images[i];
      const FrameView& v = items[i].view;
      ImageDesc d{};
      for (int k = 0; k < 3; ++k) {
        d.plane[k] = v.planes[k];
        d.pitch[k] = v.pitches[k];
      }
      d.format = items[i].grey_step3 ? kDescGreyStep3 : static_cast<int32_t>(v.format);
      d.matrix = static_cast<int32_t>(v.matrix);
      d.src_w = v.width;
      d.src_h = v.height;
      d.cols = p.cols;
      d.rows = p.rows;
      d.prescaled = p.prescaled;
      d.mode = static_cast<int32_t>(p.mode);
      d.tmp_off = p.tmp_off;
      d.buf_off = p.buf_off;
      d.nar_off = p.nar_off;
      d.a64_off = p.a64_off;
      a.descs.push_back(d);
      a.gp.push_back(p.group_begin);
      a.cp.push_back(p.col_begin);
    }
    a.gp.push_back(c.row_groups);
    a.cp.push_back(c.columns);
    for (int g = 0; g < a.row_groups; ++g) row_pass_block<true>(a, g);
    if (a.columns > 0) {
      for (int64_t gid = 0; gid < a.columns; ++gid) column_thread(a, gid);
      for (int g = 0; g < a.row_groups; ++g) row_pass_block<false>(a, g);
    }
    for (int img = 0; img < a.n; ++img) final_block(a, img);
    for (int k = 0; k < a.n; ++k) {
      PdqDihedral& r = results[c.begin + k];
      const uint32_t* w = a.words.data() + std::size_t(k) * 64;
      for (int v = 0; v < kNumDihedral; ++v) {
        for (int m = 0; m < 4; ++m) {
          r.hashes[v].w[m] = uint64_t{w[v * 8 + 2 * m]} | (uint64_t{w[v * 8 + 2 * m + 1]} << 32);
        }
      }
      r.quality = a.quality[k];
    }
  }
  return results;
}

}  // namespace hashmatch::pdq::test
