#include "monitoring/gpu_collector.h"

#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>

namespace hashmatch::monitoring {
namespace {

// The few NVML entry points used, declared here (stable C ABI of NVML; no header needed).
using nvmlReturn_t = int;
constexpr nvmlReturn_t kNvmlSuccess = 0;
using nvmlDevice_t = struct nvmlDevice_st*;
struct NvmlUtilization {
  unsigned int gpu;
  unsigned int memory;
};
struct NvmlMemory {
  unsigned long long total;
  unsigned long long free;
  unsigned long long used;
};
constexpr int kNvmlTemperatureGpu = 0;

}  // namespace

struct GpuCollector::Nvml {
  void* lib = nullptr;
  nvmlReturn_t (*init)() = nullptr;
  nvmlReturn_t (*shutdown)() = nullptr;
  nvmlReturn_t (*count)(unsigned int*) = nullptr;
  nvmlReturn_t (*handle)(unsigned int, nvmlDevice_t*) = nullptr;
  nvmlReturn_t (*name)(nvmlDevice_t, char*, unsigned int) = nullptr;
  nvmlReturn_t (*uuid)(nvmlDevice_t, char*, unsigned int) = nullptr;
  nvmlReturn_t (*utilization)(nvmlDevice_t, NvmlUtilization*) = nullptr;
  nvmlReturn_t (*memory)(nvmlDevice_t, NvmlMemory*) = nullptr;
  nvmlReturn_t (*temperature)(nvmlDevice_t, int, unsigned int*) = nullptr;
  nvmlReturn_t (*power)(nvmlDevice_t, unsigned int*) = nullptr;
  const char* (*error_string)(nvmlReturn_t) = nullptr;
  mutable std::mutex mu;  // NVML is thread-safe; this keeps scrapes from overlapping

  ~Nvml() {
    if (shutdown) shutdown();
    if (lib) dlclose(lib);
  }
};

namespace {
template <typename F>
bool load(void* lib, const char* sym, F*& out) {
  out = reinterpret_cast<F*>(dlsym(lib, sym));
  return out != nullptr;
}
}  // namespace

GpuCollector::GpuCollector() {
  const char* env = std::getenv("HASHMATCH_NVML_LIBRARY");
  const std::string libname = env && *env ? env : "libnvidia-ml.so.1";
  auto n = std::make_unique<Nvml>();
  n->lib = dlopen(libname.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!n->lib) {
    why_ = "NVML not loaded (" + libname + ": no NVIDIA driver?)";
    return;
  }
  bool ok = load(n->lib, "nvmlInit_v2", n->init) && load(n->lib, "nvmlShutdown", n->shutdown) &&
            load(n->lib, "nvmlDeviceGetCount_v2", n->count) &&
            load(n->lib, "nvmlDeviceGetHandleByIndex_v2", n->handle) &&
            load(n->lib, "nvmlDeviceGetName", n->name) &&
            load(n->lib, "nvmlDeviceGetUUID", n->uuid) &&
            load(n->lib, "nvmlDeviceGetUtilizationRates", n->utilization) &&
            load(n->lib, "nvmlDeviceGetMemoryInfo", n->memory) &&
            load(n->lib, "nvmlDeviceGetTemperature", n->temperature) &&
            load(n->lib, "nvmlDeviceGetPowerUsage", n->power) &&
            load(n->lib, "nvmlErrorString", n->error_string);
  if (!ok) {
    why_ = "NVML library " + libname + " lacks an expected symbol";
    n->shutdown = nullptr;
    return;
  }
  const nvmlReturn_t rc = n->init();
  if (rc != kNvmlSuccess) {
    why_ = std::string("nvmlInit failed: ") + n->error_string(rc);
    n->shutdown = nullptr;
    return;
  }
  nvml_ = std::move(n);
}

GpuCollector::~GpuCollector() = default;

bool GpuCollector::available() const { return nvml_ != nullptr; }

std::vector<GpuSample> GpuCollector::sample() const {
  std::vector<GpuSample> out;
  if (!nvml_) return out;
  const Nvml& n = *nvml_;
  std::lock_guard<std::mutex> lk(n.mu);
  unsigned int count = 0;
  if (n.count(&count) != kNvmlSuccess) return out;
  for (unsigned int i = 0; i < count; ++i) {
    nvmlDevice_t dev = nullptr;
    if (n.handle(i, &dev) != kNvmlSuccess) continue;
    GpuSample s;
    s.index = i;
    char buf[128] = {0};
    if (n.name(dev, buf, sizeof buf) == kNvmlSuccess) s.name = buf;
    char ubuf[128] = {0};
    if (n.uuid(dev, ubuf, sizeof ubuf) == kNvmlSuccess) s.uuid = ubuf;
    NvmlUtilization u{};
    if (n.utilization(dev, &u) == kNvmlSuccess) s.utilization_ratio = u.gpu / 100.0;
    NvmlMemory m{};
    if (n.memory(dev, &m) == kNvmlSuccess) {
      s.memory_used_bytes = static_cast<double>(m.used);
      s.memory_total_bytes = static_cast<double>(m.total);
    }
    unsigned int t = 0;
    if (n.temperature(dev, kNvmlTemperatureGpu, &t) == kNvmlSuccess) s.temperature_celsius = t;
    unsigned int mw = 0;
    if (n.power(dev, &mw) == kNvmlSuccess) s.power_watts = mw / 1000.0;
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<prometheus::MetricFamily> GpuCollector::Collect() const {
  const std::vector<GpuSample> samples = sample();
  if (samples.empty()) return {};
  struct Def {
    const char* name;
    const char* help;
    double GpuSample::*field;
  };
  static const Def defs[] = {
      {"hashmatch_gpu_utilization_ratio", "GPU busy share over the last NVML sample period (0..1)",
       &GpuSample::utilization_ratio},
      {"hashmatch_gpu_memory_used_bytes", "GPU memory in use", &GpuSample::memory_used_bytes},
      {"hashmatch_gpu_memory_total_bytes", "GPU memory in total", &GpuSample::memory_total_bytes},
      {"hashmatch_gpu_temperature_celsius", "GPU core temperature",
       &GpuSample::temperature_celsius},
      {"hashmatch_gpu_power_watts", "GPU power draw", &GpuSample::power_watts},
  };
  std::vector<prometheus::MetricFamily> families;
  for (const Def& d : defs) {
    prometheus::MetricFamily f;
    f.name = d.name;
    f.help = d.help;
    f.type = prometheus::MetricType::Gauge;
    for (const GpuSample& s : samples) {
      const double v = s.*(d.field);
      if (v < 0) continue;
      prometheus::ClientMetric m;
      m.label = {{"gpu", std::to_string(s.index)}, {"name", s.name}, {"uuid", s.uuid}};
      m.gauge.value = v;
      f.metric.push_back(std::move(m));
    }
    if (!f.metric.empty()) families.push_back(std::move(f));
  }
  return families;
}

}  // namespace hashmatch::monitoring
