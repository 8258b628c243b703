#pragma once
// Learning tests: a model trained briefly on a few hundred Fashion-MNIST images must lower its
// loss well below the initial value. Shared by tests/test_pixelcnn.cpp and tests/test_vae.cpp.
#include <string>

#include "engine/autograd.h"
#include "engine/io/idx.h"
#include "engine/optim.h"
#include "models/model.h"

namespace gm::test {

// The first `count` Fashion-MNIST training images, uint8 [count, 1, 28, 28].
inline Tensor fashion_mnist_images(int64_t count) {
  const std::string path = std::string(io::kFashionMnistDir) + "/train-images-idx3-ubyte.gz";
  Tensor all = io::read_idx(path, 3);
  Tensor first = slice(all, 0, 0, count);
  return reshape(first, {count, 1, all.size(1), all.size(2)});
}

struct LearningResult {
  double initial = 0.0, final = 0.0;  // mean nats/image over all images, before and after
};

// Mean loss over `images` in batches of `batch`, with a fixed generator (the same noise before
// and after training, so the comparison measures the parameters only).
inline double mean_loss(models::Model& model, const Tensor& images, int64_t batch) {
  NoGradGuard no_grad;
  Generator gen(7);
  double total = 0.0;
  const int64_t n = images.size(0);
  for (int64_t start = 0; start < n; start += batch) {
    const int64_t end = std::min(n, start + batch);
    total += model.loss(slice(images, 0, start, end), gen).nats_per_image *
             static_cast<double>(end - start);
  }
  return total / static_cast<double>(n);
}

// `steps` Adam steps on consecutive batches of `images` (cycling), as in docs/reference-models.md.
inline LearningResult train_briefly(models::Model& model, const Tensor& images, int64_t steps,
                                    int64_t batch, double lr, uint64_t seed) {
  LearningResult r;
  r.initial = mean_loss(model, images, batch);
  Adam adam(to_named_tensors(model.parameters()), AdamOptions{.lr = lr});
  Generator gen(seed);
  const int64_t batches = images.size(0) / batch;
  for (int64_t step = 0; step < steps; ++step) {
    const int64_t start = (step % batches) * batch;
    adam.zero_grad();
    model.loss(slice(images, 0, start, start + batch), gen).loss.backward();
    adam.step();
  }
  r.final = mean_loss(model, images, batch);
  return r;
}

}  // namespace gm::test
