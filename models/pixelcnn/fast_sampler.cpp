#include "models/pixelcnn/fast_sampler.h"

#include "models/incremental.h"

namespace gm::models {

using incremental::PositionConv;
using incremental::relu;
using incremental::RowRing;

// The whole network evaluated one position at a time (see the header).
template <typename T>
class PixelCnnEvaluator : public IncrementalEvaluator {
 public:
  // labels: int32 [batch] for a conditional model, undefined otherwise.
  PixelCnnEvaluator(const PixelCnn& model, int64_t batch, const Tensor& labels)
      : width_(model.image_shape().width),
        values_(model.values()),
        batch_(batch),
        image_(model.config().first_kernel / 2 + 1, model.image_shape(), batch),
        first_(incremental::position_conv<T>(*model.first_, batch)),
        head1_(incremental::position_conv<T>(*model.head1_, batch)),
        head2_(incremental::position_conv<T>(*model.head2_, batch)),
        x_(static_cast<size_t>(model.config().filters * batch)) {
    for (const PixelCnnBlock* block : model.blocks_) {
      blocks_.push_back(
          {incremental::position_conv<T>(*block->reduce_, batch),
           incremental::position_conv<T>(*block->masked_, batch),
           incremental::position_conv<T>(*block->expand_, batch),
           RowRing<T>(model.config().block_kernel / 2 + 1, width_, model.config().hidden, batch)});
      Block& b = blocks_.back();
      b.reduce.class_bias = incremental::class_bias<T>(block->reduce_class_, labels);
      b.masked.class_bias = incremental::class_bias<T>(block->masked_class_, labels);
      b.expand.class_bias = incremental::class_bias<T>(block->expand_class_, labels);
    }
    first_.class_bias = incremental::class_bias<T>(model.first_class_, labels);
    head1_.class_bias = incremental::class_bias<T>(model.head1_class_, labels);
    head2_.class_bias = incremental::class_bias<T>(model.head2_class_, labels);
  }

  void begin_row(int64_t row) override { image_.begin_row(row); }
  void set(int64_t row, int64_t col, int64_t channel, const std::vector<uint8_t>& values) override {
    image_.set(row, col, channel, values);
  }
  Tensor output(int64_t r, int64_t c, int64_t channel) override {
    evaluate(r, c);
    // Channel c's V logits are output group c of the head.
    return incremental::batch_major(head2_.y_data + channel * values_ * batch_, values_, batch_);
  }

 private:
  struct Block {
    PositionConv<T> reduce, masked, expand;
    RowRing<T> cache;  // relu(reduce(..)), the input of the k x k masked layer
  };

  // Every layer at (r, c). Needs the image and the caches filled for all earlier positions.
  void evaluate(int64_t r, int64_t c) {
    first_.gather(image_.ring(), r, c, width_);
    first_.run();
    std::copy_n(first_.y_data, x_.size(), x_.data());
    for (Block& b : blocks_) {
      b.reduce.input(x_.data(), true);
      b.reduce.run();
      // Only relu(reduce(..)) is ever read, so the cache keeps it post-activation.
      T* cached = b.cache.at(r, c);
      const int64_t n = b.reduce.out * batch_;
      for (int64_t i = 0; i < n; ++i)
        cached[i] = relu(b.reduce.y_data[i]);
      b.masked.gather(b.cache, r, c, width_);
      b.masked.run();
      b.expand.input(b.masked.y_data, true);
      b.expand.run();
      T* x = x_.data();
      const T* e = b.expand.y_data;
      const size_t n_x = x_.size();
      for (size_t i = 0; i < n_x; ++i)
        x[i] = x[i] + e[i];  // the residual: x + expand(...)
    }
    head1_.input(x_.data(), true);
    head1_.run();
    head2_.input(head1_.y_data, true);
    head2_.run();
  }

  int64_t width_, values_, batch_;
  incremental::ImageRows<T> image_;  // k/2 + 1 rows of the type-A layer's input
  PositionConv<T> first_, head1_, head2_;
  std::vector<Block> blocks_;
  std::vector<T> x_;  // the residual stream at the current position [filters, B]
};

std::unique_ptr<IncrementalEvaluator> pixelcnn_evaluator(const PixelCnn& model, int64_t batch,
                                                         const Tensor& labels) {
  return incremental::make_evaluator<PixelCnnEvaluator>(model, batch, labels);
}

}  // namespace gm::models
