#pragma once
// Mask geometry of PixelCNN's masked convolutions (docs/reference-models.md, "How the layers are
// written"), defined once for every backend and for the tests' oracle.
//
// Pixels are generated in raster order, so output pixel (r, c) may only depend on input pixels
// before it: every row above, and on its own row the pixels to its left. Seen from the kernel,
// that is every tap above the centre row and, on the centre row, the taps left of the centre.
// The centre tap is the current pixel itself: type A (first layer) hides it, type B (later
// layers, whose input at (r, c) already only summarises earlier pixels) shows it.
//
// With colour groups G > 1 (R|G|B: channels split into G contiguous blocks) the current pixel
// is generated channel group by channel group, so at the centre tap input channel ci may feed
// output channel co when group(ci) < group(co) (G sees R, B sees R and G), and, for type B
// only, when group(ci) == group(co). Taps other than the centre see all channels.
#include <cstdint>
#include <string>

#include "kernels/common/hd.h"
#include "kernels/common/op_types.h"

namespace gm::mask {

GM_HD bool is_centre_tap(int64_t kh, int64_t kw, int64_t ky, int64_t kx) {
  return ky == kh / 2 && kx == kw / 2;
}

// Whether tap (ky, kx) of a kh x kw kernel is visible, ignoring colour groups (the rule for
// G = 1): rows above the centre, the centre row left of the centre, and the centre for B.
GM_HD bool tap_visible(MaskType type, int64_t kh, int64_t kw, int64_t ky, int64_t kx) {
  if (type == MaskType::none) return true;
  const int64_t cy = kh / 2, cx = kw / 2;
  if (ky != cy) return ky < cy;
  if (kx != cx) return kx < cx;
  return type == MaskType::B;
}

// The colour group (0 .. groups-1) of channel c of `channels`, which groups divides.
GM_HD int64_t channel_group(int64_t c, int64_t channels, int64_t groups) {
  return c / (channels / groups);
}

// At the centre tap: may input channel ci (of C) feed output channel co (of K)? With one
// group this reduces to tap_visible's centre rule (A: no, B: yes).
GM_HD bool centre_pair_visible(MaskType type, int64_t groups, int64_t ci, int64_t C, int64_t co,
                               int64_t K) {
  if (type == MaskType::none) return true;
  const int64_t gi = channel_group(ci, C, groups), go = channel_group(co, K, groups);
  return gi < go || (gi == go && type == MaskType::B);
}

// The whole rule for one weight w[co, ci, ky, kx].
GM_HD bool weight_visible(MaskType type, int64_t groups, int64_t kh, int64_t kw, int64_t ky,
                          int64_t kx, int64_t ci, int64_t C, int64_t co, int64_t K) {
  if (is_centre_tap(kh, kw, ky, kx)) return centre_pair_visible(type, groups, ci, C, co, K);
  return tap_visible(type, kh, kw, ky, kx);
}

// Whether a kernel has to compute tap (ky, kx) at all: some (ci, co) pair sees it. Only the
// centre differs from tap_visible: with colour groups type A still shows it to later groups.
GM_HD bool tap_used(MaskType type, int64_t groups, int64_t kh, int64_t kw, int64_t ky, int64_t kx) {
  if (is_centre_tap(kh, kw, ky, kx) && groups > 1) return true;
  return tap_visible(type, kh, kw, ky, kx);
}

// How many taps a kernel computes: kh*kw unmasked, kh*kw/2 (+1 for B or colour groups) masked.
GM_HD int64_t used_tap_count(MaskType type, int64_t groups, int64_t kh, int64_t kw) {
  int64_t n = 0;
  for (int64_t ky = 0; ky < kh; ++ky)
    for (int64_t kx = 0; kx < kw; ++kx)
      n += tap_used(type, groups, kh, kw, ky, kx) ? 1 : 0;
  return n;
}

// How many of the K*C*kh*kw weights are visible: the useful multiply-adds per output pixel.
GM_HD int64_t visible_weight_count(MaskType type, int64_t groups, int64_t kh, int64_t kw, int64_t C,
                                   int64_t K) {
  int64_t n = 0;
  for (int64_t ky = 0; ky < kh; ++ky)
    for (int64_t kx = 0; kx < kw; ++kx) {
      if (!is_centre_tap(kh, kw, ky, kx)) {
        n += tap_visible(type, kh, kw, ky, kx) ? C * K : 0;
        continue;
      }
      for (int64_t co = 0; co < K; ++co)
        for (int64_t ci = 0; ci < C; ++ci)
          n += centre_pair_visible(type, groups, ci, C, co, K) ? 1 : 0;
    }
  return n;
}

// Host-only: the mask as ASCII ('x' visible, '.' skipped) for docs and tools, and, with colour
// groups, the centre tap's table of which input group (columns) feeds which output group (rows).
inline std::string picture(MaskType type, int64_t groups, int64_t k) {
  std::string s;
  for (int64_t ky = 0; ky < k; ++ky) {
    for (int64_t kx = 0; kx < k; ++kx) {
      const bool partial = is_centre_tap(k, k, ky, kx) && groups > 1 && type != MaskType::none;
      s += partial ? 'c' : tap_visible(type, k, k, ky, kx) ? 'x' : '.';
      s += kx + 1 < k ? " " : "\n";
    }
  }
  if (groups == 1 || type == MaskType::none) return s;
  // Groups are named R, G, B when there are three, else by number.
  auto append_label = [&](int64_t g) {
    if (groups == 3)
      s.push_back("RGB"[g]);
    else
      s.append(std::to_string(g));
  };
  s.append("centre tap c: input group (columns) -> output group (rows)\n ");
  for (int64_t gi = 0; gi < groups; ++gi) {
    s.push_back(' ');
    append_label(gi);
  }
  s.push_back('\n');
  for (int64_t go = 0; go < groups; ++go) {
    append_label(go);
    for (int64_t gi = 0; gi < groups; ++gi)
      s.append(centre_pair_visible(type, groups, gi, groups, go, groups) ? " x" : " .");
    s.push_back('\n');
  }
  return s;
}

}  // namespace gm::mask
