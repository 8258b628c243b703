// Fast PixelCNN++ sampling: PixelCnnPP::incremental, in the spirit of Fast PixelCNN++
// (Ramachandran et al. 2017).
//
// The network is rebuilt from the model's own layers as a graph of position maps
// (models/pixelcnnpp/position_maps.h), mirroring PixelCnnPP::network map for map: the two
// input convolutions and their shifts, every gated block as concat_elu -> shifted conv
// [+ 1x1 of the concat_elu'd short-cut] -> concat_elu -> shifted conv -> gate, the stride-2
// convolutions (maps of half the resolution), the transposed ones (twice the resolution) and
// the head. Asking the head for pixel (r, c) computes, recursively, exactly the positions of
// every map that pixel's distribution reads and that no earlier pixel computed: at full
// resolution one position per map per pixel; a half-resolution position when the first full-
// resolution position that reads it is asked for (a new 2x2 block of input rows and columns
// has started); an upsampled position from cached coarse columns. Each map keeps its last
// few rows (Map::kRows). Work: one network pass per image (the coarse maps' positions once
// each), H*W sequential steps. docs/pixelcnn.md ("Fast PixelCNN++") has the math.
#include "models/incremental.h"
#include "models/pixelcnnpp/logistic_mixture.h"
#include "models/pixelcnnpp/pixelcnnpp.h"
#include "models/pixelcnnpp/position_maps.h"

namespace gm::models {

using pixelcnnpp::ConvMap;
using pixelcnnpp::EluMap;
using pixelcnnpp::GatedResnet;
using pixelcnnpp::GateMap;
using pixelcnnpp::InputMap;
using pixelcnnpp::Map;
using pixelcnnpp::ShiftedConv2d;
using pixelcnnpp::ShiftedDeconv2d;
using pixelcnnpp::ShiftMap;
using pixelcnnpp::SumMap;
using pixelcnnpp::TransposedColumns;
using pixelcnnpp::TransposedConvMap;

template <typename T>
class PixelCnnPPEvaluator : public IncrementalEvaluator {
 public:
  PixelCnnPPEvaluator(const PixelCnnPP& model, int64_t batch)
      : batch_(batch),
        planes_(mixture_planes(model.config().components, model.image_shape().channels)) {
    input_ = &add<InputMap<T>>(model.image_shape(), batch, incremental::level_table<T>());
    head_ = build(model);
  }

  void begin_row(int64_t) override {}

  Tensor output(int64_t r, int64_t c, int64_t channel) override {
    GM_CHECK(channel == 0, "pixelcnnpp fast sampler: draws whole pixels; asked for channel {}",
             channel);
    return incremental::batch_major(head_->at(r, c), planes_, batch_);
  }

  void set(int64_t row, int64_t col, int64_t channel, const std::vector<uint8_t>& values) override {
    input_->set(row, col, channel, values);
  }

 private:
  template <typename M, typename... Args>
  M& add(Args&&... args) {
    auto map = std::make_unique<M>(std::forward<Args>(args)...);
    M& ref = *map;
    maps_.push_back(std::move(map));
    return ref;
  }

  Map<T>& conv(Map<T>& src, const ShiftedConv2d& layer) {
    return add<ConvMap<T>>(
        src, layer.weight(), layer.bias(),
        typename ConvMap<T>::Geometry{layer.stride(), layer.pad_top(), layer.pad_left()});
  }
  Map<T>& conv1x1(Map<T>& src, const nn::Conv2d& layer) {
    GM_CHECK(layer.weight().size(2) == 1 && layer.weight().size(3) == 1,
             "pixelcnnpp fast sampler: expected a 1x1 convolution, got weight {}",
             layer.weight().describe());
    return add<ConvMap<T>>(src, layer.weight(), layer.bias(), typename ConvMap<T>::Geometry{});
  }
  Map<T>& deconv(Map<T>& src, const ShiftedDeconv2d& layer) {
    auto& columns = add<TransposedColumns<T>>(src, layer.weight());
    return add<TransposedConvMap<T>>(columns, layer.weight(), layer.bias(), layer.crop_left());
  }
  Map<T>& concat_elu(std::vector<Map<T>*> srcs) { return add<EluMap<T>>(std::move(srcs), true); }

  // GatedResnet::operator() without dropout (sampling).
  Map<T>& gated_resnet(const GatedResnet& block, Map<T>& x, std::vector<Map<T>*> aux) {
    GM_CHECK(aux.empty() == (block.conv_aux() == nullptr),
             "pixelcnnpp fast sampler: a gated block's short-cut does not match its layers");
    Map<T>* c = &conv(concat_elu({&x}), block.conv_in());
    if (!aux.empty())
      c = &add<SumMap<T>>(*c, conv1x1(concat_elu(std::move(aux)), *block.conv_aux()));
    Map<T>& ab = conv(concat_elu({c}), block.conv_gate());
    return add<GateMap<T>>(x, ab);
  }

  // PixelCnnPP::network, map for map.
  Map<T>* build(const PixelCnnPP& m) {
    Map<T>& in = *input_;
    std::vector<Map<T>*> us{&add<ShiftMap<T>>(conv(in, *m.u_first_), 1, 0)};
    std::vector<Map<T>*> uls{&add<SumMap<T>>(add<ShiftMap<T>>(conv(in, *m.ul_first_up_), 1, 0),
                                             add<ShiftMap<T>>(conv(in, *m.ul_first_left_), 0, 1))};
    for (size_t s = 0; s < m.down_.size(); ++s) {
      for (size_t b = 0; b < m.down_[s].u.size(); ++b) {
        us.push_back(&gated_resnet(*m.down_[s].u[b], *us.back(), {}));
        uls.push_back(&gated_resnet(*m.down_[s].ul[b], *uls.back(), {us.back()}));
      }
      if (s < m.u_downsample_.size()) {
        us.push_back(&conv(*us.back(), *m.u_downsample_[s]));
        uls.push_back(&conv(*uls.back(), *m.ul_downsample_[s]));
      }
    }
    auto pop = [](std::vector<Map<T>*>& stack) {
      Map<T>* t = stack.back();
      stack.pop_back();
      return t;
    };
    Map<T>* u = pop(us);
    Map<T>* ul = pop(uls);
    for (size_t s = 0; s < m.up_.size(); ++s) {
      for (size_t b = 0; b < m.up_[s].u.size(); ++b) {
        u = &gated_resnet(*m.up_[s].u[b], *u, {pop(us)});
        ul = &gated_resnet(*m.up_[s].ul[b], *ul, {u, pop(uls)});
      }
      if (s < m.u_upsample_.size()) {
        u = &deconv(*u, *m.u_upsample_[s]);
        ul = &deconv(*ul, *m.ul_upsample_[s]);
      }
    }
    GM_CHECK(us.empty() && uls.empty(), "pixelcnnpp fast sampler: {} short-cuts left unused",
             us.size() + uls.size());
    return &conv1x1(add<EluMap<T>>(std::vector<Map<T>*>{ul}, false), *m.head_);
  }

  int64_t batch_, planes_;
  std::vector<std::unique_ptr<Map<T>>> maps_;
  InputMap<T>* input_ = nullptr;
  Map<T>* head_ = nullptr;
};

std::unique_ptr<IncrementalEvaluator> pixelcnnpp_evaluator(const PixelCnnPP& model, int64_t batch) {
  return incremental::make_evaluator<PixelCnnPPEvaluator>(model, batch);
}

}  // namespace gm::models
