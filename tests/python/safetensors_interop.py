#!/usr/bin/env python3
"""Checks that genmodel's safetensors files and Python's `safetensors` package agree.

Usage: safetensors_interop.py TEST_CHECKPOINT_BINARY WORK_DIR

1. Python writes from_python.safetensors (its own header order and padding).
2. The hidden Catch test "[.interop]" of test_checkpoint reads it, checks every value, and
   writes from_genmodel.safetensors.
3. Python reads that back and checks every value, dtype, shape and the metadata.
The expected values are defined here and, identically, in tests/test_checkpoint.cpp.
"""
import os
import subprocess
import sys

import numpy as np
from safetensors import safe_open
from safetensors.numpy import load_file, save_file


def python_tensors():
    return {
        "f32": (np.arange(6, dtype=np.float32).reshape(2, 3) * np.float32(0.5)),
        "f64": np.array([1e-300, -2.5, np.pi], dtype=np.float64),
        "u8": np.array([0, 255, 7], dtype=np.uint8),
        "i32": np.array([[-5, 2147483647]], dtype=np.int32),
    }


def genmodel_tensors():
    return {
        "weight": (np.arange(12, dtype=np.float32).reshape(3, 4) - np.float32(5.5)),
        "double": np.array([0.1, -1e200], dtype=np.float64),
        "pixels": np.array([[1, 2], [254, 255]], dtype=np.uint8),
        "labels": np.array([-2147483648, 9], dtype=np.int32),
    }


def main():
    binary, work = sys.argv[1], sys.argv[2]
    os.makedirs(work, exist_ok=True)
    ours = os.path.join(work, "from_genmodel.safetensors")
    if os.path.exists(ours):
        os.remove(ours)
    save_file(python_tensors(), os.path.join(work, "from_python.safetensors"),
              metadata={"writer": "python"})

    env = dict(os.environ, GM_INTEROP_DIR=work)
    result = subprocess.run([binary, "[.interop]"], env=env)
    if result.returncode != 0:
        sys.exit(f"the genmodel side failed (exit {result.returncode})")

    loaded = load_file(ours)
    want = genmodel_tensors()
    if sorted(loaded) != sorted(want):
        sys.exit(f"tensor names {sorted(loaded)} != {sorted(want)}")
    for name, expected in want.items():
        got = loaded[name]
        if got.dtype != expected.dtype or got.shape != expected.shape:
            sys.exit(f"{name}: {got.dtype}{got.shape} != {expected.dtype}{expected.shape}")
        if not np.array_equal(got, expected):
            sys.exit(f"{name}: values {got} != {expected}")
    with safe_open(ours, framework="numpy") as f:
        meta = f.metadata()
    if meta != {"writer": "genmodel", "step": "42"}:
        sys.exit(f"metadata {meta}")
    print("safetensors interop: Python read genmodel's file and genmodel read Python's")


if __name__ == "__main__":
    main()
