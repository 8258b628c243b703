#include "models/pixelrnn/fast_sampler.h"

#include "models/incremental.h"
#include "models/pixelrnn/diagonal_bilstm.h"
#include "models/pixelrnn/row_lstm.h"

namespace gm::pixelrnn {

using models::incremental::PositionConv;
using models::incremental::RowRing;

namespace {

constexpr int64_t kLevels = 256;

MaskType pointwise_mask(int groups) {  // pointwise_conv: a plain 1x1, or type B by colour
  return groups == 1 ? MaskType::none : MaskType::B;
}

template <typename T>
PositionConv<T> position_conv(const PointwiseConv& layer, int64_t batch) {
  return PositionConv<T>(layer.weight(), layer.bias(), pointwise_mask(layer.colour_groups()),
                         layer.colour_groups(), batch);
}

// One step of lstm_scan for the batch at one position: gates [4h, B] (holding the
// input-to-state part) += W_aug [h_prev taps; 1], then the fused LSTM cell.
template <typename T>
struct CellStep {
  int64_t hidden, kernel, batch, groups;
  Tensor w_aug;         // [4h, h k + 1]: the state-to-state weight | the summed biases
  Tensor cols;          // [h k + 1, B]: tap j of hidden unit u in row u k + j, then ones
  Tensor c_prev, h, c;  // [h, B]

  // weight [4h, h, k]; the scan adds is_bias + ss_bias (one add op) as the last column.
  CellStep(const Tensor& weight, const Tensor& is_bias, const Tensor& ss_bias, int groups_count,
           int64_t batch_size)
      : hidden(weight.size(1)), kernel(weight.size(2)), batch(batch_size), groups(groups_count) {
    const int64_t taps = hidden * kernel;
    const std::vector<T> wv = weight.detach().to(Device::cpu()).to_vector<T>();
    const std::vector<T> bv =
        (is_bias.detach() + ss_bias.detach()).to(Device::cpu()).to_vector<T>();
    std::vector<T> aug(static_cast<size_t>(4 * hidden * (taps + 1)));
    for (int64_t g = 0; g < 4 * hidden; ++g) {
      for (int64_t j = 0; j < taps; ++j)
        aug[static_cast<size_t>(g * (taps + 1) + j)] = wv[static_cast<size_t>(g * taps + j)];
      aug[static_cast<size_t>(g * (taps + 1) + taps)] = bv[static_cast<size_t>(g)];
    }
    w_aug = Tensor::from_vector(aug, {4 * hidden, taps + 1});
    cols = Tensor::zeros({taps + 1, batch}, dtype_of<T>());
    std::fill_n(cols.data<T>() + taps * batch, batch, T(1));
    for (Tensor* t : {&c_prev, &h, &c})
      *t = Tensor::empty({hidden, batch}, dtype_of<T>());
  }

  // cols' rows for tap j: unit u's [B] values come from src + u * B (zeros when src is null).
  void set_tap(int64_t j, const T* src) {
    T* dst = cols.data<T>();
    for (int64_t u = 0; u < hidden; ++u)
      if (src == nullptr)
        std::fill_n(dst + (u * kernel + j) * batch, batch, T(0));
      else
        std::copy_n(src + u * batch, batch, dst + (u * kernel + j) * batch);
  }
  void set_c_prev(const T* src) {
    T* dst = c_prev.data<T>();
    if (src == nullptr)
      std::fill_n(dst, hidden * batch, T(0));
    else
      std::copy_n(src, hidden * batch, dst);
  }
  // gates: the input-to-state part [4h, B], overwritten; h and c hold the new state.
  void run(Tensor& gates) {
    Gemm g;
    g.m = 4 * hidden, g.n = batch, g.k = hidden * kernel + 1, g.beta = 1.0;
    w_aug.backend().gemm(g, w_aug, cols, gates);
    Tensor h_view = reshape(h, {groups, hidden / groups, batch});
    Tensor c_view = reshape(c, {groups, hidden / groups, batch});
    w_aug.backend().lstm_cell_forward(reshape(gates, {groups, 4 * hidden / groups, batch}),
                                      reshape(c_prev, {groups, hidden / groups, batch}), h_view,
                                      c_view);
  }
  void store(T* h_dst, T* c_dst) const {
    std::copy_n(h.data<T>(), hidden * batch, h_dst);
    std::copy_n(c.data<T>(), hidden * batch, c_dst);
  }
};

// out = x_in + output(h): the residual every PixelRNN layer ends with.
template <typename T>
void residual_output(PositionConv<T>& output, const T* h, const T* x_in, T* out) {
  output.input(h, false);
  output.run();
  const int64_t m = output.out * output.batch;
  for (int64_t i = 0; i < m; ++i)
    out[i] = x_in[i] + output.y_data[i];
}

// What both layer kinds offer the evaluator: the layer input of the current and previous row,
// the row hook and the per-pixel step.
template <typename T>
class LayerStep {
 public:
  LayerStep(int64_t width, int64_t channels, int64_t batch) : x(2, width, channels, batch) {}
  virtual ~LayerStep() = default;
  virtual void begin_row(int64_t) {}
  // The layer's output at (r, col) into out [C, B]; its input is already in x.
  virtual void evaluate(int64_t r, int64_t col, T* out) = 0;
  RowRing<T> x;
};

// One Row LSTM layer at one pixel, with the previous row's (h, c) carried.
template <typename T>
class RowLstmStep : public LayerStep<T> {
 public:
  RowLstmStep(const Tensor& is_weight, const Tensor& is_bias, const Tensor& ss_weight,
              const Tensor& ss_bias, const PointwiseConv& output, int groups, int64_t width,
              int64_t batch)
      : LayerStep<T>(width, is_weight.size(1), batch),
        input_to_state_(is_weight, Tensor(), MaskType::B, groups, batch),
        output_(position_conv<T>(output, batch)),
        cell_(ss_weight, is_bias, ss_bias, groups, batch),
        h_rows_(2, width, cell_.hidden, batch),
        c_rows_(2, width, cell_.hidden, batch),
        width_(width) {}

