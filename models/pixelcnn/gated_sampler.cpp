// Fast Gated PixelCNN sampling: GatedPixelCnn::incremental.
//
// The vertical stack at row r reads rows <= r only, and the horizontal stack at row r reads
// it shifted down, i.e. rows <= r - 1. So when row r begins, every vertical activation the
// row will need is final: the evaluator computes the vertical stack over the whole row r - 1,
// layer by layer (each (k/2 + 1) x k kernel reading k/2 + 1 cached rows), and keeps the
// 1x1 vertical-to-horizontal terms of row r - 1 for every column. Within the row, each pixel
// then costs only the horizontal stack (a 1 x k masked kernel over a one-row cache per layer)
// and the head. Work: one network evaluation per image (the horizontal part times C for
// colour), H*W sequential steps; exactness as in models/incremental.h.
#include "models/incremental.h"
#include "models/pixelcnn/gated.h"

namespace gm::models {

using incremental::KernelOrigin;
using incremental::PositionConv;
using incremental::RowRing;

template <typename T>
class GatedPixelCnnEvaluator : public IncrementalEvaluator {
 public:
  // labels: int32 [batch] for a conditional model, undefined otherwise.
  GatedPixelCnnEvaluator(const GatedPixelCnn& model, int64_t batch, const Tensor& labels)
      : width_(model.image_shape().width),
        batch_(batch),
        groups_(model.image_shape().channels),
        image_(model.config().first_kernel / 2 + 2, model.image_shape(), batch),
        head1_(incremental::position_conv<T>(*model.head1_, batch)),
        head2_(incremental::position_conv<T>(*model.head2_, batch)),
        x_(static_cast<size_t>(model.config().filters * batch)) {
    const int64_t p = model.config().filters;
    for (const GatedLayer* layer : model.layers_) {
      const int64_t half = layer->kernel_ / 2;
      const int groups = layer->groups_;
      layers_.push_back(Layer{
          PositionConv<T>(layer->vertical_weight_, layer->vertical_bias_, MaskType::none, groups,
                          batch, KernelOrigin{half, half}),
          PositionConv<T>(layer->horizontal_weight_, layer->horizontal_bias_,
                          layer->first_ ? MaskType::A : MaskType::B, groups, batch),
          PositionConv<T>(layer->vertical_to_horizontal_->weight(),
                          layer->vertical_to_horizontal_->bias(), MaskType::none, groups, batch),
          incremental::position_conv<T>(*layer->residual_, batch),
          std::vector<Tensor>(static_cast<size_t>(width_)), layer->first_, Tensor()});
      Layer& added = layers_.back();
      added.vertical.class_bias = incremental::class_bias<T>(layer->vertical_class_, labels);
      const std::vector<T> horizontal =
          incremental::class_bias<T>(layer->horizontal_class_, labels);
      if (!horizontal.empty())
        added.horizontal_class = Tensor::from_vector(horizontal, {2 * p, batch});
      // The next layer's inputs: k/2 + 1 rows of v' (its vertical kernel), one row of h'.
      const int64_t next_half = model.config().kernel / 2;
      v_out_.emplace_back(next_half + 1, width_, p, batch);
      h_out_.emplace_back(1, width_, p, batch);
    }
  }

  void begin_row(int64_t r) override {
    image_.begin_row(r);
    for (size_t l = 0; l < layers_.size(); ++l) {
      Layer& layer = layers_[l];
      RowRing<T>& v_in = l == 0 ? image_.ring() : v_out_[l - 1];
      for (int64_t c = 0; c < width_; ++c) {
        // Row 0 reads the zero row the shift brings in.
        if (r == 0) {
          std::fill_n(layer.vertical.y_data, layer.vertical.y.numel(), T(0));
        } else {
          layer.vertical.gather(v_in, r - 1, c, width_);
          layer.vertical.run();
          if (l + 1 < layers_.size()) {
            const Tensor v = gated_activation(layer.vertical.y, 0, groups_);
            std::copy_n(v.data<T>(), v.numel(), v_out_[l].at(r - 1, c));
          }
        }
        layer.to_horizontal.input(layer.vertical.y_data, false);
        layer.to_horizontal.run();
        layer.from_above[static_cast<size_t>(c)] = layer.to_horizontal.y.clone();
      }
    }
  }

  void set(int64_t row, int64_t col, int64_t channel, const std::vector<uint8_t>& values) override {
    image_.set(row, col, channel, values);
  }

  Tensor output(int64_t r, int64_t c, int64_t channel) override {
    for (size_t l = 0; l < layers_.size(); ++l) {
      Layer& layer = layers_[l];
      RowRing<T>& h_in = l == 0 ? image_.ring() : h_out_[l - 1];
      layer.horizontal.gather(h_in, r, c, width_);
      layer.horizontal.run();
      // a_h = masked conv + the row above's term (+ the class bias), summed in that order as
      // the full pass sums them.
      Tensor a_h = layer.horizontal.y + layer.from_above[static_cast<size_t>(c)];
      if (layer.horizontal_class.defined()) a_h = a_h + layer.horizontal_class;
      const Tensor gated = gated_activation(a_h, 0, groups_);
      layer.residual.input(gated.data<T>(), false);
      layer.residual.run();
      T* out = l + 1 < layers_.size() ? h_out_[l].at(r, c) : x_.data();
      const T* res = layer.residual.y_data;
      const int64_t n = layer.residual.y.numel();
      if (layer.first) {
        std::copy_n(res, n, out);
      } else {
        const T* h = h_in.at(r, c);
        for (int64_t i = 0; i < n; ++i)
          out[i] = h[i] + res[i];  // the residual: h + Conv1x1(gated)
      }
    }
    head1_.input(x_.data(), true);
    head1_.run();
    head2_.input(head1_.y_data, true);
    head2_.run();
    return incremental::batch_major(head2_.y_data + channel * 256 * batch_, int64_t{256}, batch_);
  }

 private:
  struct Layer {
    PositionConv<T> vertical;        // (k/2 + 1) x k over rows r - k/2 .. r
    PositionConv<T> horizontal;      // 1 x k masked
    PositionConv<T> to_horizontal;   // 1x1 of the vertical pre-activation
    PositionConv<T> residual;        // masked 1x1
    std::vector<Tensor> from_above;  // per column: to_horizontal of the row above [2p, B]
    bool first;
    Tensor horizontal_class;  // a conditional layer's a_h class bias [2p, B]; else undefined
  };

  int64_t width_, batch_, groups_;
  incremental::ImageRows<T> image_;  // the rows the first layer's two kernels read
  PositionConv<T> head1_, head2_;
  std::vector<Layer> layers_;
  std::vector<RowRing<T>> v_out_, h_out_;  // per layer: its outputs, the next layer's inputs
  std::vector<T> x_;                       // the last horizontal output [p, B]
};

std::unique_ptr<IncrementalEvaluator> gated_pixelcnn_evaluator(const GatedPixelCnn& model,
                                                               int64_t batch,
                                                               const Tensor& labels) {
  return incremental::make_evaluator<GatedPixelCnnEvaluator>(model, batch, labels);
}

}  // namespace gm::models
