#!/usr/bin/env python3
"""Train the 64-128-10 digits MLP that examples/digits/digits.yaml runs, and write its fixtures.

Data: scikit-learn's bundled handwritten digits (`sklearn.datasets.load_digits`: 1797 samples of
8x8 pixels with values 0..16), scaled to [0, 1] by /16, split 80/20 stratified with a fixed seed.
Model: x[64] -> Linear(64, 128) -> ReLU -> Linear(128, 10) -> logits, trained with numpy only
(softmax cross-entropy, Adam, fixed seed).

Usage:  python3 -m venv /tmp/venv && /tmp/venv/bin/pip install scikit-learn numpy
        /tmp/venv/bin/python examples/digits/train.py

Files written next to this script (all little-endian, no headers):

  tensors/<queue>.bin   float32, one entry of the netlist queue <queue> in [1, 1, rows, cols]
                        order, as `ttrt pack --tensors` reads it:
      w1.bin                  [1, 1, 64, 128]  fc1 weight, in x out (x @ w1)
      b1.bin                  [1, 1, 32, 128]  fc1 bias in row 0; rows 1..31 zero
      w2.bin                  [1, 1, 128, 32]  fc2 weight; columns 10..31 zero (class padding)
      b2.bin                  [1, 1, 32, 32]   fc2 bias in row 0, columns 0..9; the rest zero
      lc.input_tensor.b1_s_brcst_m2_0_0.0.bin  [1, 1, 32, 32]  column 0 ones, the rest zero
      lc.input_tensor.b2_s_brcst_m2_0_0.0.bin  [1, 1, 32, 32]  the same
                        The two `_s_brcst` constants are PyBuda's row broadcast of a bias:
                        ones_column(32x32) @ bias_tile(32xN) copies bias row 0 to all 32 rows.
  test_inputs.bin       float32 [n_padded, 64]: the held-out samples, one row each (pixels / 16),
                        n_padded = n rounded up to a multiple of 32 (one queue entry of `x` holds
                        32 samples), padding rows zero
  test_labels.bin       uint8 [n]: the held-out labels 0..9 (n = 360)

The logits queue is [32, 32] per entry: row i is sample i of the entry, columns 0..9 the class
logits, columns 10..31 exactly zero (padding), so the prediction is the argmax of columns 0..9.

The script prints the float32 held-out accuracy and the accuracy of the network as ttrt's golden
model computes it: every host-fed Float16_b queue (x and the parameters) truncates float32 to
bfloat16 on push (upper 16 bits); ops compute in float32 and are not re-quantized in between
(Float16_b op outputs stay float32 in golden); the logits queue is Float32.
"""

import os
import sys

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

SEED = 0
HIDDEN = 128
CLASSES = 10
TILE = 32
EPOCHS = 60
BATCH = 32
LR = 1e-3
WEIGHT_DECAY = 1e-4

HERE = os.path.dirname(os.path.abspath(__file__))


def bf16(a):
    """float32 -> bfloat16 by truncation (keep the upper 16 bits), back as float32."""
    bits = np.ascontiguousarray(a, dtype=np.float32).view(np.uint32)
    return (bits & np.uint32(0xFFFF0000)).view(np.float32)


def forward(x, w1, b1, w2, b2):
    h = np.maximum(x @ w1 + b1, 0.0)
    return h, h @ w2 + b2


def train(x, y):
    rng = np.random.default_rng(SEED)
    n, d = x.shape
    params = [
        rng.normal(0.0, np.sqrt(2.0 / d), (d, HIDDEN)),
        np.zeros(HIDDEN),
        rng.normal(0.0, np.sqrt(1.0 / HIDDEN), (HIDDEN, CLASSES)),
        np.zeros(CLASSES),
    ]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    b1m, b2m, eps, step = 0.9, 0.999, 1e-8, 0
    onehot = np.eye(CLASSES)[y]
    for _ in range(EPOCHS):
        order = rng.permutation(n)
        for s in range(0, n, BATCH):
            idx = order[s : s + BATCH]
            xb, tb = x[idx], onehot[idx]
            w1, b1, w2, b2 = params
            h, z = forward(xb, w1, b1, w2, b2)
            z = z - z.max(axis=1, keepdims=True)
            p = np.exp(z)
            p /= p.sum(axis=1, keepdims=True)
            dz = (p - tb) / len(idx)
            dh = (dz @ w2.T) * (h > 0)
            grads = [xb.T @ dh, dh.sum(0), h.T @ dz, dz.sum(0)]
            grads[0] += WEIGHT_DECAY * w1
            grads[2] += WEIGHT_DECAY * w2
            step += 1
            for i, g in enumerate(grads):
                m[i] = b1m * m[i] + (1 - b1m) * g
                v[i] = b2m * v[i] + (1 - b2m) * g * g
                mh = m[i] / (1 - b1m**step)
                vh = v[i] / (1 - b2m**step)
                params[i] = params[i] - LR * mh / (np.sqrt(vh) + eps)
    return [p.astype(np.float32) for p in params]


def write(path, array):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<")).tobytes())


def bias_tile(b, cols):
    t = np.zeros((1, 1, TILE, cols), np.float32)
    t[0, 0, 0, : len(b)] = b
    return t


def main():
    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int64)
    x_tr, x_te, y_tr, y_te = train_test_split(
        x, y, test_size=0.2, stratify=y, random_state=SEED
    )
    w1, b1, w2, b2 = train(x_tr.astype(np.float64), y_tr)

    # Float32 reference.
    _, z = forward(x_te, w1, b1, w2, b2)
    acc32 = float((z.argmax(1) == y_te).mean())

    # What the chip's golden model computes: bf16 at the Float16_b queues, float32 ops.
    _, zq = forward(bf16(x_te), bf16(w1), bf16(b1), bf16(w2), bf16(b2))
    predq = zq.argmax(1)
    accq = float((predq == y_te).mean())
    top2 = np.sort(zq, axis=1)[:, -2:]
    margin = float((top2[:, 1] - top2[:, 0]).min())

    # Padded, tile-aligned tensors as the netlist's queues hold them.
    w2p = np.zeros((HIDDEN, TILE), np.float32)
    w2p[:, :CLASSES] = w2
    ones_col = np.zeros((1, 1, TILE, TILE), np.float32)
    ones_col[0, 0, :, 0] = 1.0
    tensors = {
        "w1": w1.reshape(1, 1, 64, HIDDEN),
        "b1": bias_tile(b1, HIDDEN),
        "w2": w2p.reshape(1, 1, HIDDEN, TILE),
        "b2": bias_tile(b2, TILE),
        "lc.input_tensor.b1_s_brcst_m2_0_0.0": ones_col,
        "lc.input_tensor.b2_s_brcst_m2_0_0.0": ones_col,
    }
    for name, t in tensors.items():
        write(os.path.join(HERE, "tensors", name + ".bin"), t.astype(np.float32))

    n = len(y_te)
    n_padded = -(-n // TILE) * TILE
    xp = np.zeros((n_padded, 64), np.float32)
    xp[:n] = x_te
    write(os.path.join(HERE, "test_inputs.bin"), xp)
    write(os.path.join(HERE, "test_labels.bin"), y_te.astype(np.uint8))

    print(f"train samples: {len(y_tr)}, held-out samples: {n} (padded to {n_padded})")
    print(f"float32 held-out accuracy: {int((z.argmax(1) == y_te).sum())}/{n} = {acc32:.4f}")
    print(f"bf16 (golden) held-out accuracy: {int((predq == y_te).sum())}/{n} = {accq:.4f}")
    print(f"bf16 smallest top-2 logit gap: {margin:.4g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
