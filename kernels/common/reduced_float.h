#pragma once
// The reduced-precision formats the tensor cores read, as bit operations on float32 that every
// compiler evaluates the same way: TF32 (float32 with 10 of its 23 mantissa bits) and BF16
// (the top 16 bits of a float32: 7 mantissa bits). Rounding is to nearest, ties to even, done
// by these functions on both devices rather than by nvcc's cvt, whose TF32 form (cvt.rna) rounds
// ties away from zero: one rule, so that the emulator and a GPU agree bit for bit on the inputs.
#include <cstdint>
#include <cstring>

#include "kernels/common/hd.h"

namespace gm {

GM_HD uint32_t float_bits(float x) {
  uint32_t u;
  std::memcpy(&u, &x, sizeof u);
  return u;
}
GM_HD float bits_float(uint32_t u) {
  float x;
  std::memcpy(&x, &u, sizeof x);
  return x;
}

// x rounded to the nearest float32 whose low `dropped` mantissa bits are zero, ties to even.
// Infinities pass through; a NaN stays a NaN (its payload's top bit is set so that clearing
// the low bits cannot turn it into an infinity). Values that round past the largest finite
// number become infinity, as IEEE rounding requires.
template <int dropped>
GM_HD uint32_t round_mantissa_bits(uint32_t u) {
  constexpr uint32_t low = (1u << dropped) - 1u;
  if ((u & 0x7f800000u) == 0x7f800000u)  // infinity or NaN
    return (u & 0x007fffffu) ? ((u | 0x00400000u) & ~low) : u;
  // Adding half an ulp minus one, plus the kept lowest bit, carries exactly when the dropped
  // part is above half, or equal to half with an odd kept part.
  u += (low >> 1) + ((u >> dropped) & 1u);
  return u & ~low;
}

// TF32: 13 mantissa bits dropped; the result is still a float32 (what mma .tf32 reads).
GM_HD float round_tf32(float x) {
  return bits_float(round_mantissa_bits<13>(float_bits(x)));
}
// BF16: 16 bits dropped; the 16-bit pattern itself (what mma .bf16 reads, two per register).
GM_HD uint16_t bf16_bits(float x) {
  return static_cast<uint16_t>(round_mantissa_bits<16>(float_bits(x)) >> 16);
}
GM_HD float bf16_float(uint16_t h) {
  return bits_float(static_cast<uint32_t>(h) << 16);
}
GM_HD float round_bf16(float x) {
  return bf16_float(bf16_bits(x));
}
// Two BF16 values in one register: `low` in bits 0-15, as the fragment layouts pair them (the
// lower column or row index in the lower half).
GM_HD uint32_t pack_bf16x2(float low, float high) {
  return static_cast<uint32_t>(bf16_bits(low)) | (static_cast<uint32_t>(bf16_bits(high)) << 16);
}

}  // namespace gm