  void evaluate(int64_t r, int64_t col, T* out) override {
    input_to_state_.gather(this->x, r, col, width_);
    input_to_state_.run();  // the gates' input-to-state part, no bias
    // Tap j reads the previous row's h at col + j - k/2 (zero outside, and on row 0).
    for (int64_t j = 0; j < cell_.kernel; ++j) {
      const int64_t cc = col + j - cell_.kernel / 2;
      cell_.set_tap(j, r == 0 || cc < 0 || cc >= width_ ? nullptr : h_rows_.at(r - 1, cc));
    }
    cell_.set_c_prev(r == 0 ? nullptr : c_rows_.at(r - 1, col));
    cell_.run(input_to_state_.y);
    cell_.store(h_rows_.at(r, col), c_rows_.at(r, col));
    residual_output(output_, cell_.h.template data<T>(), this->x.at(r, col), out);
  }

 private:
  PositionConv<T> input_to_state_;  // 1x3, right tap masked: reads x at (r, c-1) and (r, c)
  PositionConv<T> output_;          // 1x1 h -> C
  CellStep<T> cell_;
  RowRing<T> h_rows_, c_rows_;  // (h, c) of the previous and the current row
  int64_t width_;
};

// One direction of a Diagonal BiLSTM layer in its own column order j (j = c forward, W-1-c
// backward): the state at (r, j) reads (r-1, j) (tap 0) and (r, j-1) (tap 1, and its cell).
// Positions j < 0 are the skewed map's padding (zero input, bias only); a position whose
// skewed column r + j is negative is the scan's zero initial state.
template <typename T>
class DiagonalCells {
 public:
  DiagonalCells(const Tensor& is_weight, const Tensor& is_bias, const Tensor& ss_weight,
                const Tensor& ss_bias, int groups, const models::ImageShape& shape, int64_t batch)
      : input_to_state_(is_weight, Tensor(), pointwise_mask(groups), groups, batch),
        cell_(ss_weight, is_bias, ss_bias, groups, batch),
        pad_(shape.height - 1),
        h_rows_(2, shape.width + pad_, cell_.hidden, batch),
        c_rows_(2, shape.width + pad_, cell_.hidden, batch),
        zero_gates_(Tensor::zeros({4 * cell_.hidden, batch}, dtype_of<T>())) {}

  // The padding cells of row r: j = -r .. -1.
  void padding(int64_t r) {
    for (int64_t j = -r; j < 0; ++j) {
      T* g = zero_gates_.data<T>();
      std::fill_n(g, zero_gates_.numel(), T(0));
      step(r, j, zero_gates_);
    }
  }
  // The cell at (r, j) of an image pixel whose layer input x [C, B] is given.
  const T* pixel(int64_t r, int64_t j, const T* x) {
    input_to_state_.input(x, false);
    input_to_state_.run();
    step(r, j, input_to_state_.y);
    return h(r, j);
  }
  T* h(int64_t r, int64_t j) { return h_rows_.at(r, j + pad_); }

 private:
  void step(int64_t r, int64_t j, Tensor& gates) {
    const bool above = r > 0 && r - 1 + j >= 0, left = r + j - 1 >= 0;
    cell_.set_tap(0, above ? h_rows_.at(r - 1, j + pad_) : nullptr);
    cell_.set_tap(1, left ? h_rows_.at(r, j - 1 + pad_) : nullptr);
    cell_.set_c_prev(left ? c_rows_.at(r, j - 1 + pad_) : nullptr);
    cell_.run(gates);
    cell_.store(h_rows_.at(r, j + pad_), c_rows_.at(r, j + pad_));
  }

  PositionConv<T> input_to_state_;  // 1x1 C -> 4h, no bias (the scan adds it)
  CellStep<T> cell_;
  int64_t pad_;                 // padding columns kept left of j = 0
  RowRing<T> h_rows_, c_rows_;  // rows r-1 and r, columns j = -pad .. W-1
  Tensor zero_gates_;
};

// One Diagonal BiLSTM layer: the forward cell per pixel, the backward row at each row start.
template <typename T>
class DiagonalStep : public LayerStep<T> {
 public:
  DiagonalStep(DiagonalCells<T> forward, DiagonalCells<T> backward, const PointwiseConv& output,
               const models::ImageShape& shape, int64_t batch)
      : LayerStep<T>(shape.width, output.weight().size(0), batch),
        forward_(std::move(forward)),
        backward_(std::move(backward)),
        output_(position_conv<T>(output, batch)),
        sum_(static_cast<size_t>(output.weight().size(1) * batch)),
        width_(shape.width) {}

