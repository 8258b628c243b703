#pragma once
// Fast PixelCNN sampling: the same images as PixelCnn::sample, computed with one network
// evaluation's worth of work instead of H * W * C of them.
//
// The naive sampler runs the whole network over the whole image for every pixel (and colour
// channel) it draws: H*W*C passes of H*W positions each, O(N^4) work for an N x N image,
// although drawing pixel t changes only the activations that can see t. Every masked layer's
// output at position p depends only on pixels before p in raster order (type A first layer,
// type B after it), so once the pixels before p are drawn, every activation at p is final and
// never changes again. The sampler therefore evaluates each layer at the current position
// only, reading the earlier positions a k x k kernel sees from per-layer caches of the last
// k/2 + 1 rows (the incremental scheme of Fast PixelCNN++, Ramachandran et al. 2017). The 1x1
// layers need no cache at all. Total work: one network evaluation per image (times C for
// colour, since each channel's draw re-evaluates the current position), in H*W sequential
// steps.
//
// Exactness: each position's outputs are computed with the same backend GEMM as the naive
// convolution (im2col + GEMM, the same gathered weights and the same tap order), and the draws
// use the same kernels and the same Philox offsets (one `gen.advance(count)` per pixel and
// channel, in raster order), so the same generator state gives the same images. Logits can
// still differ in the last bit where the BLAS library picks a different micro-kernel for the
// narrow matrices of one position (OpenBLAS does for float32 on AVX-512); a last-bit change
// moves a sampled pixel only if the uniform lands within ~1e-7 of a CDF step.
// tests/test_fast_sampling.cpp checks equal images and logits to rounding.
//
// CPU only (the per-position steps are tiny and latency-bound; a GPU version would keep the
// caches on the device and fuse each step into a few kernels).
#include "models/pixelcnn/pixelcnn.h"

namespace gm::models {

// Draws `count` images; same contract, same generator use and same result as model.sample.
Tensor sample_pixelcnn_fast(const PixelCnn& model, int64_t count, double temperature,
                            Generator& gen);

// Teacher forcing through the incremental evaluator: logits [N, V, C, H, W] of uint8 images
// [N, C, H, W], computed position by position from the caches. For tests: it equals
// model.logits(scale_images(images)) up to rounding (binary models: pass {0, 255} images).
Tensor pixelcnn_incremental_logits(const PixelCnn& model, const Tensor& images);

}  // namespace gm::models
