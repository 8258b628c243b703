// `genmodel list`: the model configurations and the devices, with why a device is missing.
#include "engine/backend.h"
#include "engine/io/dataset.h"
#include "models/registry.h"
#include "tools/commands.h"

namespace gm::tools {

namespace {

int run_list() {
  fmt::print("models (--model):\n");
  const auto& configs = models::model_configs();
  if (configs.empty()) fmt::print("  (none registered in this build)\n");
  for (const models::ModelConfig& c : configs)
    fmt::print("  {:<20} {}x{}x{}  {}\n", c.name, c.default_shape.channels, c.default_shape.height,
               c.default_shape.width, c.summary);
  fmt::print("\ndevices (--device):\n");
  for (const char* name : {"cpu", "cuda-emu", "cuda"}) {
    const std::string why = device_unavailable_reason(Device::parse(name));
    fmt::print("  {:<20} {}\n", name, why.empty() ? "available" : "unavailable: " + why);
  }
  fmt::print(
      "\ndata (--data): fashion-mnist (default, {}), fashion-mnist:DIR, mnist:DIR, "
      "cifar10:DIR, folder:DIR\n",
      io::kFashionMnistDir);
  return kOk;
}

}  // namespace

void add_list_command(CLI::App& app, Action& action) {
  CLI::App* cmd = app.add_subcommand("list", "List the model configurations and the devices");
  cmd->callback([&action] { action = run_list; });
}

}  // namespace gm::tools
