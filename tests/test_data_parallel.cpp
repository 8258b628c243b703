// The pieces of data-parallel training that run in one process (the multi-process runs are in
// test_distributed.cpp): sharded random streams, autograd's leaf_ready hook, and the gradient
// reducer's buckets, their start during backward and the mean they write back.
#include <map>

#include "engine/autograd.h"
#include "engine/distributed/gradient_reducer.h"
#include "engine/ops.h"
#include "engine/random.h"
#include "tests/support.h"

using namespace gm;

namespace {

// A group of `size` ranks that all hold the same buffer: the mean is the buffer itself, which
// lets one process drive a GradientReducer. Records when each reduction started.
class EchoGroup final : public dist::Communicator {
 public:
  explicit EchoGroup(int size, const std::vector<std::string>* events = nullptr)
      : size_(size), events_(events) {}
  int rank() const override { return 0; }
  int size() const override { return size_; }
  int local_rank() const override { return 0; }
  int local_size() const override { return 1; }
  Device buffer_device(Device) const override { return Device::cpu(); }
  std::unique_ptr<dist::PendingReduce> start_mean(Tensor buffer) override {
    started.push_back({buffer.numel(), events_ ? events_->size() : 0});
    return dist::SingleProcess().start_mean(buffer);
  }
  void sum(std::vector<double>&) override {}
  void abort_group(int) override {}

  struct Start {
    int64_t elements;
    size_t leaves_ready_before;  // how many leaves the hook had seen when this bucket started
  };
  std::vector<Start> started;

 private:
  int size_;
  const std::vector<std::string>* events_;
};

}  // namespace

TEST_CASE("data parallel: K sharded draws are the one-process draw, cut per image") {
  const int64_t images = 6, per_image = 5;
  Generator whole(42);
  whole.set_offset(100);
  const std::vector<float> expected =
      Tensor::uniform({images, per_image}, 0, 1, whole).to_vector<float>();
  for (int ranks : {1, 2, 3, 4}) {
    INFO(ranks << " ranks");
    std::vector<float> joined;
    uint64_t offset_after = 0;
    for (int r = 0; r < ranks; ++r) {
      const dist::Shard s = dist::shard_of(images, r, ranks);
      Generator part(42);
      part.set_offset(100);
      part.set_shard(static_cast<uint64_t>(s.first), static_cast<uint64_t>(s.count), images);
      const std::vector<float> v =
          Tensor::uniform({s.count, per_image}, 0, 1, part).to_vector<float>();
      joined.insert(joined.end(), v.begin(), v.end());
      offset_after = part.offset();
    }
    CHECK(joined == expected);
    CHECK(offset_after == whole.offset());
  }
  Generator g(1);
  g.set_shard(1, 2, 4);
  CHECK_THROWS_WITH(g.advance(3), Catch::Matchers::Contains("per image"));
  CHECK_THROWS(g.set_shard(3, 2, 4));
}

TEST_CASE("data parallel: leaf_ready fires once per leaf, when its gradient is complete") {
  // w1 is used early and late in the graph, so its gradient is complete only at the end;
  // w2 only near the loss.
  Tensor w1 = Tensor::from_vector<float>({1, 2}, {2}).set_requires_grad();
  Tensor w2 = Tensor::from_vector<float>({3, 4}, {2}).set_requires_grad();
  Tensor x = Tensor::from_vector<float>({5, 6}, {2});
  const Tensor h = tanh(mul(w1, x));
  const Tensor loss = sum(mul(add(h, w1), w2));
  std::map<const TensorImpl*, int> calls;
  std::map<const TensorImpl*, std::vector<float>> seen;
  std::vector<const TensorImpl*> order;
  loss.backward(Tensor(), [&](const Tensor& leaf) {
    ++calls[&leaf.impl()];
    seen[&leaf.impl()] = leaf.grad().to_vector<float>();
    order.push_back(&leaf.impl());
  });
  CHECK(calls.size() == 2);
  CHECK(calls[&w1.impl()] == 1);
  CHECK(calls[&w2.impl()] == 1);
  // What the hook saw is the final gradient.
  CHECK(seen[&w1.impl()] == w1.grad().to_vector<float>());
  CHECK(seen[&w2.impl()] == w2.grad().to_vector<float>());
  REQUIRE(order.size() == 2);
  CHECK(order.front() == &w2.impl());  // final first: nothing after the last mul feeds it
}

TEST_CASE("data parallel: buckets start during backward and every gradient gets the mean") {
  // Three layers of 40 floats (160 bytes each), buckets of 200 bytes: one layer per bucket, in
  // reverse order of the parameters.
  std::vector<NamedTensor> params;
  for (int i = 0; i < 3; ++i)
    params.push_back(
        {fmt::format("w{}", i), Tensor::full({40}, 0.5 + i, DType::f32).set_requires_grad()});
  std::vector<std::string> events;
  EchoGroup group(2, &events);
  dist::GradientReducer reducer(params, group, 200);
  CHECK(reducer.bucket_count() == 3);

  Tensor h = Tensor::ones({40});
  for (const NamedTensor& p : params)
    h = tanh(mul(h, p.tensor));
  const Tensor loss = sum(h);
  const auto hook = reducer.hook();
  loss.backward(Tensor(), [&](const Tensor& leaf) {
    events.push_back("ready");
    hook(leaf);
  });
  std::vector<std::vector<float>> before;
  for (const NamedTensor& p : params)
    before.push_back(p.tensor.grad().to_vector<float>());
  reducer.finish();

  // The last layer's bucket started right after its gradient, before the others were ready.
  REQUIRE(group.started.size() == 3);
  CHECK(group.started[0].elements == 40);
  CHECK(group.started[0].leaves_ready_before == 1);
  CHECK(group.started[1].leaves_ready_before == 2);
  // Every rank held the same gradients, so their mean is each gradient, bit for bit.
  for (size_t i = 0; i < params.size(); ++i)
    CHECK(params[i].tensor.grad().to_vector<float>() == before[i]);
  // The reducer is ready for the next step.
  for (NamedTensor& p : params)
    p.tensor.zero_grad();
  sum(mul(params[0].tensor, params[0].tensor)).backward(Tensor(), reducer.hook());
  reducer.finish();
  CHECK(params[0].tensor.grad().to_vector<float>() == std::vector<float>(40, 1.0f));
  // A parameter that got no gradient is reduced as zeros.
  CHECK(params[2].tensor.grad().to_vector<float>() == std::vector<float>(40, 0.0f));
}