  void begin_row(int64_t r) override {
    forward_.padding(r);
    if (r == 0) return;  // row 0 reads the zero row the shift brings in
    backward_.padding(r - 1);
    for (int64_t j = 0; j < width_; ++j)
      backward_.pixel(r - 1, j, this->x.at(r - 1, width_ - 1 - j));
  }

  void evaluate(int64_t r, int64_t col, T* out) override {
    const T* h = forward_.pixel(r, col, this->x.at(r, col));
    const int64_t n = static_cast<int64_t>(sum_.size());
    if (r == 0) {
      for (int64_t i = 0; i < n; ++i)
        sum_[static_cast<size_t>(i)] = h[i] + T(0);  // forward + the shifted-in zeros
    } else {
      const T* b = backward_.h(r - 1, width_ - 1 - col);
      for (int64_t i = 0; i < n; ++i)
        sum_[static_cast<size_t>(i)] = h[i] + b[i];
    }
    residual_output(output_, sum_.data(), this->x.at(r, col), out);
  }

 private:
  DiagonalCells<T> forward_, backward_;
  PositionConv<T> output_;
  std::vector<T> sum_;  // forward + shifted backward at the current pixel [h, B]
  int64_t width_;
};

}  // namespace

// The whole PixelRNN evaluated one pixel at a time (a friend of the model and its layers).
template <typename T>
class PixelRnnEvaluator : public models::IncrementalEvaluator {
 public:
  PixelRnnEvaluator(const PixelRnn& model, int64_t batch)
      : shape_(model.image_shape()),
        batch_(batch),
        image_(model.config().input_kernel / 2 + 1, shape_, batch),
        input_(models::incremental::position_conv<T>(*model.input_, batch)),
        head1_(position_conv<T>(*model.head1_, batch)),
        head2_(position_conv<T>(*model.head2_, batch)),
        x_(static_cast<size_t>(model.config().channels * batch)) {
    const int groups = model.groups_;
    for (const RecurrentLayer* layer : model.layers_) {
      if (const auto* row = dynamic_cast<const RowLstmLayer*>(layer)) {
        layers_.push_back(std::make_unique<RowLstmStep<T>>(
            row->is_weight_, row->is_bias_, row->ss_weight_, row->ss_bias_, *row->output_, groups,
            shape_.width, batch));
      } else {
        const auto& diag = dynamic_cast<const DiagonalBiLstmLayer&>(*layer);
        auto cells = [&](const DiagonalDirection& d) {
          return DiagonalCells<T>(d.is_weight_, d.is_bias_, d.ss_weight_, d.ss_bias_, groups,
                                  shape_, batch);
        };
        layers_.push_back(std::make_unique<DiagonalStep<T>>(cells(*diag.left_to_right_),
                                                            cells(*diag.right_to_left_),
                                                            *diag.output_, shape_, batch));
      }
    }
  }

  void begin_row(int64_t r) override {
    image_.begin_row(r);
    for (auto& layer : layers_)
      layer->begin_row(r);
  }
  void set(int64_t r, int64_t c, int64_t channel, const std::vector<uint8_t>& values) override {
    image_.set(r, c, channel, values);
  }
  Tensor output(int64_t r, int64_t c, int64_t channel) override {
    input_.gather(image_.ring(), r, c, shape_.width);
    input_.run();
    std::copy_n(input_.y_data, x_.size(), layers_.front()->x.at(r, c));
    for (size_t l = 0; l < layers_.size(); ++l) {
      T* out = l + 1 < layers_.size() ? layers_[l + 1]->x.at(r, c) : x_.data();
      layers_[l]->evaluate(r, c, out);
    }
    head1_.input(x_.data(), true);
    head1_.run();
    head2_.input(head1_.y_data, true);
    head2_.run();
    // Colour-major logits: channel c's 256 are rows c * 256 .. of the head.
    return models::incremental::batch_major(head2_.y_data + channel * kLevels * batch_, kLevels,
                                            batch_);
  }

 private:
  models::ImageShape shape_;
  int64_t batch_;
  models::incremental::ImageRows<T> image_;
  PositionConv<T> input_, head1_, head2_;  // MaskA k x k, then the 1x1 head
  std::vector<std::unique_ptr<LayerStep<T>>> layers_;
  std::vector<T> x_;  // the last layer's output at the current pixel [C, B]
};

std::unique_ptr<models::IncrementalEvaluator> pixelrnn_evaluator(const PixelRnn& model,
                                                                 int64_t batch) {
  return models::incremental::make_evaluator<PixelRnnEvaluator>(model, batch);
}

}  // namespace gm::pixelrnn
