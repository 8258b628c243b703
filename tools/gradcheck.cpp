// `genmodel gradcheck`: autograd against central finite differences, for a whole model on a
// tiny image or for one op on tiny inputs, in float64. Prints one row per parameter (or
// input) tensor and exits with 1 when any fails.
#include <fmt/ranges.h>

#include "engine/gradcheck.h"
#include "kernels/common/philox.h"
#include "models/model_gradcheck.h"
#include "models/registry.h"
#include "support/op_catalogue.h"
#include "tools/commands.h"
#include "tools/common.h"
#include "tools/option_checks.h"

namespace gm::tools {

namespace {

struct GradcheckCli {
  std::string model, op, device = "cpu";
  int64_t size = 4, batch = 2, max_elements = 48;
  uint64_t seed = 0;
};

// Uniformly random pixels 0..255 (Philox), so every level of the softmax can appear.
Tensor random_images(const Shape& shape, uint64_t seed) {
  Tensor t = Tensor::empty(shape, DType::u8);
  for (int64_t i = 0; i < t.numel(); ++i)
    t.data<uint8_t>()[i] =
        static_cast<uint8_t>(256.0 * philox::uniform(seed, 0, static_cast<uint64_t>(i)));
  return t;
}

GradcheckReport check_model(const GradcheckCli& o, Device device) {
  const models::ModelConfig& config = models::find_model_config(o.model);
  const models::ImageShape shape{config.default_shape.channels, o.size, o.size};
  Generator init_gen(stream_seed(o.seed, Stream::init));
  // A conditional model is checked with 3 classes and labels 0, 1, 2, 0, ...
  const int64_t classes = config.conditional() ? 3 : 0;
  auto model = models::make_model(o.model, shape, {device, DType::f64, &init_gen}, classes);
  const Tensor images = random_images({o.batch, shape.channels, shape.height, shape.width}, o.seed);
  std::vector<int32_t> label_values;
  for (int64_t i = 0; i < o.batch; ++i)
    label_values.push_back(static_cast<int32_t>(i % 3));
  const Tensor labels = Tensor::from_vector(label_values, {o.batch});
  const uint64_t noise_seed = stream_seed(o.seed, Stream::train);
  models::ModelGradcheckOptions options;
  options.max_elements_per_tensor = o.max_elements;
  fmt::print(
      "gradcheck of {} ({} parameters) on {} random {}x{}x{} images, {}, float64; up "
      "to {} elements per tensor\n",
      o.model, model->parameter_count(), o.batch, shape.channels, shape.height, shape.width,
      device.name(), o.max_elements);
  return models::gradcheck_parameters(
      model->parameters(),
      [&] {
        Generator gen(noise_seed);  // the same noise (binarisation, VAE epsilon) every call
        return model->loss(images, labels, gen).loss;
      },
      options);
}

// The ops of the catalogue (support/op_catalogue.h) that have a differentiable case.
std::vector<std::string> differentiable_ops() {
  std::vector<std::string> ops;
  for (const catalogue::OpCase& c : catalogue::op_catalogue())
    if (c.differentiable && (ops.empty() || ops.back() != c.op_name)) ops.push_back(c.op_name);
  return ops;
}

// The op's first differentiable catalogue case, on inputs drawn from --seed.
GradcheckReport check_op(const GradcheckCli& o, Device device) {
  for (const catalogue::OpCase& c : catalogue::cases_of(o.op)) {
    if (!c.differentiable) continue;
    std::vector<Tensor> inputs;
    for (const Tensor& t : catalogue::make_inputs(c, o.seed))
      inputs.push_back(t.to(device));
    fmt::print("gradcheck of {} (case '{}') on {}, float64\n", o.op, c.name, device.name());
    return gradcheck(c.op, inputs, catalogue::input_names(c), c.grad);
  }
  throw UsageError(fmt::format("op '{}' has no differentiable case to check", o.op));
}

int run_gradcheck(const GradcheckCli& o) {
  if (o.model.empty() == o.op.empty())
    throw UsageError("give exactly one of --model NAME or --op NAME");
  const Device device = checked_device(o.device);
  const GradcheckReport report = o.model.empty() ? check_op(o, device) : check_model(o, device);
  fmt::print("{}", report.table());
  const bool passed = report.passed();
  fmt::print("{}\n", passed ? "all tensors pass"
                            : "FAILED: autograd disagrees with finite "
                              "differences beyond the tolerance");
  return passed ? kOk : kFailure;
}

}  // namespace

void add_gradcheck_command(CLI::App& app, Action& action) {
  auto o = std::make_shared<GradcheckCli>();
  const std::vector<std::string> ops = differentiable_ops();
  CLI::App* cmd = app.add_subcommand(
      "gradcheck", "Compare autograd with finite differences for a model or an op (float64)");
  cmd->add_option("--model", o->model, "A model configuration, built for a tiny image");
  cmd->add_option("--op", o->op, "One op on tiny inputs")->check(CLI::IsMember(ops));
  cmd->add_option("--device", o->device, "cpu, cuda, cuda:N or cuda-emu")->capture_default_str();
  cmd->add_option("--size", o->size, "Model: image height and width")
      ->check(positive_integer(64))
      ->capture_default_str();
  cmd->add_option("--batch", o->batch, "Model: images in the batch")
      ->check(positive_integer(64))
      ->capture_default_str();
  cmd->add_option("--max-elements", o->max_elements,
                  "Model: elements checked per parameter tensor (a seeded sample)")
      ->check(positive_integer(1'000'000))
      ->capture_default_str();
  cmd->add_option("--seed", o->seed, "Seeds the weights, images and samples")
      ->capture_default_str();
  cmd->callback([o, &action] { action = [o] { return run_gradcheck(*o); }; });
}

}  // namespace gm::tools
