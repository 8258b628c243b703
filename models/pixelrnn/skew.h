#pragma once
// Skewing: the Diagonal BiLSTM's trick for turning diagonals into columns.
//
// Row r of an [H, W] map is shifted right by r, giving an [H, 2W-1] map:
//
//     a b c          a b c . .
//     d e f   -->    . d e f .        skewed column s holds the pixels (r, s - r),
//     g h i          . . g h i        i.e. one anti-diagonal of the original map
//
// In the skewed map a pixel's left neighbour (r, c-1) and upper neighbour (r-1, c) both lie
// in the previous column (s-1), at rows r and r-1. So an LSTM that walks the columns left to
// right, with a state-to-state convolution of kernel 2 along the height, updates a whole
// diagonal at once: 2W-1 sequential steps instead of H*W.
//
// All functions are differentiable (each one's backward is its inverse) and are one strided
// copy each.
#include "engine/tensor.h"

namespace gm::pixelrnn {

// x [N, C, H, W] -> [N, C, H, 2W-1]: s[n, c, r, r + j] = x[n, c, r, j], zeros elsewhere.
Tensor skew(const Tensor& x);
// The inverse: [N, C, H, 2W-1] -> [N, C, H, W], reading the pixels back (ignoring the rest).
Tensor unskew(const Tensor& s);

// The layout the layer actually scans: the skewed map transposed, [N, C, 2W-1, H], so that
// each skewed column (one step of the scan) is a contiguous block in memory. With `reverse`,
// the width-reversed map is skewed (column j of x plays the role of column W-1-j), which is
// the Diagonal BiLSTM's backward direction; flip + skew in one copy.
Tensor skew_columns(const Tensor& x, bool reverse);
// The inverse of skew_columns with the same `reverse`: [N, C, 2W-1, H] -> [N, C, H, W].
Tensor unskew_columns(const Tensor& s, bool reverse);

}  // namespace gm::pixelrnn
