#include "models/pixelrnn/fast_sampler.h"

#include <map>

#include "engine/autograd.h"
#include "models/pixelcnn/fast_sampler.h"
#include "models/sampling_checks.h"

namespace gm::pixelrnn {

namespace {

using models::incremental::level_table;
using models::incremental::PositionConv;
using models::incremental::RowRing;

constexpr int64_t kLevels = 256;

// One Row LSTM layer evaluated at one pixel, with the previous row's (h, c) carried.
template <typename T>
struct RowLstmStep {
  PositionConv<T> input_to_state;         // 1x3, right tap masked: reads x at (r, c-1) and (r, c)
  PositionConv<T> output;                 // 1x1 h -> C
  Tensor w_aug;                           // [4h, 3h + 1]: state-to-state weight | summed biases
  Tensor ss_cols;                         // [3h + 1, B]: the previous row's h at c-1, c, c+1 | ones
  Tensor c_prev, h, c;                    // [h, B] scratch for the cell
  RowRing<T> x;                           // the layer's input on the current row
  RowRing<T> h_rows, c_rows;              // (h, c) of the previous and the current row
  int64_t hidden, kernel, batch, groups;  // kernel: the state-to-state taps along the row

  RowLstmStep(const std::map<std::string, Tensor>& p, const std::string& name, int64_t width,
              int64_t batch_size, int groups_count)
      : input_to_state(p.at(name + ".input_to_state.weight"), Tensor(), MaskType::B, groups_count,
                       batch_size),
        output(p.at(name + ".output.weight"), p.at(name + ".output.bias"),
               groups_count == 1 ? MaskType::none : MaskType::B, groups_count, batch_size),
        x(1, width, p.at(name + ".input_to_state.weight").size(1), batch_size),
        h_rows(2, width, p.at(name + ".state_to_state.weight").size(1), batch_size),
        c_rows(2, width, p.at(name + ".state_to_state.weight").size(1), batch_size),
        batch(batch_size),
        groups(groups_count) {
    const Tensor& w = p.at(name + ".state_to_state.weight");  // [4h, h, 3]
    hidden = w.size(1);
    kernel = w.size(2);
    const int64_t cols = hidden * kernel;
    // lstm_scan's augmented weight: the bias is the sum of both layers' biases (one add op).
    const Tensor bias = p.at(name + ".input_to_state.bias") + p.at(name + ".state_to_state.bias");
    const std::vector<T> wv = w.to_vector<T>(), bv = bias.to_vector<T>();
    std::vector<T> aug(static_cast<size_t>(4 * hidden * (cols + 1)));
    for (int64_t g = 0; g < 4 * hidden; ++g) {
      for (int64_t j = 0; j < cols; ++j)
        aug[static_cast<size_t>(g * (cols + 1) + j)] = wv[static_cast<size_t>(g * cols + j)];
      aug[static_cast<size_t>(g * (cols + 1) + cols)] = bv[static_cast<size_t>(g)];
    }
    w_aug = Tensor::from_vector(aug, {4 * hidden, cols + 1});
    ss_cols = Tensor::zeros({cols + 1, batch}, dtype_of<T>());
    std::fill_n(ss_cols.data<T>() + cols * batch, batch, T(1));
    for (Tensor* t : {&c_prev, &h, &c})
      *t = Tensor::empty({hidden, batch}, dtype_of<T>());
  }

