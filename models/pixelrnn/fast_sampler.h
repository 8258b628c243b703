#pragma once
// Fast PixelRNN sampling: the same images as PixelRnn::sample_naive, with one network
// evaluation's worth of work instead of one (partial) pass per pixel.
//
// The naive sampler reruns the network on rows 0..r for every pixel of row r: N^2 passes and
// ~N^4/2 work for an N x N image. The evaluator instead carries each layer's recurrent state
// and computes only what a new pixel changes.
//
// Row LSTM: the state at (r, c) depends only on earlier pixels. The input-to-state convolution
// sees x at (r, c-1) and (r, c) (a 1x3 kernel with the right tap masked), the state-to-state
// convolution the previous row's h at c-1, c, c+1, and that whole row was finished before row
// r began. So within a row the evaluator computes the input-to-state gates, the LSTM cell,
// the output 1x1 and the head at the current pixel only, left to right.
//
// Diagonal BiLSTM: the forward (left-to-right) direction's state at (r, c) reads the states
// at (r, c-1) and (r-1, c), so it too is one cell step per pixel, computed when the pixel's
// layer input is known. The backward (right-to-left) direction's state at (r, c) reads
// (r, c+1): a future pixel. That is why the layer shifts it down a row, and why it costs
// nothing extra here: row r only reads the backward states of row r-1, which depend on rows
// <= r-1 alone, so the evaluator computes the whole backward row r-1 (right to left, W cell
// steps per layer) when row r begins. One more detail makes it exact: the skewed map's padding
// is not zero state. The scan adds the bias at every skewed position, so the positions left of
// column 0 (right of column W-1 for the backward direction) carry a bias-driven state into the
// first pixel of each row; the evaluator runs those padding cells too (r of them on row r), as
// the scan does. Work: about one full pass (forward, backward and padding cells), in H*W
// sequential steps.
//
// Exactness: every value is the same dot product in the same order as the naive pass (the
// state-to-state GEMM accumulates onto the input-to-state gates with the bias as the last
// column of an augmented weight, exactly as lstm_scan does; the cell is the backend's fused
// LSTM cell); see models/incremental.h. CPU only.
#include "models/autoregressive_model.h"
#include "models/pixelrnn/pixelrnn.h"

namespace gm::pixelrnn {

// PixelRnn::incremental: either architecture, from the model's own layers.
std::unique_ptr<models::IncrementalEvaluator> pixelrnn_evaluator(const PixelRnn& model,
                                                                 int64_t batch);

}  // namespace gm::pixelrnn
