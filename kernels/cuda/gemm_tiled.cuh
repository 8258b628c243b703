#pragma once
// The library's GEMM kernel and its launcher, in one header so that two programs launch the SAME
// source: kernels/cuda/gemm.cu (the backend's gemm<T>, explicitly instantiated there) and the
// kernel lab (benchmarks/lab/gemm_versions.cuh, version gemm_v5_library), which validates it
// against a double reference and, on a GPU, times it beside v1-v4 and cuBLAS.
//
// Row-major C = alpha op(A) op(B) + beta C, batched. Each block computes a BM x BN tile of C and
// walks K in steps of BK through shared memory; each thread accumulates a TM x TN micro-tile in
// registers. What this version adds to the lab's v4 (benchmarks/lab/gemm_tiled_v4.cuh):
//
// - Vectorised global loads. Every thread loads groups of 4 consecutive elements along the
//   operand's contiguous dimension (k of A [M, K], m of A^T [K, M], ...); when the leading
//   dimension, the pointer and the batch stride allow, a group is one 16-byte load (float4;
//   two double2 for double), else 4 guarded scalar loads (odd sizes, tile edges).
// - Double buffering. Two shared tiles per operand: while the block multiplies from one, the
//   next K slice is already in flight from global memory into registers and is stored into the
//   other, so one barrier per slice suffices and load latency hides behind the arithmetic.
// - Padded shared rows (BM + 4, BN + 4). The inner loop reads 4 consecutive values per operand
//   (one 16-byte shared load on a GPU) from rows that stay 16-byte aligned; the transposing
//   stores (a group along k written down a column of the k-major tile) fall on 2 banks per
//   address instead of v4's 16 (row stride 64 floats put every k of a column in one bank).
// - Grids chunked past 65,535 tiles in y (rows of C) as in z (batch).
//
// Each output is still one accumulator over k = 0, 1, ..., K-1 in order, so the lab's v1-v4
// and this kernel agree bit for bit. On a real GPU cuBLAS is the backend's default
// (backend_math.cpp); this kernel runs in the emulated backend and wherever cuBLAS is switched
// off (CudaGemm::tiled*).
//
// A GemmFusion (kernels/cuda/launch.h) adds, at run time and in the same kernel, a ReLU on
// B as it is loaded, masked weights read in place (A's columns gapped), and an epilogue: a bias
// per row, relu' of a tensor laid out like C, a residual, and row sums of A (the bias gradient
// beside a weight gradient). Empty, the kernel is the plain GEMM above.
#include "kernels/common/unary_math.h"
#include "kernels/cuda/device.cuh"
#include "kernels/cuda/launch.h"

namespace gm::GM_CUDA_NS {

// Four consecutive elements from `p`, which is 4-element aligned: one vector load on a GPU.
template <typename T>
__device__ __forceinline__ void load4(const T* p, T (&v)[4]) {
#if GM_CUDA_EMU
  GM_UNROLL
  for (int j = 0; j < 4; ++j)
    v[j] = p[j];
#else
  if constexpr (sizeof(T) == 4) {
    const float4 q = *reinterpret_cast<const float4*>(p);
    v[0] = q.x, v[1] = q.y, v[2] = q.z, v[3] = q.w;
  } else {
    const double2 q0 = reinterpret_cast<const double2*>(p)[0];
    const double2 q1 = reinterpret_cast<const double2*>(p)[1];
    v[0] = q0.x, v[1] = q0.y, v[2] = q1.x, v[3] = q1.y;
  }
#endif
}

// One operand's slice of a K step: groups of 4 elements along the contiguous dimension.
// `rows` x `cols` is the operand as stored (row-major, leading dimension cols); the group at
// (r, c..c+3) is loaded whole when `vector` and inside, else element by element with zeros
// outside.
template <typename T>
__device__ __forceinline__ void load_group(const T* base, int64_t rows, int64_t cols, int64_t r,
                                           int64_t c, bool vector, T (&v)[4]) {
  if (vector && r < rows && c + 3 < cols) {
    load4(base + r * cols + c, v);
    return;
  }
  GM_UNROLL
  for (int j = 0; j < 4; ++j)
    v[j] = r < rows && c + j < cols ? base[r * cols + c + j] : T(0);
}

// load_group of an A whose stored columns are gapped (GemmFusion::a_taps): column c of the
// `cols` the GEMM sees is stored at (c / taps) * kernel + c % taps of a row. Element by element:
// a group may straddle a gap. The column arithmetic is 32-bit (the backend gaps only weights
// of fewer than 2^31 columns): a 64-bit division is a long instruction sequence on a GPU.
template <typename T>
__device__ __forceinline__ void load_group_gapped(const T* base, int64_t rows, int64_t cols,
                                                  int64_t r, int64_t c, int64_t taps,
                                                  int64_t kernel, T (&v)[4]) {
  const int64_t stored_cols = cols / taps * kernel;
  const int t = static_cast<int>(taps);
  GM_UNROLL
  for (int j = 0; j < 4; ++j) {
    v[j] = T(0);
    if (r >= rows || c + j >= cols) continue;
    const int col = static_cast<int>(c + j), group = col / t;
    v[j] = base[r * stored_cols + static_cast<int64_t>(group) * kernel + (col - group * t)];
  }
}

// One thread's share of a K step's loads, for a kernel of kThreads threads with BM x BK tiles
// of op(A) and BK x BN tiles of op(B): where each of its 4-element groups sits in the tiles
// ((k, m) of its first element, the group running along k when A is stored [M, K] and along m
// when it is stored [K, M]; the same for B), and the fetch of those groups from global memory
// into registers. The tiled and the tensor-core GEMM share it; each stores the registers into
// its own shared-memory layout.
template <typename T, int BM, int BN, int BK, int kThreads>
struct TileGroups {
  static constexpr int kGroupsA = BM * BK / 4 / kThreads, kGroupsB = BK * BN / 4 / kThreads;
  static_assert(kGroupsA * kThreads * 4 == BM * BK && kGroupsB * kThreads * 4 == BK * BN,
                "every thread loads the same number of 4-element groups");
  int a_k[kGroupsA], a_m[kGroupsA], b_k[kGroupsB], b_n[kGroupsB];
  T a_next[kGroupsA][4], b_next[kGroupsB][4];

