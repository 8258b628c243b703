#pragma once
// Fast Row LSTM sampling: the same images as PixelRnn::sample, with one network evaluation's
// worth of work instead of one (partial) pass per pixel.
//
// The naive sampler reruns the network on rows 0..r for every pixel of row r: N^2 passes and
// ~N^4/2 work for an N x N image, each pass N sequential row steps. But a Row LSTM's state at
// (r, c) depends only on earlier pixels: its input-to-state convolution sees x at (r, c-1) and
// (r, c) (a 1x3 kernel with the right tap masked), its state-to-state convolution sees the
// previous row's h at c-1, c, c+1, and that whole row was finished before row r began. So the
// sampler carries each layer's (h, c) row state from row to row, and within a row computes
// the input-to-state gates, the LSTM cell, the output 1x1 and the head at the current pixel
// only, left to right, sampling as it goes: per row one LSTM row step spread over its pixels,
// N sequential row steps in all and O(N^2) work.
//
// Exactness: as for the PixelCNN fast sampler (models/pixelcnn/fast_sampler.h), every value
// is the same dot product in the same order as the naive pass (the state-to-state GEMM
// accumulates onto the input-to-state gates with the bias as the last column of an augmented
// weight, exactly as lstm_scan does; the cell is the backend's fused LSTM cell) and the draws
// use the same kernel and the same Philox counters, so the same generator state gives the
// same images.
//
// Diagonal BiLSTM models have no fast sampler yet (PixelCNN and Row LSTM have one).
// One is possible: the forward direction's state at (r, c) needs only (r, c-1) and (r-1, c),
// and the backward direction, shifted down a row, only rows above, so it could be computed a
// whole row at a time when each row begins. CPU only.
#include "models/pixelrnn/pixelrnn.h"

namespace gm::pixelrnn {

// Row LSTM models only; same contract, generator use and result as model.sample.
Tensor sample_rowlstm_fast(const PixelRnn& model, int64_t count, double temperature,
                           Generator& gen);

// Teacher forcing through the incremental evaluator: logits [N, 256, C, H, W] of uint8 images,
// computed pixel by pixel from the carried row states. For tests: equals
// model.logits(model.scale(images)) up to rounding.
Tensor rowlstm_incremental_logits(const PixelRnn& model, const Tensor& images);

}  // namespace gm::pixelrnn
