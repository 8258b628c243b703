#pragma once
// What every generative model offers the tools: a loss in nats per image, exact or bounded
// likelihoods, and sampling. Images are uint8 [N, C, H, W] (0..255) everywhere outside the
// models; each model scales or binarises them itself. Labels are int32 [N], one per image.
#include <limits>
#include <map>
#include <memory>
#include <numbers>
#include <string>
#include <vector>

#include "models/nn.h"

namespace gm::models {

struct ImageShape {
  int64_t channels = 1, height = 28, width = 28;
  int64_t dims() const { return channels * height * width; }  // D in bits/dim
};

struct LossOutput {
  Tensor loss;                  // scalar: mean over the batch of nats per image (to minimise)
  double nats_per_image = 0.0;  // loss.item(), for logs; NaN when the model does not read it
  double bits_per_dim = 0.0;    // nats_per_image / (D ln 2)
  std::map<std::string, double> terms;  // e.g. {"recon", ...}, {"kl", ...} for the VAE
  // The terms of a model that does not read its loss (Model::read_loss): detached scalars left
  // on the device, read with the loss later (StepStats::record), instead of `terms`.
  std::map<std::string, Tensor> unread_terms;
};

// Fills nats_per_image and bits_per_dim from out.loss: one read from the device (a host
// synchronisation), or NaN when `read` is false (Model::read_loss).
inline void read_loss_value(LossOutput& out, const ImageShape& shape, bool read) {
  out.nats_per_image = read ? out.loss.item() : std::numeric_limits<double>::quiet_NaN();
  out.bits_per_dim = out.nats_per_image / (static_cast<double>(shape.dims()) * std::numbers::ln2);
}

// The loss of per-image negative log-likelihoods nll [N] (nats) on images of `shape`.
inline LossOutput loss_from_nll(const Tensor& nll, const ImageShape& shape, bool read = true) {
  LossOutput out;
  out.loss = mean(nll);
  read_loss_value(out, shape, read);
  return out;
}

class Model : public nn::Module {
 public:
  virtual std::string config_name() const = 0;
  virtual ImageShape image_shape() const = 0;
  // False for models whose loss is no likelihood (the plain autoencoder's squared error):
  // their bits_per_dim is NaN and eval reports the loss as what it is.
  virtual bool has_likelihood() const { return true; }
  // images: uint8 [N, C, H, W]; `gen` drives any randomness (binarisation, the VAE's noise).
  virtual LossOutput loss(const Tensor& images, Generator& gen) = 0;
  // uint8 [count, C, H, W]; the same generator state gives the same images.
  virtual Tensor sample(int64_t count, double temperature, Generator& gen) = 0;

  // A class-conditional model (num_classes() = K > 0) models p(x | y) for labels y in [0, K)
  // and needs labels: its loss(images, gen) and sample(count, ...) throw. An unconditional
  // model (0) models p(x), which is also its p(x | y) for any y: the two functions below check
  // the labels' shape, ignore their values and call the unlabelled ones, so callers can pass
  // a data set's labels to any model.
  virtual int64_t num_classes() const { return 0; }
  // -log p(x | y) in nats, averaged over the batch; labels int32 [N] on the cpu.
  virtual LossOutput loss(const Tensor& images, const Tensor& labels, Generator& gen);
  // One image per label, drawn from p(x | y): uint8 [N, C, H, W].
  virtual Tensor sample(const Tensor& labels, double temperature, Generator& gen);

  // Whether loss() reads the loss back to the host for LossOutput's numbers (the default). A
  // training loop that keeps the loss on the device until it reports turns this off, so that
  // a step does not wait for the device; the numbers are NaN then, and terms stay on the device
  // (LossOutput::unread_terms).
  void set_read_loss(bool read) { read_loss_ = read; }
  bool read_loss() const { return read_loss_; }

 private:
  bool read_loss_ = true;
};

}  // namespace gm::models
