// Metric names and behaviour: Prometheus conventions (base units, _total counters), list-size
// series that follow the lists, and the GPU collector without a driver (no series, no failure).
#include <gtest/gtest.h>

#include <cstdlib>
#include <regex>
#include <sstream>

#include "monitoring/gpu_collector.h"
#include "monitoring/metrics.h"

namespace hashmatch::monitoring {
namespace {

TEST(Metrics, ExpositionFollowsPrometheusNaming) {
  Metrics m;
  m.set_build_info({"1.2.3", "none", "", "cpu"});
  m.observe_request("/v1/hash", 200, 0.004);
  m.observe_request("/v1/hash", 429, 0.0001);
  m.observe_queue_wait("pdq-cpu", 0.001);
  m.observe_batch("pdq-cpu", 17, 0.01);
  m.set_queue_depth("pdq-cpu", 3);
  m.add_frames_hashed("cpu", 17);
  m.add_comparisons("cpu-brute", 1e6);
  m.add_matches("ncmec", 2);
  m.add_decode_error("truncated");
  m.add_rejection("pdq-cpu");
  const std::string text = m.render();
  for (const char* s :
       {"hashmatch_http_requests_total{code=\"200\",endpoint=\"/v1/hash\"} 1",
        "hashmatch_http_requests_total{code=\"429\",endpoint=\"/v1/hash\"} 1",
        "hashmatch_http_request_duration_seconds_bucket{endpoint=\"/v1/hash\",le=\"0.005\"} 2",
        "hashmatch_batch_items_sum{queue=\"pdq-cpu\"} 17",
        "hashmatch_queue_depth{queue=\"pdq-cpu\"} 3",
        "hashmatch_frames_hashed_total{backend=\"cpu\"} 17",
        "hashmatch_comparisons_total{backend=\"cpu-brute\"} 1000000",
        "hashmatch_matches_total{list=\"ncmec\"} 2",
        "hashmatch_decode_errors_total{reason=\"truncated\"} 1",
        "hashmatch_queue_rejections_total{queue=\"pdq-cpu\"} 1",
        "hashmatch_build_info{cuda=\"none\",cuda_architectures=\"\",pdq_backend=\"cpu\",version="
        "\"1.2.3\"} 1",
        "hashmatch_ready 0"}) {
    EXPECT_NE(text.find(s), std::string::npos) << "missing: " << s << "\n" << text;
  }
  // Every counter ends in _total; no millisecond or microsecond units anywhere.
  std::istringstream in(text);
  std::string line;
  const std::regex type_re("^# TYPE (\\S+) (\\S+)$");
  int families = 0;
  while (std::getline(in, line)) {
    std::smatch sm;
    if (!std::regex_match(line, sm, type_re)) continue;
    const std::string name = sm[1], type = sm[2];
    if (name.rfind("hashmatch_", 0) != 0) continue;
    ++families;
    if (type == "counter") {
      EXPECT_TRUE(name.size() > 6 && name.ends_with("_total")) << name;
    }
    EXPECT_EQ(name.find("_ms"), std::string::npos) << name;
    EXPECT_EQ(name.find("_us"), std::string::npos) << name;
    if (type == "histogram" && name.find("seconds") == std::string::npos) {
      EXPECT_EQ(name, "hashmatch_batch_items");
    }
  }
  EXPECT_GE(families, 10);
}

TEST(Metrics, ListSizeSeriesFollowTheLists) {
  Metrics m;
  m.set_list_entries({{"a", 10}, {"b", 20}});
  std::string t = m.render();
  EXPECT_NE(t.find("hashmatch_list_entries{list=\"a\"} 10"), std::string::npos);
  EXPECT_NE(t.find("hashmatch_list_entries{list=\"b\"} 20"), std::string::npos);
  m.set_list_entries({{"b", 21}});
  t = m.render();
  EXPECT_EQ(t.find("list=\"a\""), std::string::npos) << "a vanished list keeps its series";
  EXPECT_NE(t.find("hashmatch_list_entries{list=\"b\"} 21"), std::string::npos);
}

TEST(GpuCollector, NoDriverMeansNoSeriesAndNoFailure) {
  ::setenv("HASHMATCH_NVML_LIBRARY", "/nonexistent/libnvidia-ml.so.1", 1);
  GpuCollector c;
  ::unsetenv("HASHMATCH_NVML_LIBRARY");
  EXPECT_FALSE(c.available());
  EXPECT_NE(c.why().find("NVML"), std::string::npos);
  EXPECT_TRUE(c.sample().empty());
  EXPECT_TRUE(c.Collect().empty());
}

}  // namespace
}  // namespace hashmatch::monitoring
