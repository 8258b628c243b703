// The PixelRNN scan's CUDA kernels on cuda-emu (kernels/cuda/lstm_scan.cu), beyond the op
// catalogue's oracle and gradient checks (tests/test_pixelrnn.cpp): the one-kernel walk gives
// the per-step path's bits where both sum in the same order, the same bits on every run, and a
// line too long for shared memory takes the per-step path with the CPU's results.
#include <optional>
#include <tuple>
#include <vector>

#include "engine/backend.h"
#include "kernels/cuda/cuda_backend.h"
#include "tests/support.h"

using namespace gm;

namespace {

struct ScanInputs {
  LstmScan s;
  Tensor x, w, b, dh;
};

// Random inputs in [-1, 1] on `device`, in `dtype`, from a fixed seed.
ScanInputs make_inputs(const LstmScan& s, DType dtype, Device device) {
  Generator gen(17);
  ScanInputs in;
  in.s = s;
  in.x = Tensor::uniform({s.batch, s.gates(), s.steps, s.length}, -1, 1, gen, dtype, device);
  in.w = Tensor::uniform({s.gates(), s.hidden, s.kernel}, -1, 1, gen, dtype, device);
  in.b = Tensor::uniform({s.gates()}, -1, 1, gen, dtype, device);
  in.dh = Tensor::uniform({s.batch, s.hidden, s.steps, s.length}, -1, 1, gen, dtype, device);
  return in;
}

// Everything the two scan entries write, and the kernels each launched (0 on the CPU).
struct ScanResults {
  std::vector<double> h, c, gates, dx, dw, db;
  uint64_t forward_launches = 0, backward_launches = 0;
};

uint64_t launches_so_far(Device device) {
  const std::optional<CudaCounters> c = cuda_counters(device);
  return c ? c->kernel_launches : 0;
}

// The entries of `be` (or, with `per_step`, the per-step default every backend inherits)
// on the inputs, results read back as doubles.
ScanResults run_entries(Backend& be, const ScanInputs& in, bool per_step) {
  const LstmScan& s = in.s;
  const DType dt = in.x.dtype();
  const Device dev = in.x.device();
  Tensor h = Tensor::empty({s.batch, s.hidden, s.steps, s.length}, dt, dev);
  Tensor c = Tensor::empty(h.shape(), dt, dev);
  Tensor gates = Tensor::empty(in.x.shape(), dt, dev);
  Tensor dx = Tensor::empty(in.x.shape(), dt, dev);
  Tensor dw = Tensor::empty(in.w.shape(), dt, dev);
  Tensor db = Tensor::empty(in.b.shape(), dt, dev);
  const uint64_t start = launches_so_far(dev);
  if (per_step)
    be.Backend::lstm_scan_forward(s, in.x, in.w, in.b, h, c, gates);
  else
    be.lstm_scan_forward(s, in.x, in.w, in.b, h, c, gates);
  const uint64_t middle = launches_so_far(dev);
  if (per_step)
    be.Backend::lstm_scan_backward(s, in.w, h, c, gates, in.dh, dx, dw, db);
  else
    be.lstm_scan_backward(s, in.w, h, c, gates, in.dh, dx, dw, db);
  const uint64_t end = launches_so_far(dev);
  auto read = [](const Tensor& t) { return t.to(DType::f64).to_vector<double>(); };
  return {read(h),  read(c),  read(gates),    read(dx),
          read(dw), read(db), middle - start, end - middle};
}

// A Row LSTM scan (kernel 3) with three colour groups, a Diagonal one (kernel 2), odd sizes,
// and a Diagonal one of the reference configurations' 32 units.
std::vector<LstmScan> geometries() {
  return {
      {.batch = 3, .steps = 5, .length = 7, .hidden = 6, .kernel = 3, .pad_before = 1, .groups = 3},
      {.batch = 2, .steps = 9, .length = 5, .hidden = 4, .kernel = 2, .pad_before = 1},
      {.batch = 2, .steps = 9, .length = 6, .hidden = 32, .kernel = 2, .pad_before = 1}};
}

}  // namespace

