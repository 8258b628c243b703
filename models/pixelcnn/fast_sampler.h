#pragma once
// Fast PixelCNN sampling: the same images as PixelCnn::sample_naive, computed with one network
// evaluation's worth of work instead of H * W * C of them.
//
// The naive sampler runs the whole network over the whole image for every pixel (and colour
// channel) it draws: H*W*C passes of H*W positions each, O(N^4) work for an N x N image,
// although drawing pixel t changes only the activations that can see t. Every masked layer's
// output at position p depends only on pixels before p in raster order (type A first layer,
// type B after it), so once the pixels before p are drawn, every activation at p is final and
// never changes again. The evaluator therefore computes each layer at the current position
// only, reading the earlier positions a k x k kernel sees from per-layer caches of the last
// k/2 + 1 rows (the incremental scheme of Fast PixelCNN++, Ramachandran et al. 2017). The 1x1
// layers need no cache at all. Total work: one network evaluation per image (times C for
// colour, since each channel's draw re-evaluates the current position), in H*W sequential
// steps. Exactness: models/incremental.h.
#include "models/autoregressive_model.h"
#include "models/pixelcnn/pixelcnn.h"

namespace gm::models {

// PixelCnn::incremental: the network evaluated one position at a time from its own layers;
// labels int32 [batch] for a conditional model (each layer adds its per-class bias), undefined
// otherwise.
std::unique_ptr<IncrementalEvaluator> pixelcnn_evaluator(const PixelCnn& model, int64_t batch,
                                                         const Tensor& labels);

}  // namespace gm::models
