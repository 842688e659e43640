// The PDQ queues' device-health rules with injected hashers: a failed batch (out of memory) fails
// only itself; a sticky device error takes the queue out, healthy() turns false, and the work moves
// to the remaining GPU queues or, when none is left, to a CPU queue made once.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>

#include "host/common/error.h"
#include "host/server/pdq_queues.h"

namespace hashmatch::server {
namespace {

using namespace std::chrono_literals;

struct Script {
  std::atomic<int> fail_next{0};  // batches to fail
  std::string error;              // with this message
  std::atomic<int> calls{0};
};

class FakeHasher : public FrameHasher {
 public:
  FakeHasher(std::string backend, int quality, Script* script)
      : backend_(std::move(backend)), quality_(quality), script_(script) {}
  std::vector<pdq::PdqDihedral> hash(std::span<const Image* const> images) override {
    ++script_->calls;
    if (script_->fail_next.load() > 0) {
      --script_->fail_next;
      throw CudaError(script_->error);
    }
    std::vector<pdq::PdqDihedral> out(images.size());
    for (std::size_t i = 0; i < images.size(); ++i) {
      out[i].quality = quality_;
      out[i].hashes[0].w[0] = static_cast<uint64_t>(images[i]->width);
    }
    return out;
  }
  std::string_view backend() const override { return backend_; }

 private:
  std::string backend_;
  int quality_;
  Script* script_;
};

PdqQueueSpec spec(const std::string& name, const std::string& backend, int quality, Script* s,
                  int slots = 1) {
  PdqQueueSpec q;
  q.name = name;
  q.backend = backend;
  for (int i = 0; i < slots; ++i)
    q.slots.push_back(std::make_unique<FakeHasher>(backend, quality, s));
  return q;
}

BatcherOptions fast() {
  BatcherOptions o;
  o.max_batch = 4;
  o.max_queue_delay = 0ms;
  return o;
}

std::vector<Image> frames(int n, int width = 7) {
  std::vector<Image> v(n);
  for (Image& i : v) {
    i.width = width;
    i.height = 1;
  }
  return v;
}

TEST(PdqQueues, StickyErrorsAreRecognised) {
  EXPECT_TRUE(
      is_sticky_device_error("CUDA error cudaErrorIllegalAddress (an illegal memory access)"));
  EXPECT_TRUE(is_sticky_device_error("... cudaErrorLaunchFailure ..."));
  EXPECT_TRUE(is_sticky_device_error("cudaErrorECCUncorrectable"));
  EXPECT_FALSE(is_sticky_device_error("CUDA error cudaErrorMemoryAllocation (out of memory)"));
  EXPECT_FALSE(is_sticky_device_error("decoder failed"));
}

TEST(PdqQueues, OutOfMemoryFailsOnlyThatBatch) {
  monitoring::Metrics m;
  Script gpu{}, cpu{};
  gpu.error = "CUDA error cudaErrorMemoryAllocation (out of memory) at gpu_pdq.cc:1";
  gpu.fail_next = 1;
  std::vector<PdqQueueSpec> specs;
  specs.push_back(spec("pdq-cuda0", "cuda", 9, &gpu));
  int fallbacks = 0;
  PdqQueues q(std::move(specs), fast(), m, [&] {
    ++fallbacks;
    return spec("pdq-cpu", "cpu", 42, &cpu);
  });
  auto t1 = q.submit(frames(1), 0);
  ASSERT_TRUE(t1->wait_for(10s));
  EXPECT_EQ(t1->status().code, Status::kFailed);
  EXPECT_NE(t1->status().message.find("cudaErrorMemoryAllocation"), std::string::npos);
  EXPECT_TRUE(q.healthy());
  auto t2 = q.submit(frames(2), 0);
  ASSERT_TRUE(t2->wait_for(10s));
  ASSERT_TRUE(t2->status().ok());
  EXPECT_EQ(t2->results()[0].quality, 9) << "still on the GPU queue";
  EXPECT_EQ(fallbacks, 0);
  EXPECT_NE(m.render().find("hashmatch_batch_failures_total{queue=\"pdq-cuda0\"} 1"),
            std::string::npos);
}

TEST(PdqQueues, StickyErrorMovesTheWorkToTheCpu) {
  monitoring::Metrics m;
  Script gpu{}, cpu{};
  gpu.error = "CUDA error cudaErrorIllegalAddress (an illegal memory access was encountered)";
  gpu.fail_next = 1;
  std::vector<PdqQueueSpec> specs;
  specs.push_back(spec("pdq-cuda0", "cuda", 9, &gpu));
  int fallbacks = 0;
  PdqQueues q(std::move(specs), fast(), m, [&] {
    ++fallbacks;
    return spec("pdq-cpu", "cpu", 42, &cpu);
  });
  auto t1 = q.submit(frames(1), 0);
  ASSERT_TRUE(t1->wait_for(10s));
  EXPECT_EQ(t1->status().code, Status::kFailed);
  std::string why;
  EXPECT_FALSE(q.healthy(&why));
  EXPECT_NE(why.find("pdq-cuda0"), std::string::npos);
  EXPECT_NE(why.find("cudaErrorIllegalAddress"), std::string::npos);
  for (int k = 0; k < 3; ++k) {
    auto t = q.submit(frames(3, 11), 0);
    ASSERT_TRUE(t->wait_for(10s));
    ASSERT_TRUE(t->status().ok()) << t->status().message;
    EXPECT_EQ(t->results()[2].quality, 42) << "not hashed on the CPU fallback";
    EXPECT_EQ(t->results()[2].hashes[0].w[0], 11u);
  }
  EXPECT_EQ(fallbacks, 1) << "the CPU queue is made once";
  EXPECT_EQ(gpu.calls.load(), 1) << "the unhealthy queue got more work";
}

TEST(PdqQueues, StickyErrorOnOneGpuMovesWorkToTheOthers) {
  monitoring::Metrics m;
  Script bad{}, good{}, cpu{};
  bad.error = "CUDA error cudaErrorLaunchFailure";
  bad.fail_next = 1000;
  std::vector<PdqQueueSpec> specs;
  specs.push_back(spec("pdq-cuda0", "cuda", 1, &bad));
  specs.push_back(spec("pdq-cuda1", "cuda", 2, &good));
  int fallbacks = 0;
  PdqQueues q(std::move(specs), fast(), m, [&] {
    ++fallbacks;
    return spec("pdq-cpu", "cpu", 42, &cpu);
  });
  // Submit until the bad queue has been tried (the picker alternates on ties).
  int failed = 0, ok_good = 0;
  for (int k = 0; k < 8; ++k) {
    auto t = q.submit(frames(1), 0);
    ASSERT_TRUE(t->wait_for(10s));
    if (!t->status().ok()) {
      ++failed;
    } else {
      EXPECT_EQ(t->results()[0].quality, 2);
      ++ok_good;
    }
  }
  EXPECT_EQ(failed, 1) << "after its sticky error the bad GPU must get no more work";
  EXPECT_EQ(ok_good, 7);
  EXPECT_FALSE(q.healthy());
  EXPECT_EQ(fallbacks, 0) << "a healthy GPU was left";
}

}  // namespace
}  // namespace hashmatch::server
