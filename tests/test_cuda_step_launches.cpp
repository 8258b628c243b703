// What a training step asks of the CUDA runtime, counted on cuda-emu (the counts are the same on
// a GPU running our GEMM): a pixelcnn-ref step's kernel launches stay within their budget and do
// not depend on the batch, convolutions cut into chunks give the bits of whole batches, and a
// vae-ref step that keeps its loss on the device reads no loss term back.
#include <cmath>
#include <vector>

#include "engine/optim.h"
#include "engine/step_stats.h"
#include "kernels/cuda/cuda_backend.h"
#include "models/registry.h"
#include "tests/model_helpers.h"
#include "tests/support.h"

using namespace gm;

namespace {

// The counts of the second of two training steps as `genmodel train` takes them: the loss kept
// on the device, the statistics recorded, the guarded Adam (the first step allocates Adam's
// state).
CudaCounters train_step_counts(const std::string& config, const models::ImageShape& shape,
                               int64_t batch) {
  const Device device = Device::cuda_emu();
  Generator init(3), gen(4);
  auto model = models::make_model(config, shape, nn::Init{device, DType::f32, &init});
  model->set_read_loss(false);
  Adam adam(to_named_tensors(model->parameters()), AdamOptions{.lr = 1e-3});
  StepStats stats(device, 2);
  adam.set_guard(stats.guard());
  const Tensor images = test::random_images(shape, batch, 5);
  CudaCounters counts;
  for (int step = 0; step < 2; ++step) {
    const CudaCounters before = *cuda_counters(device);
    adam.zero_grad();
    const models::LossOutput out = model->loss(images, gen);
    out.loss.backward();
    stats.record(out.loss, adam.params(), out.unread_terms);
    adam.step();
    counts = *cuda_counters(device) - before;
  }
  return counts;
}

// Launches of one training step, measured on cuda-emu (docs/cuda.md lists where they go).
constexpr uint64_t kRowLstmLaunches = 83;
constexpr uint64_t kDiagLstmLaunches = 125;

}  // namespace

TEST_CASE("cuda-emu: a pixelcnn-ref training step's launches fit the budget at any batch",
          "[cuda]") {
  const models::ImageShape shape{1, 6, 5};
  const CudaCounters two = train_step_counts("pixelcnn-ref", shape, 2);
  const CudaCounters five = train_step_counts("pixelcnn-ref", shape, 5);
  INFO("batch 2: " << describe_counters(two));
  INFO("batch 5: " << describe_counters(five));
  // Forward, backward, statistics and Adam; docs/cuda.md lists where they go. No kernel is
  // launched per image, so the count is the batch's own at any batch size.
  constexpr uint64_t kLaunchBudget = 186;
  CHECK(two.kernel_launches <= kLaunchBudget);
  CHECK(five.kernel_launches == two.kernel_launches);
  CHECK(two.host_syncs == 0);
  CHECK(five.host_syncs == 0);
}

TEST_CASE("cuda-emu: a PixelRNN training step's launches do not grow with the image or batch",
          "[cuda][pixelrnn]") {
  // Each scan is one launch forward and four backward (kernels/cuda/backend_scan.cpp), so the
  // count is the same at every batch and every image size; before, every row (Row LSTM) or
  // skewed column (Diagonal BiLSTM) cost launches of its own: 1359 and 4077 per step of 28x28
  // images (docs/cuda.md).
  struct Budget {
    const char* config;
    uint64_t launches;
  };
  for (const Budget& b :
       {Budget{"rowlstm-ref", kRowLstmLaunches}, Budget{"diaglstm-ref", kDiagLstmLaunches}}) {
    // Images no taller than wide: the skewed map is 2W-1 columns wide.
    const CudaCounters two = train_step_counts(b.config, {1, 5, 6}, 2);
    const CudaCounters five = train_step_counts(b.config, {1, 5, 6}, 5);
    const CudaCounters larger = train_step_counts(b.config, {1, 7, 9}, 2);
    INFO(b.config << " batch 2: " << describe_counters(two));
    INFO("batch 5: " << describe_counters(five));
    INFO("7x9 images: " << describe_counters(larger));
    CHECK(two.kernel_launches <= b.launches);
    CHECK(five.kernel_launches == two.kernel_launches);
    CHECK(larger.kernel_launches == two.kernel_launches);
    CHECK(two.host_syncs == 0);
  }
}

