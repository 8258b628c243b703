// What a training step asks of the CUDA runtime, counted on cuda-emu (the counts are the same on
// a GPU running our GEMM): a pixelcnn-ref step's kernel launches stay within their budget and do
// not depend on the batch, convolutions cut into chunks give the bits of whole batches, and a
// vae-ref step that keeps its loss on the device reads nothing back until its report, which
// does not wait either.
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
constexpr uint64_t kRowLstmLaunches = 68;
constexpr uint64_t kDiagLstmLaunches = 114;

}  // namespace

TEST_CASE("cuda-emu: a pixelcnn-ref training step's launches fit the budget at any batch",
          "[cuda]") {
  const models::ImageShape shape{1, 6, 5};
  const CudaCounters two = train_step_counts("pixelcnn-ref", shape, 2);
  const CudaCounters five = train_step_counts("pixelcnn-ref", shape, 5);
  INFO("batch 2: " << describe_counters(two));
  INFO("batch 5: " << describe_counters(five));
  // Forward, backward, statistics and Adam; docs/cuda.md lists where they go (the target is at
  // most 100; the bound is the count measured with the GEMM fusion). No kernel is launched per
  // image, so the count is the batch's own at any batch size.
  constexpr uint64_t kLaunchBudget = 98;
  CHECK(two.kernel_launches <= kLaunchBudget);
  CHECK(five.kernel_launches == two.kernel_launches);
  CHECK(two.host_syncs == 0);
  CHECK(five.host_syncs == 0);
}

TEST_CASE("cuda-emu: a pixelcnnpp-small training step does not read its target back", "[cuda]") {
  // Its mixture scores x = scale_images(uint8 pixels), on the grid by construction, so the
  // [N, K, C, H, W] broadcast target (2 x 5 x 64 floats here) is not read back to be checked.
  constexpr int64_t kBatch = 2, kPixels = 64;
  const CudaCounters c = train_step_counts("pixelcnnpp-small", {1, 8, 8}, kBatch);
  INFO(describe_counters(c));
  // What is left: softmax_cross_entropy's host check of its labels, in each of the mixture's
  // two log-sum-exps (all-zero int32 labels [N, H W]).
  CHECK(c.host_syncs == 2);
  CHECK(c.d2h_bytes == 2 * kBatch * kPixels * sizeof(int32_t));
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

TEST_CASE("cuda-emu: a vae-ref step reads nothing back and its report does not wait", "[cuda]") {
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
  // Nothing comes back: the logistic likelihood's target is made from uint8 pixels, so it is
  // not read back to check that it lies on the 256-level grid (PixelGrid::from_uint8).
  CHECK(c.host_syncs == 0);
  CHECK(c.d2h_bytes == 0);

  // The report: the statistics and the two terms queued to the host, no wait.
  const CudaCounters before_report = *cuda_counters(device);
  stats.request();
  const std::vector<StepStats::Step> read = stats.take();
  const CudaCounters r = *cuda_counters(device) - before_report;
  INFO("report: " << describe_counters(r));
  CHECK(r.host_syncs == 0);
  CHECK(r.d2h_bytes == (3 + 2) * sizeof(double));  // the flag, loss and norm; recon and kl
  REQUIRE(read.size() == 1);  // cuda-emu has run the copy by the time take() looks
  REQUIRE(read[0].terms.size() == 2);
  // The same kernels on the same inputs: the same bits.
  CHECK(read[0].loss == want.nats_per_image);
  CHECK(read[0].terms.at("recon") == want.terms.at("recon"));
  CHECK(read[0].terms.at("kl") == want.terms.at("kl"));
}
