// A program of one's own that uses a trained VAE through the genmodel libraries
// (genmodel::tools and the models and engine it links): load a checkpoint written by
// `genmodel train`, reconstruct the first test images of the data it was trained on, draw
// images from the prior, and write both as one PNG. Build it as examples/CMakeLists.txt
// does: link genmodel::tools.
//
// Usage: vae_pictures CHECKPOINT OUT.png
#include <fmt/format.h>

#include <exception>

#include "engine/autograd.h"
#include "engine/io/png.h"
#include "models/vae/vae.h"
#include "tools/checkpoint.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    fmt::print(stderr, "usage: {} CHECKPOINT OUT.png\n", argv[0]);
    return 2;
  }
  try {
    using namespace gm;
    const tools::Checkpoint ck = tools::read_checkpoint(argv[1]);
    auto model = tools::load_model(ck, Device::cpu());
    auto* vae = dynamic_cast<models::VaeModel*>(model.get());
    if (!vae) {
      fmt::print(stderr, "{} holds {}, not a VAE\n", argv[1], ck.config.model);
      return 1;
    }
    const io::Dataset test = tools::load_splits(ck.config.data, ck.config.shape).test.first(8);
    NoGradGuard no_grad;
    Generator gen(1);
    const Tensor rebuilt = vae->reconstruct(test.images, models::DecodeMode::mean, gen);
    const Tensor drawn = vae->sample(test.size(), 1.0, models::DecodeMode::mean, gen);
    const std::vector<double> nelbo = vae->negative_elbo(test.images, gen);
    double mean_nelbo = 0.0;
    for (double v : nelbo)
      mean_nelbo += v / static_cast<double>(nelbo.size());

    io::GridOptions grid;
    grid.columns = test.size();  // rows: originals, reconstructions, prior samples
    io::write_image_grid(argv[2], concat({test.images, rebuilt, drawn}, 0), grid);
    fmt::print("{} (step {}): -ELBO {:.1f} nats/image on {} test images; pictures in {}\n",
               ck.config.model, ck.state.step, mean_nelbo, test.size(), argv[2]);
    return 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return 1;
  }
}