TEST_CASE("cuda-emu: convolutions in chunks of one image give the bits of whole batches",
          "[cuda]") {
  auto& backend = dynamic_cast<CudaBackendBase&>(backend_for(Device::cuda_emu()));
  const int64_t budget = backend.conv_column_bytes();
  struct Result {
    std::vector<float> y, dx, dw, db;
  };
  // A masked 3x3 convolution of relu(x) with bias and residual, and pixelcnn-ref's first layer
  // (7x7 type A, plain): forward, data, weight and bias gradients.
  auto run = [](bool relu) {
    const Device device = Device::cuda_emu();
    Generator gen(11);
    const int64_t k = relu ? 3 : 7;
    const int64_t C = relu ? 4 : 1;
    Tensor x = Tensor::uniform({3, C, 5, 6}, -1.0, 1.0, gen, DType::f32, device);
    Tensor w = Tensor::uniform({5, C, k, k}, -1.0, 1.0, gen, DType::f32, device);
    Tensor b = Tensor::uniform({5}, -1.0, 1.0, gen, DType::f32, device);
    const Tensor r = Tensor::uniform({3, 5, 5, 6}, -1.0, 1.0, gen, DType::f32, device);
    const Tensor seed = Tensor::uniform({3, 5, 5, 6}, -1.0, 1.0, gen, DType::f32, device);
    for (Tensor* t : {&x, &w, &b})
      t->set_requires_grad();
    const Tensor y = relu ? relu_masked_conv2d(x, w, b, MaskType::B, 1, r)
                          : masked_conv2d(x, w, b, MaskType::A, 1);
    sum(y * seed).backward();
    return Result{y.to_vector<float>(), x.grad().to_vector<float>(), w.grad().to_vector<float>(),
                  b.grad().to_vector<float>()};
  };
  for (bool relu : {false, true}) {
    INFO((relu ? "relu_masked_conv2d 3x3" : "masked_conv2d 7x7"));
    const Result whole = run(relu);
    backend.set_conv_column_bytes(1);  // one image per chunk
    const Result chunked = run(relu);
    backend.set_conv_column_bytes(budget);
    CHECK(chunked.y == whole.y);
    CHECK(chunked.dx == whole.dx);
    CHECK(chunked.dw == whole.dw);
    CHECK(chunked.db == whole.db);
  }
  CHECK_THROWS_WITH(backend.set_conv_column_bytes(0), Catch::Contains("at least 1 byte"));
}

TEST_CASE("cuda-emu: a vae-ref step keeps its loss terms on the device until they are read",
          "[cuda]") {
  const Device device = Device::cuda_emu();
  const models::ImageShape shape{1, 6, 5};
  constexpr int64_t kBatch = 3;
  const Tensor images = test::random_images(shape, kBatch, 5);
  // The same model twice: one reads its terms every step as before, one leaves them on the
  // device and reads them through StepStats.
  Generator init_a(3), init_b(3), gen_a(4), gen_b(4);
  auto eager = models::make_model("vae-ref", shape, nn::Init{device, DType::f32, &init_a});
  auto deferred = models::make_model("vae-ref", shape, nn::Init{device, DType::f32, &init_b});
  deferred->set_read_loss(false);
  const models::LossOutput want = eager->loss(images, gen_a);

  StepStats stats(device, 1);
  const CudaCounters before = *cuda_counters(device);
  const models::LossOutput got = deferred->loss(images, gen_b);
  got.loss.backward();
  stats.record(got.loss, to_named_tensors(deferred->parameters()), got.unread_terms);
  const CudaCounters c = *cuda_counters(device) - before;
  INFO(describe_counters(c));
  CHECK(got.terms.empty());
  CHECK(std::isnan(got.nats_per_image));
  // What is left is the logistic likelihood's check that its target lies on the 256-level
  // grid (engine/ops/likelihoods.cpp): one read of the [N, 30] float target.
  CHECK(c.host_syncs == 1);
  CHECK(c.d2h_bytes == static_cast<uint64_t>(kBatch * shape.dims()) * sizeof(float));

  const std::vector<StepStats::Step> read = stats.read();
  REQUIRE(read.size() == 1);
  REQUIRE(read[0].terms.size() == 2);
  // The same kernels on the same inputs: the same bits.
  CHECK(read[0].loss == want.nats_per_image);
  CHECK(read[0].terms.at("recon") == want.terms.at("recon"));
  CHECK(read[0].terms.at("kl") == want.terms.at("kl"));
}