  __device__ __forceinline__ TileGroups(const Gemm& s, int tid) {
    GM_UNROLL
    for (int l = 0; l < kGroupsA; ++l) {
      const int q = tid + l * kThreads;
      a_m[l] = s.trans_a ? q % (BM / 4) * 4 : q / (BK / 4);
      a_k[l] = s.trans_a ? q / (BM / 4) : q % (BK / 4) * 4;
    }
    GM_UNROLL
    for (int l = 0; l < kGroupsB; ++l) {
      const int q = tid + l * kThreads;
      b_n[l] = s.trans_b ? q / (BK / 4) : q % (BN / 4) * 4;
      b_k[l] = s.trans_b ? q % (BK / 4) * 4 : q / (BN / 4);
    }
  }

  // Global -> registers: the groups of the K step starting at k0 of the tile at (m0, n0).
  __device__ __forceinline__ void fetch(const Gemm& s, const T* a, const T* b, int64_t m0,
                                        int64_t n0, int64_t k0, bool vector_a, bool vector_b) {
    fetch_a(s, a, m0, k0, vector_a);
    fetch_b(s, b, n0, k0, vector_b);
  }
  // A's groups alone, A gapped when the fusion says so (an operand B computed on the fly
  // fetches its own: the implicit-GEMM convolution).
  __device__ __forceinline__ void fetch_a(const Gemm& s, const T* a, int64_t m0, int64_t k0,
                                          bool vector_a, const GemmFusion& f) {
    if (f.a_taps == 0) {
      fetch_a(s, a, m0, k0, vector_a);
      return;
    }
    GM_UNROLL
    for (int l = 0; l < kGroupsA; ++l) {
      if (s.trans_a)
        load_group_gapped(a, s.k, s.m, k0 + a_k[l], m0 + a_m[l], f.a_taps, f.a_kernel, a_next[l]);
      else
        load_group_gapped(a, s.m, s.k, m0 + a_m[l], k0 + a_k[l], f.a_taps, f.a_kernel, a_next[l]);
    }
  }
  __device__ __forceinline__ void fetch_a(const Gemm& s, const T* a, int64_t m0, int64_t k0,
                                          bool vector_a) {
    GM_UNROLL
    for (int l = 0; l < kGroupsA; ++l) {
      if (s.trans_a)
        load_group(a, s.k, s.m, k0 + a_k[l], m0 + a_m[l], vector_a, a_next[l]);
      else
        load_group(a, s.m, s.k, m0 + a_m[l], k0 + a_k[l], vector_a, a_next[l]);
    }
  }
  // B's groups, through the ReLU when `relu` (GemmFusion::relu_b).
  __device__ __forceinline__ void fetch_b(const Gemm& s, const T* b, int64_t n0, int64_t k0,
                                          bool vector_b, bool relu) {
    fetch_b(s, b, n0, k0, vector_b);
    if (!relu) return;
    GM_UNROLL
    for (int l = 0; l < kGroupsB; ++l)
      GM_UNROLL
    for (int j = 0; j < 4; ++j)
      b_next[l][j] = math::unary_forward(UnaryOp::relu, b_next[l][j], T(0), T(0), T(0));
  }
  __device__ __forceinline__ void fetch_b(const Gemm& s, const T* b, int64_t n0, int64_t k0,
                                          bool vector_b) {
    GM_UNROLL
    for (int l = 0; l < kGroupsB; ++l) {
      if (s.trans_b)
        load_group(b, s.n, s.k, n0 + b_n[l], k0 + b_k[l], vector_b, b_next[l]);
      else
        load_group(b, s.k, s.n, k0 + b_k[l], n0 + b_n[l], vector_b, b_next[l]);
    }
  }
};

// The block's work for one BM x BN tile of C at (m0, n0): K in steps of BK through the two
// shared buffers per operand, `fetch(entry, k0)` filling the groups' registers of the step at k0
// (from global memory, or computed), each thread's TM x TN micro-tile accumulated in registers,
// then C = alpha acc + beta C and the epilogue of `f` (its C-shaped pointers offset like c).
// Every thread of the block must call it (barriers).
// kSumBatch: one C for all batch entries (Gemm::sum_batch); the block walks the entries in order,
// k by k within each, so every output is still one accumulator in a fixed order. Otherwise there
// is one entry (0): the caller has already offset the operands to its batch entry.
template <typename T, int BM, int BN, int BK, int TM, int TN, bool kSumBatch, typename Groups,
          typename Fetch>
__device__ __forceinline__ void gemm_tiled_block(const Gemm& s, T alpha, T beta, T* c, int64_t m0,
                                                 int64_t n0, const Groups& groups, Fetch&& fetch,
                                                 const GemmFusion& f) {
  constexpr int kGroupsA = Groups::kGroupsA, kGroupsB = Groups::kGroupsB;
  static_assert(TM == 4 && TN == 4, "the inner loop reads 4-element rows of each tile");
  constexpr int kPad = 4;  // keeps rows 16-byte aligned; see the header comment
  alignas(16) __shared__ T a_tile[2][BK][BM + kPad];  // a_tile[buf][k][m] = op(A)[m0 + m, k0 + k]
  alignas(16) __shared__ T b_tile[2][BK][BN + kPad];  // b_tile[buf][k][n] = op(B)[k0 + k, n0 + n]

  const int tid = static_cast<int>(threadIdx.x);
  const int row = tid / (BN / TN) * TM, col = tid % (BN / TN) * TN;  // this thread's micro-tile
  const auto &a_k = groups.a_k, &a_m = groups.a_m, &b_k = groups.b_k, &b_n = groups.b_n;
  const auto &a_next = groups.a_next, &b_next = groups.b_next;
  auto stash = [&](int buf) {  // registers -> shared
    GM_UNROLL
    for (int l = 0; l < kGroupsA; ++l)
      GM_UNROLL
    for (int j = 0; j < 4; ++j) {
      if (s.trans_a)
        a_tile[buf][a_k[l]][a_m[l] + j] = a_next[l][j];
      else
        a_tile[buf][a_k[l] + j][a_m[l]] = a_next[l][j];
    }
    GM_UNROLL
    for (int l = 0; l < kGroupsB; ++l)
      GM_UNROLL
    for (int j = 0; j < 4; ++j) {
      if (s.trans_b)
        b_tile[buf][b_k[l] + j][b_n[l]] = b_next[l][j];
      else
        b_tile[buf][b_k[l]][b_n[l] + j] = b_next[l][j];
    }
  };

  // A summed batch with beta != 0 continues the sum already in C (alpha is 1 then): the
  // accumulator starts from beta C, so a sum split over two calls has the bits of one call.
  T acc[TM][TN];
  GM_UNROLL
  for (int i = 0; i < TM; ++i)
    GM_UNROLL
  for (int j = 0; j < TN; ++j) {
    const int64_t gm = m0 + row + i, gn = n0 + col + j;
    acc[i][j] = kSumBatch && beta != T(0) && gm < s.m && gn < s.n ? beta * c[gm * s.n + gn] : T(0);
  }

  // Row sums of A: the first column tile's block has every K slice of its rows in shared memory;
  // thread r < BM adds up row r, slice by slice, in double.
  const int64_t sum_row = m0 + tid;
  const bool sums_rows =
      kSumBatch && (f.row_sums || f.row_sums_carry) && n0 == 0 && tid < BM && sum_row < s.m;
  double row_sum = sums_rows && f.row_sums_carry && beta != T(0) ? f.row_sums_carry[sum_row] : 0.0;

  const int64_t entries = kSumBatch ? s.batch : 1;
  for (int64_t entry = 0; entry < entries; ++entry) {
    // The last K step ended with a barrier after every read of its buffer: buffer 0 is free.
    fetch(entry, int64_t{0});
    stash(0);
    __syncthreads();
    int buf = 0;
    for (int64_t k0 = 0; k0 < s.k; k0 += BK) {
      const bool more = k0 + BK < s.k;
      if (more) fetch(entry, k0 + BK);  // in flight while this slice is multiplied
      GM_UNROLL
      for (int kk = 0; kk < BK; ++kk) {
        T av[TM], bv[TN];
        load4(&a_tile[buf][kk][row], av);
        load4(&b_tile[buf][kk][col], bv);
        GM_UNROLL
        for (int i = 0; i < TM; ++i)
          GM_UNROLL
        for (int j = 0; j < TN; ++j)
          acc[i][j] += av[i] * bv[j];
      }
      if (sums_rows) {
        GM_UNROLL
        for (int kk = 0; kk < BK; ++kk)
          row_sum += static_cast<double>(a_tile[buf][kk][tid]);
      }
      // The other buffer was last read before the previous barrier: safe to overwrite now. The
      // barrier below publishes it and keeps this buffer until everyone is done reading it.
      if (more) stash(buf ^ 1);
      __syncthreads();
      buf ^= 1;
    }
  }

  GM_UNROLL
  for (int i = 0; i < TM; ++i) {
    GM_UNROLL
    for (int j = 0; j < TN; ++j) {
      const int64_t gm = m0 + row + i, gn = n0 + col + j;
      if (gm >= s.m || gn >= s.n) continue;
      const int64_t at = gm * s.n + gn;
      // beta == 0 never reads C: it may hold garbage (even NaN) by contract. A bias is the C
      // that beta 1 would have read.
      T v = beta == T(0) || kSumBatch ? alpha * acc[i][j] : alpha * acc[i][j] + beta * c[at];
      if constexpr (!kSumBatch) {  // a weight gradient's epilogue is its row sums alone
        if (f.bias) v = alpha * acc[i][j] + static_cast<const T*>(f.bias)[gm];
        if (f.relu_grad_of) {
          const T x = static_cast<const T*>(f.relu_grad_of)[at];
          v = math::unary_backward(UnaryOp::relu, x, x, v, T(0), T(0));
        }
        if (f.residual) v = v + static_cast<const T*>(f.residual)[at];
      }
      c[at] = v;
    }
  }
  if (sums_rows) {
    if (f.row_sums_carry) f.row_sums_carry[sum_row] = row_sum;
    if (f.row_sums) static_cast<T*>(f.row_sums)[sum_row] = static_cast<T>(row_sum);
  }
}

// The fusion of one batch entry: its C-shaped pointers moved by `offset` elements, as C is.
__host__ __device__ inline GemmFusion offset_fusion(GemmFusion f, int64_t offset, size_t bytes) {
  const auto move = [&](const void* p) -> const void* {
    return p ? static_cast<const char*>(p) + offset * static_cast<int64_t>(bytes) : nullptr;
  };
  f.relu_grad_of = move(f.relu_grad_of);
  f.residual = move(f.residual);
  return f;
}

template <typename T, int BM, int BN, int BK, int TM, int TN, bool kSumBatch = false>
__global__ void __launch_bounds__((BM / TM) * (BN / TN))
    gemm_tiled_kernel(Gemm s, T alpha, const T* a, const T* b, T beta, T* c, int64_t first_tile_m,
                      bool vector_a, bool vector_b, GemmFusion f) {
  constexpr int kThreads = (BM / TM) * (BN / TN);
  using Groups = TileGroups<T, BM, BN, BK, kThreads>;
  if constexpr (!kSumBatch) {  // a summed batch is one grid layer: the block walks the entries
    const int64_t batch = blockIdx.z;
    a += batch * s.stride_a;
    b += batch * s.stride_b;
    c += batch * s.stride_c;
    f = offset_fusion(f, batch * s.stride_c, sizeof(T));
  }
  const int64_t m0 = (first_tile_m + blockIdx.y) * BM;
  const int64_t n0 = static_cast<int64_t>(blockIdx.x) * BN;
  Groups groups(s, static_cast<int>(threadIdx.x));
  gemm_tiled_block<T, BM, BN, BK, TM, TN, kSumBatch>(
      s, alpha, beta, c, m0, n0, groups,
      [&](int64_t entry, int64_t k0) {
        // A summed batch is a weight gradient: its A is dy, never gapped weights.
        if constexpr (kSumBatch)
          groups.fetch_a(s, a + entry * s.stride_a, m0, k0, vector_a);
        else
          groups.fetch_a(s, a + entry * s.stride_a, m0, k0, vector_a, f);
        groups.fetch_b(s, b + entry * s.stride_b, n0, k0, vector_b, f.relu_b);
      },
      f);
}

// Whether every group of an operand stored with leading dimension `cols` and batch stride
// `stride` starts 16-byte aligned (4 elements of T, whose alignment is 4 or 8 bytes).
template <typename T>
bool vector_loads(const T* p, int64_t cols, int64_t stride) {
  return cols % 4 == 0 && stride % 4 == 0 && reinterpret_cast<uintptr_t>(p) % (4 * sizeof(T)) == 0;
}

// Calls launch(grid, first_batch, first_tile_m) once for every launch that a BM x BN tiling of
// `s` needs: gridDim.y and gridDim.z are at most 65535, so more row tiles or a larger batch go in
// several launches. Shared by the tiled and the tensor-core GEMM.
template <int BM, int BN, typename Launch>
void for_each_gemm_grid(const Gemm& s, Launch&& launch) {
  const int64_t tiles_m = (s.m + BM - 1) / BM;
  const unsigned tiles_n = static_cast<unsigned>((s.n + BN - 1) / BN);
  for (int64_t first = 0; first < s.batch; first += 65535) {
    const int64_t count = s.batch - first < 65535 ? s.batch - first : 65535;
    for (int64_t tile_m = 0; tile_m < tiles_m; tile_m += 65535) {
      const int64_t rows = tiles_m - tile_m < 65535 ? tiles_m - tile_m : 65535;
      launch(dim3(tiles_n, static_cast<unsigned>(rows), static_cast<unsigned>(count)), first,
             tile_m);
    }
  }
}

template <typename T, int BM, int BN, int BK, int TM, int TN, bool kSumBatch = false>
void launch_gemm_tiled(const Exec& e, const Gemm& s, T alpha, const T* a, const T* b, T beta, T* c,
                       const GemmFusion& f) {
  const unsigned threads = (BM / TM) * (BN / TN);
  const bool vector_a = f.a_taps == 0 && vector_loads(a, s.trans_a ? s.m : s.k, s.stride_a);
  const bool vector_b = vector_loads(b, s.trans_b ? s.k : s.n, s.stride_b);
  Gemm tiles = s;  // a summed batch is one grid layer: its blocks loop over the entries
  if (kSumBatch) tiles.batch = 1;
  for_each_gemm_grid<BM, BN>(tiles, [&](dim3 grid, int64_t first, int64_t tile_m) {
    GM_LAUNCH((gemm_tiled_kernel<T, BM, BN, BK, TM, TN, kSumBatch>), grid, threads, 0, e.stream)
    (s, alpha, a + first * s.stride_a, b + first * s.stride_b, beta, c + first * s.stride_c, tile_m,
     vector_a, vector_b, offset_fusion(f, first * s.stride_c, sizeof(T)));
  });
}

// The library's GEMM with an optional fusion (kernels/cuda/launch.h; the backend checks
// that its parts fit the GEMM: row sums only with sum_batch, a bias only with beta 0).
template <typename T>
void gemm_tiled(const Exec& e, GemmTile tile, const Gemm& s, T alpha, const T* a, const T* b,
                T beta, T* c, const GemmFusion& f = GemmFusion{}) {
  if (s.m == 0 || s.n == 0 || s.batch == 0) return;
  if (tile == GemmTile::t64 && s.sum_batch)
    launch_gemm_tiled<T, 64, 64, 16, 4, 4, true>(e, s, alpha, a, b, beta, c, f);
  else if (tile == GemmTile::t64)
    launch_gemm_tiled<T, 64, 64, 16, 4, 4>(e, s, alpha, a, b, beta, c, f);
  else if (s.sum_batch)
    launch_gemm_tiled<T, 32, 32, 8, 4, 4, true>(e, s, alpha, a, b, beta, c, f);
  else
    launch_gemm_tiled<T, 32, 32, 8, 4, 4>(e, s, alpha, a, b, beta, c, f);
}

}  // namespace gm::GM_CUDA_NS
