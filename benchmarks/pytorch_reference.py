#!/usr/bin/python3
"""PyTorch versions of genmodel's reference configurations, timed like ours.

Builds pixelcnn-ref, rowlstm-ref, diaglstm-ref and vae-ref exactly as
docs/reference-models.md describes them (parameter counts are checked against
genmodel's), times a training step (forward + backward + Adam, batch 32 of Fashion-MNIST)
and the naive PixelCNN sampling loop (one full network pass per pixel), and, given the CSV
files genmodel's benchmarks wrote in the same run, prints both side by side with the ratios
and can write them into docs/benchmarks.md.

Run it with an interpreter that has torch and numpy (scripts/bench.sh uses the current PyTorch
from PyPI in .venv-bench, and Debian's python3-torch under /usr/bin/python3 for a second
column); it runs on PyTorch 1.13 and 2.x:
    .venv-bench/bin/python benchmarks/pytorch_reference.py --threads 2 \\
        --ours-train build/bench/train.csv --ours-sampling build/bench/compare.csv
scripts/bench.sh does all of this.

Masked convolutions multiply the weight by a fixed 0/1 mask on every forward pass (the usual
PyTorch formulation), so PyTorch computes the masked taps; genmodel skips them.
"""
import argparse
import csv
import gzip
import os
import statistics
import subprocess
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sampling_table import write_markdown  # noqa: E402  (the shared bench-section writer)

REFERENCE_PARAMETERS = {"pixelcnn-ref": 91200, "rowlstm-ref": 102464,
                        "diaglstm-ref": 94784, "vae-ref": 967208}

# Useful FLOPs of one training step at batch 32: the multiply-adds of the GEMMs a step needs,
# x 2. pixelcnn-ref: 68,096 multiply-adds per pixel forward over the visible taps, the same for
# the weight gradients and 66,560 (all but the first layer) for the data gradients, x 784 pixels
# x 32 images. vae-ref: 964,800 linear weights x 32 images forward and for the weight
# gradients, and all but the first layer's 313,600 for the data gradients. The recurrent
# configurations are left out: their steps are dominated by work that is not a GEMM.
USEFUL_FLOP = {"pixelcnn-ref": 2 * (68096 + 68096 + 66560) * 784 * 32,
               "vae-ref": 2 * (964800 + 964800 + 964800 - 313600) * 32}


# ---------------------------------------------------------------- data

def load_fashion_mnist(directory):
    path = os.path.join(directory, "train-images-idx3-ubyte.gz")
    with gzip.open(path, "rb") as f:
        raw = f.read()
    count, rows, cols = (int.from_bytes(raw[i:i + 4], "big") for i in (4, 8, 12))
    images = np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(count, 1, rows, cols)
    return torch.from_numpy(images.copy())


def scale(images):  # uint8 -> x / 127.5 - 1, as genmodel's models do
    return images.float() / 127.5 - 1.0


# ---------------------------------------------------------------- models

