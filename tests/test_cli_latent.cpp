// The command line's uses of a trained encoder, run as a user runs them on a tiny data set:
// `latent` (manifold, interpolations, sweeps, reconstructions), `sample --mean`, the plain
// autoencoder through train/eval/sample, and the `features` linear probe; with their bad inputs.
#include <stb_image.h>

#include <fstream>
#include <sstream>

#include "tests/cli_helpers.h"

using namespace gm::test_cli;
using Catch::Matchers::Contains;

namespace {

// Width and height of a PNG, 0 x 0 if it cannot be read.
std::pair<int, int> png_size(const std::string& path) {
  int w = 0, h = 0, c = 0;
  stbi_uc* pixels = stbi_load(path.c_str(), &w, &h, &c, 0);
  if (!pixels) return {0, 0};
  stbi_image_free(pixels);
  return {w, h};
}

// Tiles of the tiny data's 8 px images are scaled 7x to 56 px with 2 px borders.
int grid_side(int tiles) {
  return tiles * (56 + 2) + 2;
}

std::string train(const TempDir& dir, const std::string& data, const std::string& model) {
  const Result r = genmodel(fmt::format("train --model {} --data {} --batch 8 --steps 2 --out {}",
                                        model, data, dir.str(model)));
  INFO(r.output);
  REQUIRE(r.code == 0);
  return dir.str(model + "/checkpoint.safetensors");
}

}  // namespace

TEST_CASE("cli: latent draws the manifold, interpolations, sweeps and reconstructions") {
  TempDir dir("latent");
  const std::string data = make_tiny_data(dir);
  const std::string vae2d = train(dir, data, "vae-2d");
  const std::string png = dir.str("view.png");

  Result r = genmodel(
      fmt::format("latent --checkpoint {} --view manifold --size 3 --mean --out {}", vae2d, png));
  INFO(r.output);
  REQUIRE(r.code == 0);
  CHECK_THAT(r.output, Contains("3 x 3 latent manifold") && Contains("decoder means"));
  CHECK(png_size(png) == std::pair{grid_side(3), grid_side(3)});

  r = genmodel(fmt::format("latent --checkpoint {} --view interpolate --pairs 2 --steps 5 --out {}",
                           vae2d, png));
  REQUIRE(r.code == 0);
  CHECK_THAT(r.output, Contains("decoder samples"));
  CHECK(png_size(png) == std::pair{grid_side(5), grid_side(2)});

  r = genmodel(
      fmt::format("latent --checkpoint {} --view sweep --image 3 --steps 4 --out {}", vae2d, png));
  REQUIRE(r.code == 0);  // both dimensions by default: 2 rows of 4
  CHECK(png_size(png) == std::pair{grid_side(4), grid_side(2)});

  r = genmodel(fmt::format("latent --checkpoint {} --view reconstruct --count 6 --mean --out {}",
                           vae2d, png));
  REQUIRE(r.code == 0);  // originals over reconstructions
  CHECK(png_size(png) == std::pair{grid_side(6), grid_side(2)});

  // Bad inputs: a manifold of a 20-D space, a dimension that does not exist, more test images
  // than the data has, an unknown view, a checkpoint without a latent space.
  const std::string vae = train(dir, data, "vae-ref");
  r = genmodel(fmt::format("latent --checkpoint {} --view manifold", vae));
  CHECK(r.code == 1);
  CHECK_THAT(r.output, Contains("2-D latent space") && Contains("vae-2d"));
  r = genmodel(fmt::format("latent --checkpoint {} --view sweep --dims 0,2", vae2d));
  CHECK(r.code == 1);
  CHECK_THAT(r.output, Contains("dimension 2 does not exist"));
  r = genmodel(fmt::format("latent --checkpoint {} --view reconstruct --count 17", vae2d));
  CHECK(r.code == 1);
  CHECK_THAT(r.output, Contains("16 test images"));
  CHECK(genmodel(fmt::format("latent --checkpoint {} --view grid", vae2d)).code == 2);
  const std::string pixelcnn = train(dir, data, "pixelcnn-ref");
  r = genmodel(fmt::format("latent --checkpoint {} --view interpolate", pixelcnn));
  CHECK(r.code == 2);
  CHECK_THAT(r.output, Contains("needs a VAE checkpoint"));

  // sample --mean: VAEs only; every sample run reports its time per image.
  r = genmodel(fmt::format("sample --checkpoint {} --mean --count 4 --out {}", vae, png));
  REQUIRE(r.code == 0);
  CHECK_THAT(r.output, Contains("decoder means") && Contains("ms per image"));
  r = genmodel(fmt::format("sample --checkpoint {} --mean --out {}", pixelcnn, png));
  CHECK(r.code == 2);
  CHECK_THAT(r.output, Contains("--mean"));
}

TEST_CASE("cli: the plain autoencoder trains, reports its squared error and refuses to sample") {
  TempDir dir("ae");
  const std::string data = make_tiny_data(dir);
  const std::string ae = train(dir, data, "ae-conv");
  Result r = genmodel("eval --checkpoint " + ae);
  INFO(r.output);
  REQUIRE(r.code == 0);
  CHECK_THAT(r.output, Contains("squared reconstruction error") && Contains("no NLL"));
  r = genmodel("sample --checkpoint " + ae);
  CHECK(r.code == 1);
  CHECK_THAT(r.output, Contains("no p(x) to sample"));
  r = genmodel(fmt::format("latent --checkpoint {} --view reconstruct --count 4 --out {}", ae,
                           dir.str("ae.png")));
  CHECK(r.code == 0);
  r = genmodel(fmt::format("latent --checkpoint {} --view manifold", ae));
  CHECK(r.code == 2);
  CHECK_THAT(r.output, Contains("only --view reconstruct"));
}

TEST_CASE("cli: features prints and writes the linear-probe table") {
  TempDir dir("features");
  const std::string data = make_tiny_data(dir);
  const std::string ae = train(dir, data, "ae-conv");
  const std::string vae = train(dir, data, "vae-ref");
  const std::string csv = dir.str("probe.csv");
  Result r =
      genmodel(fmt::format("features --data {} --checkpoint {} --checkpoint {} --steps 20 --out {}",
                           data, ae, vae, csv));
  INFO(r.output);
  REQUIRE(r.code == 0);
  CHECK_THAT(r.output, Contains("| raw pixels | 64 |") &&
                           Contains("| ae-conv code (step 2) | 20 |") &&
                           Contains("| vae-ref posterior mean (step 2) | 20 |"));
  std::ifstream in(csv);
  std::string line;
  std::vector<std::string> lines;
  while (std::getline(in, line))
    lines.push_back(line);
  REQUIRE(lines.size() == 4);  // header and three representations
  CHECK_THAT(lines[1], Contains("raw pixels,64,48,16,"));

  const std::string pixelcnn = train(dir, data, "pixelcnn-ref");
  r = genmodel(fmt::format("features --data {} --checkpoint {}", data, pixelcnn));
  CHECK(r.code == 2);
  CHECK_THAT(r.output, Contains("has no encoder"));
  CHECK(genmodel("features --steps 0").code == 2);
}