  // x_in: this layer's input at (r, col), already stored in `x`. Writes the layer's output
  // x_in + output(h) into `out` [C, B].
  void evaluate(int64_t r, int64_t col, int64_t width, T* out) {
    input_to_state.gather(x, r, col, width);
    input_to_state.run();  // the gates' input-to-state part, no bias
    // State-to-state: tap j of the previous row's h at col + j - k/2 (zero outside, and on row 0).
    T* cols = ss_cols.data<T>();
    T* cp = c_prev.data<T>();
    const int64_t k = kernel, n = hidden * batch;
    for (int64_t ch = 0; ch < hidden; ++ch)
      for (int64_t j = 0; j < k; ++j) {
        T* dst = cols + (ch * k + j) * batch;
        const int64_t cc = col + j - k / 2;
        if (r == 0 || cc < 0 || cc >= width)
          std::fill_n(dst, batch, T(0));
        else
          std::copy_n(h_rows.at(r - 1, cc) + ch * batch, batch, dst);
      }
    if (r == 0)
      std::fill_n(cp, n, T(0));
    else
      std::copy_n(c_rows.at(r - 1, col), n, cp);
    Gemm g;  // gates += W_aug [h_prev cols; 1], as lstm_scan accumulates
    g.m = 4 * hidden, g.n = batch, g.k = hidden * k + 1, g.beta = 1.0;
    w_aug.backend().gemm(g, w_aug, ss_cols, input_to_state.y);
    Tensor h_view = reshape(h, {groups, hidden / groups, batch});
    Tensor c_view = reshape(c, {groups, hidden / groups, batch});
    w_aug.backend().lstm_cell_forward(
        reshape(input_to_state.y, {groups, 4 * hidden / groups, batch}),
        reshape(c_prev, {groups, hidden / groups, batch}), h_view, c_view);
    std::copy_n(h.data<T>(), n, h_rows.at(r, col));
    std::copy_n(c.data<T>(), n, c_rows.at(r, col));
    output.input(h.data<T>(), false);
    output.run();
    const T* x_in = x.at(r, col);
    const int64_t m = output.out * batch;
    for (int64_t i = 0; i < m; ++i)
      out[i] = x_in[i] + output.y_data[i];  // the residual: x + output(h)
  }
};

// The whole Row LSTM network evaluated one pixel at a time.
template <typename T>
class Incremental {
 public:
  Incremental(const PixelRnn& model, int64_t batch)
      : shape_(model.image_shape()),
        batch_(batch),
        image_(model.config().input_kernel / 2 + 1, shape_.width, shape_.channels, batch) {
    const int groups = static_cast<int>(shape_.channels);
    std::map<std::string, Tensor> p;
    for (const nn::NamedTensor& t : model.parameters())
      p.emplace(t.name, t.tensor.detach().to(Device::cpu()));
    auto need = [&](const std::string& name) -> const Tensor& {
      GM_CHECK(p.count(name), "fast Row LSTM sampler: model {} has no parameter '{}'",
               model.config_name(), name);
      return p.at(name);
    };
    const MaskType head_mask = groups == 1 ? MaskType::none : MaskType::B;
    convs_.emplace_back(need("input.weight"), need("input.bias"), MaskType::A, groups, batch);
    for (int i = 0; i < model.config().layers; ++i) {
      const std::string name = "layer" + std::to_string(i);
      for (const char* part :
           {".input_to_state.weight", ".input_to_state.bias", ".state_to_state.weight",
            ".state_to_state.bias", ".output.weight", ".output.bias"})
        need(name + part);
      layers_.push_back(std::make_unique<RowLstmStep<T>>(p, name, shape_.width, batch, groups));
    }
    convs_.emplace_back(need("head1.weight"), need("head1.bias"), head_mask, groups, batch);
    convs_.emplace_back(need("head2.weight"), need("head2.bias"), head_mask, groups, batch);
    x_.resize(static_cast<size_t>(model.config().channels * batch));
  }

  RowRing<T>& image() { return image_; }
  const T* logits() const { return convs_.back().y_data; }  // [256 C, B], colour-major

  void evaluate(int64_t r, int64_t c) {
    const int64_t w = shape_.width;
    PositionConv<T>& first = convs_[0];
    first.gather(image_, r, c, w);
    first.run();
    std::copy_n(first.y_data, x_.size(), layers_.front()->x.at(r, c));
    for (size_t l = 0; l < layers_.size(); ++l) {
      T* out = l + 1 < layers_.size() ? layers_[l + 1]->x.at(r, c) : x_.data();
      layers_[l]->evaluate(r, c, w, out);
    }
    convs_[1].input(x_.data(), true);
    convs_[1].run();
    convs_[2].input(convs_[1].y_data, true);
    convs_[2].run();
  }