class MaskedConv2d(nn.Conv2d):
    """Type A hides the centre tap, type B shows it; rows below and taps right of the centre
    on its row are hidden. Padding kh//2, kw//2."""

    def __init__(self, cin, cout, kernel, mask_type, bias=True):
        kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
        super().__init__(cin, cout, (kh, kw), padding=(kh // 2, kw // 2), bias=bias)
        mask = torch.ones(kh, kw)
        mask[kh // 2, kw // 2 + (1 if mask_type == "B" else 0):] = 0
        mask[kh // 2 + 1:, :] = 0
        self.register_buffer("mask", mask[None, None])

    def forward(self, x):
        return F.conv2d(x, self.weight * self.mask, self.bias, padding=self.padding)


class PixelCNN(nn.Module):
    def __init__(self, filters=64, hidden=32, blocks=5, head=64):
        super().__init__()
        self.input = MaskedConv2d(1, filters, 7, "A")
        self.blocks = nn.ModuleList(nn.ModuleList([
            nn.Conv2d(filters, hidden, 1), MaskedConv2d(hidden, hidden, 3, "B"),
            nn.Conv2d(hidden, filters, 1)]) for _ in range(blocks))
        self.head1 = nn.Conv2d(filters, head, 1)
        self.head2 = nn.Conv2d(head, 256, 1)

    def logits(self, x):  # [N, 256, H, W]
        h = self.input(x)
        for reduce, masked, expand in self.blocks:
            h = h + expand(F.relu(masked(F.relu(reduce(F.relu(h))))))
        return self.head2(F.relu(self.head1(F.relu(h))))

    def loss(self, images):
        return F.cross_entropy(self.logits(scale(images)), images[:, 0].long(),
                               reduction="sum") / images.shape[0]


def lstm_update(gates, c):
    i, f, o, g = gates.chunk(4, 1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


class RowLSTMLayer(nn.Module):
    def __init__(self, channels=64, hidden=32):
        super().__init__()
        self.hidden = hidden
        self.input_to_state = MaskedConv2d(channels, 4 * hidden, (1, 3), "B")
        self.state_to_state = nn.Conv1d(hidden, 4 * hidden, 3, padding=1)
        self.output = nn.Conv2d(hidden, channels, 1)

    def forward(self, x):
        n, _, rows, width = x.shape
        gates_in = self.input_to_state(x)
        h = x.new_zeros(n, self.hidden, width)
        c = torch.zeros_like(h)
        hs = []
        for r in range(rows):
            h, c = lstm_update(gates_in[:, :, r] + self.state_to_state(h), c)
            hs.append(h)
        return x + self.output(torch.stack(hs, 2))


def skew(x):  # [N, C, H, W] -> [N, C, H, H + W - 1], row r shifted right by r
    n, c, rows, width = x.shape
    out = x.new_zeros(n, c, rows, rows + width - 1)
    for r in range(rows):
        out[:, :, r, r:r + width] = x[:, :, r]
    return out


def unskew(x, width):
    return torch.stack([x[:, :, r, r:r + width] for r in range(x.shape[2])], 2)


class DiagonalLSTM(nn.Module):
    """One direction: columns of the skewed map left to right; row r sees rows r-1 and r of
    the previous column's state (a kernel-2 convolution along the height)."""

    def __init__(self, channels, hidden):
        super().__init__()
        self.hidden = hidden
        self.input_to_state = nn.Conv2d(channels, 4 * hidden, 1)
        self.state_to_state = nn.Conv1d(hidden, 4 * hidden, 2)

    def forward(self, x):
        n, _, rows, width = x.shape
        gates_in = self.input_to_state(skew(x))
        h = x.new_zeros(n, self.hidden, rows)
        c = torch.zeros_like(h)
        hs = []
        for j in range(gates_in.shape[3]):
            h, c = lstm_update(gates_in[:, :, :, j] + self.state_to_state(F.pad(h, (1, 0))), c)
            hs.append(h)
        return unskew(torch.stack(hs, 3), width)


class DiagonalBiLSTMLayer(nn.Module):
    def __init__(self, channels=64, hidden=32):
        super().__init__()
        self.forward_dir = DiagonalLSTM(channels, hidden)
        self.backward_dir = DiagonalLSTM(channels, hidden)
        self.output = nn.Conv2d(hidden, channels, 1)

    def forward(self, x):
        forward = self.forward_dir(x)
        backward = self.backward_dir(x.flip(3)).flip(3)
        backward = F.pad(backward, (0, 0, 1, 0))[:, :, :-1]  # down one row: no future leaks
        return x + self.output(forward + backward)


class PixelRNN(nn.Module):
    def __init__(self, layer, channels=64, hidden=32, layers=2, head=64):
        super().__init__()
        self.input = MaskedConv2d(1, channels, 7, "A")
        self.layers = nn.ModuleList(layer(channels, hidden) for _ in range(layers))
        self.head1 = nn.Conv2d(channels, head, 1)
        self.head2 = nn.Conv2d(head, 256, 1)

    def loss(self, images):
        h = self.input(scale(images))
        for layer in self.layers:
            h = layer(h)
        logits = self.head2(F.relu(self.head1(F.relu(h))))
        return F.cross_entropy(logits, images[:, 0].long(), reduction="sum") / images.shape[0]


class VAE(nn.Module):
    def __init__(self, dims=784, hidden=400, latent=20):
        super().__init__()
        self.hidden = nn.Linear(dims, hidden)
        self.mu = nn.Linear(hidden, latent)
        self.logvar = nn.Linear(hidden, latent)
        self.dec_hidden = nn.Linear(latent, hidden)
        self.dec_out = nn.Linear(hidden, 2 * dims)

    def loss(self, images):
        x = scale(images).flatten(1)
        h = F.relu(self.hidden(x))
        mu, logvar = self.mu(h), self.logvar(h)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        mean, log_scale = self.dec_out(F.relu(self.dec_hidden(z))).chunk(2, 1)
        log_scale = torch.clamp(log_scale, min=-7.0)
        # Discretized logistic over 256 bins of half-width 1/255 on [-1, 1]; the end bins
        # take the tails.
        inv_s = torch.exp(-log_scale)
        plus, minus = inv_s * (x - mean + 1 / 255), inv_s * (x - mean - 1 / 255)
        log_cdf_plus = plus - F.softplus(plus)
        log_one_minus_cdf_minus = -F.softplus(minus)
        mid = torch.log(torch.clamp(torch.sigmoid(plus) - torch.sigmoid(minus), min=1e-12))
        log_p = torch.where(x < -0.999, log_cdf_plus,
                            torch.where(x > 0.999, log_one_minus_cdf_minus, mid))
        kl = -0.5 * torch.sum(1 + logvar - mu * mu - torch.exp(logvar), 1)
        return torch.mean(-log_p.sum(1) + kl)


def build(name):
    return {"pixelcnn-ref": PixelCNN, "rowlstm-ref": lambda: PixelRNN(RowLSTMLayer),
            "diaglstm-ref": lambda: PixelRNN(DiagonalBiLSTMLayer), "vae-ref": VAE}[name]()


# ---------------------------------------------------------------- timing

def time_train_step(name, data, batch, warmup, steps, min_seconds, seed, device="cpu"):
    torch.manual_seed(seed)
    model = build(name).to(device)
    count = sum(p.numel() for p in model.parameters())
    if count != REFERENCE_PARAMETERS[name]:
        sys.exit(f"{name}: {count} parameters, the reference has {REFERENCE_PARAMETERS[name]}")
    adam = torch.optim.Adam(model.parameters(), lr=1e-3)
    generator = torch.Generator().manual_seed(seed)
    times, cpu_times, losses = [], [], []
    step = 0
    while True:
        images = data[torch.randint(0, data.shape[0], (batch,), generator=generator)]
        images = images.to(device)
        start, cpu_start = time.perf_counter(), time.process_time()
        adam.zero_grad()
        loss = model.loss(images)
        loss.backward()
        adam.step()
        if device != "cpu":  # GPU work is queued: the step ends when the device is done
            torch.cuda.synchronize()
        took, cpu_took = time.perf_counter() - start, time.process_time() - cpu_start
        losses.append(loss.item())
        step += 1
        if step <= warmup:
            continue
        times.append(took)
        cpu_times.append(cpu_took)
        if len(times) >= steps and sum(times) >= min_seconds:
            break
    return {"model": name, "parameters": count, "steps": len(times),
            "median_seconds": statistics.median(times), "mean_seconds": statistics.mean(times),
            "cpu_seconds": statistics.median(cpu_times),
            "loss_first": losses[0], "loss_last": losses[-1]}


@torch.no_grad()
def time_naive_sampling(count, size, seed):
    """PixelCNN's naive loop: one full network pass per pixel, pixels drawn from the softmax."""
    torch.manual_seed(seed)
    model = build("pixelcnn-ref").eval()
    x = torch.full((count, 1, size, size), -1.0)  # undrawn pixels are 0 -> -1, as in genmodel
    start = time.perf_counter()
    for r in range(size):
        for c in range(size):
            probs = torch.softmax(model.logits(x)[:, :, r, c], 1)
            x[:, 0, r, c] = torch.multinomial(probs, 1)[:, 0].float() / 127.5 - 1.0
    return time.perf_counter() - start


# ---------------------------------------------------------------- report

def read_csv(path):
    if not path or not os.path.exists(path):
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def machine_description():
    try:
        lines = subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines()
    except OSError:
        return platform_fallback()
    keep = ("Model name", "CPU(s)", "Thread(s) per core", "Core(s) per socket", "L2 cache",
            "L3 cache", "Hypervisor vendor")
    picked = [l.strip() for l in lines if l.split(":")[0].strip() in keep]
    flags = next((l for l in lines if l.startswith("Flags")), "")
    simd = [f for f in ("avx2", "fma", "avx512f", "avx512_bf16", "amx_tile") if f" {f}" in flags]
    return picked + [f"SIMD: {' '.join(simd)}"]


def platform_fallback():
    return [f"CPU(s): {os.cpu_count()}"]


def peak_gflops(threads):
    """The machine's peak FP32 rate on `threads` cores: SIMD lanes (16 with AVX-512, else 8
    with AVX2) x 2 FMA units per core x 2 FLOP per FMA x the clock /proc/cpuinfo reports (the
    nominal one: a virtual machine does not show boost). Returns (GFLOP/s, how it was got)."""
    try:
        info = open("/proc/cpuinfo").read()
    except OSError:
        return None, "no /proc/cpuinfo"
    mhz = next((float(l.split(":")[1]) for l in info.splitlines() if l.startswith("cpu MHz")),
               None)
    if mhz is None:
        return None, "no clock in /proc/cpuinfo"
    lanes = 16 if " avx512f" in info else 8
    peak = lanes * 2 * 2 * mhz / 1e3 * threads
    return peak, (f"{lanes} lanes x 2 FMA units x 2 FLOP x {mhz / 1e3:.3f} GHz x {threads} "
                  f"cores = {peak:.1f} GFLOP/s")


def ratio_tables(ours_train, ours_sampling, torch_train, torch_sampling, sample_count, size,
                 version, second=None, peak=None):
    """second: (version, rows) of another PyTorch measured in the same run, as extra columns;
    peak: the machine's peak GFLOP/s, for the useful FLOP rate of the steps that have one."""
    head = (f"| configuration | genmodel ms/step | PyTorch {version} ms/step | PyTorch / genmodel "
            f"| target >= 2 | genmodel cpu ms | PyTorch cpu ms | cpu ratio |")
    rule = "|---|---:|---:|---:|---|---:|---:|---:|"
    other = {r["model"]: r for r in second[1]} if second else {}
    if second:
        head += f" PyTorch {second[0]} ms/step | PyTorch {second[0]} / genmodel |"
        rule += "---:|---:|"
    if peak:
        head += " genmodel useful GFLOP/s | % of peak |"
        rule += "---:|---:|"
    rows = ["Training step, batch 32 (median; cpu: process cpu time of all threads, which other "
            "work on the machine disturbs less than wall time):", "", head, rule]
    ours = {r["model"]: r for r in ours_train if r["device"] == "cpu"}
    for t in torch_train:
        o = ours.get(t["model"])
        if not o:
            rows.append(f"| {t['model']} | (not run) | {1e3 * t['median_seconds']:.1f} | - | - "
                        f"| - | {1e3 * t['cpu_seconds']:.1f} | - |" + " - | - |" * (
                            (1 if second else 0) + (1 if peak else 0)))
            continue
        ours_s = float(o["median_seconds"])
        ratio = t["median_seconds"] / ours_s
        ours_cpu = float(o.get("cpu_seconds") or "nan")
        row = (f"| {t['model']} | {1e3 * ours_s:.1f} | "
               f"{1e3 * t['median_seconds']:.1f} | {ratio:.2f} | "
               f"{'met' if ratio >= 2 else 'MISSED'} | {1e3 * ours_cpu:.1f} | "
               f"{1e3 * t['cpu_seconds']:.1f} | {t['cpu_seconds'] / ours_cpu:.2f} |")
        if second:
            s = other.get(t["model"])
            row += (f" {1e3 * float(s['median_seconds']):.1f} | "
                    f"{float(s['median_seconds']) / ours_s:.2f} |" if s else " - | - |")
        if peak:
            flop = USEFUL_FLOP.get(t["model"])
            row += (f" {flop / ours_s / 1e9:.1f} | {100 * flop / ours_s / 1e9 / peak:.0f} % |"
                    if flop else " - | - |")
        rows.append(row)
    rows += ["", f"Sampling {sample_count} images of {size}x{size} with pixelcnn-ref "
             "(untrained weights):", "",
             "| sampler | genmodel s | PyTorch naive loop s | PyTorch / genmodel | target |",
             "|---|---:|---:|---:|---|"]
    by_method = {r["method"]: r for r in ours_sampling
                 if r["device"] == "cpu" and int(r["n"]) == size and int(r["batch"]) == sample_count}
    for method, target in (("pixelcnn-naive", 1.0), ("pixelcnn-fast", 100.0)):
        o = by_method.get(method)
        if not o or torch_sampling is None:
            rows.append(f"| {method} | (not run) | - | - | >= {target:g} |")
            continue
        ours_s = float(o["seconds_total"])
        ratio = torch_sampling / ours_s
        status = f" ({o['status']})" if o["status"] != "measured" else ""
        rows.append(f"| {method}{status} | {ours_s:.3g} | {torch_sampling:.3g} | {ratio:.1f} | "
                    f">= {target:g}: {'met' if ratio >= target else 'MISSED'} |")
    return rows


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS", 0)) or
                   os.cpu_count())
    p.add_argument("--models", default=",".join(REFERENCE_PARAMETERS))
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--min-seconds", type=float, default=3.0)
    p.add_argument("--sample-count", type=int, default=16)
    p.add_argument("--sample-size", type=int, default=28)
    p.add_argument("--skip-sampling", action="store_true")
    p.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--device", default="cpu", help="cpu or cuda (scripts/gpu-run.sh)")
    p.add_argument("--ours-train", help="bench_train_step's CSV from this run")
    p.add_argument("--ours-sampling", help="bench_sampling's CSV with the comparison rows")
    p.add_argument("--csv", help="write PyTorch's training-step times here")
    p.add_argument("--markdown", help="write the comparison into this file's bench section")
    p.add_argument("--note", action="append", default=[], help="a line for the markdown")
    p.add_argument("--second", help="another PyTorch version's --csv from this run, shown as "
                   "extra columns (written as VERSION=FILE)")
    a = p.parse_args()

    torch.set_num_threads(a.threads)
    print(f"PyTorch {torch.__version__}, {torch.get_num_threads()} threads")
    data = load_fashion_mnist(a.data)
    torch_train = []
    for name in a.models.split(","):
        r = time_train_step(name, data, a.batch, a.warmup, a.steps, a.min_seconds, a.seed,
                            a.device)
        torch_train.append(r)
        print(f"  {name}: {1e3 * r['median_seconds']:.1f} ms/step (median of {r['steps']}), "
              f"cpu {1e3 * r['cpu_seconds']:.1f} ms, "
              f"loss {r['loss_first']:.0f} -> {r['loss_last']:.0f}", flush=True)
    if a.csv:
        with open(a.csv, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(torch_train[0]))
            w.writeheader()
            w.writerows(torch_train)
    torch_sampling = None
    if not a.skip_sampling:
        torch_sampling = time_naive_sampling(a.sample_count, a.sample_size, a.seed)
        print(f"  naive PixelCNN sampling, {a.sample_count} images of {a.sample_size}x"
              f"{a.sample_size}: {torch_sampling:.2f} s", flush=True)

    second = None
    if a.second:
        version, path = a.second.split("=", 1)
        second = (version, read_csv(path))
    peak, peak_how = peak_gflops(a.threads)
    tables = ratio_tables(read_csv(a.ours_train), read_csv(a.ours_sampling), torch_train,
                          torch_sampling, a.sample_count, a.sample_size,
                          torch.__version__.split("+")[0], second, peak)
    tables += ["", f"Peak FP32: {peak_how}."]
    print("\n" + "\n".join(tables))
    if a.markdown:
        load = open("/proc/loadavg").read().split()[:3] if os.path.exists("/proc/loadavg") else []
        lines = ["Machine:", ""] + [f"    {l}" for l in machine_description()] + [
            "", f"Threads: genmodel OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '?')}, "
            f"PyTorch {torch.__version__} set_num_threads({a.threads}); load average at the end "
            f"{' '.join(load)}.", ""] + [f"{n}" for n in a.note] + [""] + tables
        write_markdown(a.markdown, lines)


if __name__ == "__main__":
    main()