TEST_CASE("cuda-emu: the one-kernel scan has the per-step path's bits, run after run",
          "[cuda][pixelrnn][scan]") {
  Backend& be = backend_for(Device::cuda_emu());
  for (const LstmScan& s : geometries())
    for (DType dt : {DType::f32, DType::f64}) {
      INFO("kernel " << s.kernel << ", " << dtype_name(dt));
      const ScanInputs in = make_inputs(s, dt, Device::cuda_emu());
      const ScanResults fused = run_entries(be, in, false);
      const ScanResults per_step = run_entries(be, in, true);
      // One launch forward; backward: the walk back, the columns, the weight GEMM, the bias sum.
      CHECK(fused.forward_launches == 1);
      CHECK(fused.backward_launches == 4);
      CHECK(per_step.forward_launches > static_cast<uint64_t>(s.steps));
      // The kernels sum each gate and each state gradient in the order of the per-step path's
      // GEMM and col2im, so the forward and dx agree bit for bit.
      CHECK(fused.h == per_step.h);
      CHECK(fused.c == per_step.c);
      CHECK(fused.gates == per_step.gates);
      CHECK(fused.dx == per_step.dx);
      // The weight and bias gradients sum the same products over steps and images in another
      // order (one GEMM over all steps against one per step), n = T*N*L = 90 to 108 terms.
      // Reordering a sum of n terms moves it by at most 2 n u sum|terms|; with |h| < 1 that is
      // 2 n^2 u max|dgates|, about 1.4e-3 max|dgates| in float32: a proven but loose bound. The
      // tolerance is tighter: these seeded inputs' products are of order one and of mixed sign,
      // so the observed differences are a few u times the sums (under 1e-6 in float32); 1e-5
      // and 1e-12 leave a factor of about ten, fixed by the seeds, not by a theorem.
      const double tol = dt == DType::f32 ? 1e-5 : 1e-12;
      test::require_close(fused.dw, per_step.dw, tol, tol, "dweight");
      test::require_close(fused.db, per_step.db, tol, tol, "dbias");
      // No atomics and a fixed order everywhere: a second run gives the same bits.
      const ScanResults again = run_entries(be, in, false);
      CHECK(again.dw == fused.dw);
      CHECK(again.db == fused.db);
      CHECK(again.dx == fused.dx);
    }
}

TEST_CASE("cuda-emu: a line too long for shared memory takes the per-step path",
          "[cuda][pixelrnn][scan]") {
  Backend& cuda = backend_for(Device::cuda_emu());
  Backend& cpu = backend_for(Device::cpu());
  // Float64, 97 positions: the backward's gate gradients [4h, L] need 4 * 16 * 97 * 8 = 49664
  // bytes of shared memory, the forward's state 12416; with 64 units the forward's state needs
  // 64 * 97 * 8 = 49664 too. Both are more than the 49152 bytes a block may have.
  struct Case {
    int64_t hidden;
    bool forward_fits;
  };
  for (const Case k : {Case{16, true}, Case{64, false}}) {
    INFO("hidden " << k.hidden);
    const LstmScan s{
        .batch = 1, .steps = 2, .length = 97, .hidden = k.hidden, .kernel = 3, .pad_before = 1};
    const ScanResults got =
        run_entries(cuda, make_inputs(s, DType::f64, Device::cuda_emu()), false);
    const ScanResults want = run_entries(cpu, make_inputs(s, DType::f64, Device::cpu()), false);
    // Both run float64 GEMMs that may block their sums differently.
    for (auto [a, b, name] : {std::tuple{&got.h, &want.h, "h"},
                              {&got.c, &want.c, "c"},
                              {&got.dx, &want.dx, "dx"},
                              {&got.dw, &want.dw, "dweight"},
                              {&got.db, &want.db, "dbias"}})
      test::require_close(*a, *b, 1e-12, 1e-12, name);
    // The one-kernel forward is one launch; the per-step path launches several per step.
    if (k.forward_fits)
      CHECK(got.forward_launches == 1);
    else
      CHECK(got.forward_launches > static_cast<uint64_t>(s.steps));
    CHECK(got.backward_launches > static_cast<uint64_t>(s.steps));
  }
}