 private:
  models::ImageShape shape_;
  int64_t batch_;
  RowRing<T> image_;
  std::vector<PositionConv<T>> convs_;  // input (MaskA), head1, head2
  std::vector<std::unique_ptr<RowLstmStep<T>>> layers_;
  std::vector<T> x_;  // the last layer's output at the current pixel [C, B]
};

template <typename T>
Tensor sample_impl(const PixelRnn& model, int64_t count, double temperature, Generator& gen) {
  const models::ImageShape s = model.image_shape();
  const int64_t C = s.channels, H = s.height, W = s.width;
  const std::vector<T> level = level_table<T>();
  Incremental<T> net(model, count);
  std::vector<uint8_t> pixels(static_cast<size_t>(count * C * H * W), 0);
  std::vector<T> rows(static_cast<size_t>(count * kLevels));
  for (int64_t r = 0; r < H; ++r) {
    net.image().fill_row(r, level[0]);  // undrawn pixels are 0, as in the naive sampler
    for (int64_t c = 0; c < W; ++c)
      for (int64_t ch = 0; ch < C; ++ch) {
        net.evaluate(r, c);
        // PixelRnn::sample draws from logits [N, 256, 1] with the temperature in the kernel.
        const T* lg = net.logits() + ch * kLevels * count;
        for (int64_t n = 0; n < count; ++n)
          for (int64_t v = 0; v < kLevels; ++v)
            rows[static_cast<size_t>(n * kLevels + v)] = lg[v * count + n];
        const Tensor logits = Tensor::from_vector(rows, {count, kLevels, 1});
        const std::vector<int32_t> drawn =
            sample_categorical(logits, temperature, gen).to_vector<int32_t>();
        T* input = net.image().at(r, c) + ch * count;
        for (int64_t n = 0; n < count; ++n) {
          const uint8_t value = static_cast<uint8_t>(drawn[static_cast<size_t>(n)]);
          pixels[static_cast<size_t>(((n * C + ch) * H + r) * W + c)] = value;
          input[n] = level[value];
        }
      }
  }
  return Tensor::from_vector(pixels, {count, C, H, W});
}

template <typename T>
Tensor logits_impl(const PixelRnn& model, const Tensor& images) {
  const models::ImageShape s = model.image_shape();
  const int64_t N = images.size(0), C = s.channels, H = s.height, W = s.width;
  const std::vector<T> level = level_table<T>();
  const std::vector<uint8_t> pixels = images.to_vector<uint8_t>();
  Incremental<T> net(model, N);
  std::vector<T> out(static_cast<size_t>(N * kLevels * C * H * W));
  for (int64_t r = 0; r < H; ++r) {
    for (int64_t c = 0; c < W; ++c)  // the whole row: a pixel never reads to its right
      for (int64_t ch = 0; ch < C; ++ch)
        for (int64_t n = 0; n < N; ++n)
          net.image().at(r, c)[ch * N + n] =
              level[pixels[static_cast<size_t>(((n * C + ch) * H + r) * W + c)]];
    for (int64_t c = 0; c < W; ++c) {
      net.evaluate(r, c);
      for (int64_t ch = 0; ch < C; ++ch)
        for (int64_t v = 0; v < kLevels; ++v)
          for (int64_t n = 0; n < N; ++n)
            out[static_cast<size_t>((((n * kLevels + v) * C + ch) * H + r) * W + c)] =
                net.logits()[(ch * kLevels + v) * N + n];
    }
  }
  return Tensor::from_vector(out, {N, kLevels, C, H, W});
}

DType checked_dtype(const PixelRnn& model, const char* what) {
  GM_CHECK(model.config().architecture == Architecture::row_lstm,
           "{}: model {} is not a Row LSTM; use model.sample for other PixelRNN layers", what,
           model.config_name());
  return models::cpu_model_dtype(what, model.config_name(), model.parameters());
}

}  // namespace

Tensor sample_rowlstm_fast(const PixelRnn& model, int64_t count, double temperature,
                           Generator& gen) {
  const char* what = "fast Row LSTM sampler";
  models::check_sampling_request(what, count, temperature);
  const DType dtype = checked_dtype(model, what);
  NoGradGuard no_grad;
  return dtype == DType::f64 ? sample_impl<double>(model, count, temperature, gen)
                             : sample_impl<float>(model, count, temperature, gen);
}

Tensor rowlstm_incremental_logits(const PixelRnn& model, const Tensor& images) {
  const char* what = "incremental Row LSTM logits";
  models::check_image_batch(what, model.image_shape(), images);
  const DType dtype = checked_dtype(model, what);
  NoGradGuard no_grad;
  return dtype == DType::f64 ? logits_impl<double>(model, images)
                             : logits_impl<float>(model, images);
}

}  // namespace gm::pixelrnn
