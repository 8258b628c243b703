// The emulated mma.sync instructions of mma.h: gather the warp's fragments, rebuild A and B,
// and compute this lane's four elements of D.
#include "kernels/simt/mma.h"

#include <cstring>

#include "engine/error.h"
#include "kernels/common/reduced_float.h"
#include "kernels/simt/executor.h"

namespace gm::simt {

namespace {

struct Fragments {
  uint32_t a[4];
  uint32_t b[2];
};

// This lane's D from the warp's A [16][K] and B [K][8]: rows g and g + 8, columns 2t, 2t + 1.
template <int K>
void lane_outputs(const float (&a)[16][K], const float (&b)[K][8], const float (&c)[4],
                  float (&d)[4]) {
  const int lane = lane_id(), g = lane / 4, t = lane % 4;
  for (int i = 0; i < 4; ++i) {
    const int row = g + 8 * (i / 2), col = 2 * t + i % 2;
    float sum = c[i];
    for (int k = 0; k < K; ++k)
      sum += a[row][k] * b[k][col];  // the product is exact (see mma.h); the sum rounds
    d[i] = sum;
  }
}

void gather(const uint32_t (&a)[4], const uint32_t (&b)[2], Fragments (&warp)[32],
            std::source_location where) {
  Fragments mine;
  std::memcpy(mine.a, a, sizeof mine.a);
  std::memcpy(mine.b, b, sizeof mine.b);
  // .aligned: every lane of the warp executes the same mma.
  warp_gather(0xffffffffu, &mine, sizeof mine, warp, where);
}

}  // namespace

void mma_m16n8k8_tf32(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2],
                      const float (&c)[4], std::source_location where) {
  Fragments warp[32];
  gather(a, b, warp, where);
  float am[16][8], bm[8][8];
  for (int lane = 0; lane < 32; ++lane) {
    const int g = lane / 4, t = lane % 4;
    for (int r = 0; r < 4; ++r) {
      const uint32_t bits = warp[lane].a[r];
      GM_CHECK((bits & 0x1fffu) == 0,
               "mma.sync .tf32 at {}:{}: lane {} passes A register {} = {:#010x}, which is not "
               "TF32 (its low 13 bits must be zero: round it with round_tf32)",
               where.file_name(), where.line(), lane, r, bits);
      am[g + 8 * (r % 2)][t + 4 * (r / 2)] = bits_float(bits);
    }
    for (int r = 0; r < 2; ++r) {
      const uint32_t bits = warp[lane].b[r];
      GM_CHECK((bits & 0x1fffu) == 0,
               "mma.sync .tf32 at {}:{}: lane {} passes B register {} = {:#010x}, which is not "
               "TF32 (its low 13 bits must be zero: round it with round_tf32)",
               where.file_name(), where.line(), lane, r, bits);
      bm[t + 4 * r][g] = bits_float(bits);
    }
  }
  lane_outputs<8>(am, bm, c, d);
}

void mma_m16n8k16_bf16(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2],
                       const float (&c)[4], std::source_location where) {
  Fragments warp[32];
  gather(a, b, warp, where);
  float am[16][16], bm[16][8];
  for (int lane = 0; lane < 32; ++lane) {
    const int g = lane / 4, t = lane % 4;
    for (int r = 0; r < 4; ++r)
      for (int half = 0; half < 2; ++half)
        am[g + 8 * (r % 2)][2 * t + 8 * (r / 2) + half] =
            bf16_float(static_cast<uint16_t>(warp[lane].a[r] >> (16 * half)));
    for (int r = 0; r < 2; ++r)
      for (int half = 0; half < 2; ++half)
        bm[2 * t + 8 * r + half][g] =
            bf16_float(static_cast<uint16_t>(warp[lane].b[r] >> (16 * half)));
  }
  lane_outputs<16>(am, bm, c, d);
}

}  // namespace gm::simt
