"""
Numerical study (CPU, numpy): could attention's f32 matmuls run on int8 tensor cores (Dawn's subgroup matrices) and
still meet the criterion? QKᵀ and P·V from signed 7-bit slices with power-of-two scales (per Q row and K row; per P
row and V column), slice products exact in integers (as int8 x int8 -> int32 MMAs are), combined in f32 in order of
decreasing weight. Softmax in f32. Error against a float64 oracle, divided by the error of the naive f32 baseline the
criterion uses (sequential f32 sums over d and over keys). P is sliced after the softmax's final max (P <= 1, one
scale per row) and V per column over the whole sequence: that is the two-pass scheme of docs/tensor-core-path.md
(a stats pass first), whose int32 accumulators could run over every key tile.
Usage: python3 ozaki-study.py [trials] [seqlens, default 128,512] [head dims, default 64,128]
"""
import sys
import numpy as np

rng = np.random.default_rng(20261122)
f32, f64 = np.float32, np.float64


def split(x, axis, slices):
    """x (f32) -> integer slices (int64 holding int8 values) and a power-of-two scale per line along `axis`."""
    m = np.max(np.abs(x.astype(f64)), axis=axis, keepdims=True)
    m = np.where(m == 0, 1.0, m)
    e = np.ceil(np.log2(m * 128.0 / 127.0))  # |x| / 2^e <= 127/128
    r = x.astype(f64) / np.exp2(e) * 128.0
    out = []
    for _ in range(slices):
        a = np.clip(np.rint(r), -127, 127)
        out.append(a.astype(np.int64))
        r = (r - a) * 128.0
    return out, e


def ozaki_matmul(A, B, slices, terms):
    """A (m x k) @ B (k x n) as int8-slice products: A's scale per row, B's per column."""
    As, ea = split(A, 1, slices)
    Bs, eb = split(B, 0, slices)
    acc = np.zeros((A.shape[0], B.shape[1]), dtype=f32)
    for w in range(terms):  # products i + j = w, largest weight first
        for i in range(w + 1):
            j = w - i
            if i >= slices or j >= slices:
                continue
            # Exact integers, as the int32 MMAs give them: |slice| <= 127, so |sum| <= 127^2 * k < 2^53 for any k here,
            # and a float64 product (BLAS) is exact (numpy's int64 matmul is not accelerated).
            prod = As[i].astype(f64) @ Bs[j].astype(f64)
            acc = (acc + (prod.astype(f64) * np.exp2(ea + eb - 14.0 - 7.0 * w)).astype(f32)).astype(f32)
    return acc


def seq_f32_matmul(A, B):
    """Sequential f32 accumulation over k (the naive f32 baseline's order), products exact then rounded with the sum."""
    acc = np.zeros((A.shape[0], B.shape[1]), dtype=f32)
    for t in range(A.shape[1]):
        acc = (acc.astype(f64) + np.outer(A[:, t].astype(f64), B[t, :].astype(f64))).astype(f32)
    return acc


def attention(q, k, v, mm_qk, mm_pv):
    scale = 1.0 / np.sqrt(q.shape[1])
    s = (mm_qk(q, k.T) * f32(scale)).astype(f32)
    m = s.max(axis=1, keepdims=True)
    p = np.exp((s - m).astype(f32)).astype(f32)
    l = p.sum(axis=1, keepdims=True, dtype=f32)
    return (mm_pv(p, v) / l).astype(f32)


def oracle(q, k, v):
    q, k, v = q.astype(f64), k.astype(f64), v.astype(f64)
    s = q @ k.T / np.sqrt(q.shape[1])
    p = np.exp(s - s.max(axis=1, keepdims=True))
    return (p @ v) / p.sum(axis=1, keepdims=True)


trials = int(sys.argv[1]) if len(sys.argv) > 1 else 4
seqlens = [int(x) for x in sys.argv[2].split(',')] if len(sys.argv) > 2 else [128, 512]
dims = [int(x) for x in sys.argv[3].split(',')] if len(sys.argv) > 3 else [64, 128]
for d in dims:
    for n in seqlens:
        for slices, terms in ((3, 3), (4, 4), (4, 5)):
            worst = 0.0
            for _ in range(trials):
                q, k, v = (rng.standard_normal((n, d)).astype(f32) for _ in range(3))
                o = oracle(q, k, v)
                base = np.max(np.abs(attention(q, k, v, seq_f32_matmul, seq_f32_matmul) - o))
                oz = np.max(np.abs(attention(q, k, v, lambda a, b: ozaki_matmul(a, b, slices, terms), lambda a, b: ozaki_matmul(a, b, slices, terms)) - o))
                worst = max(worst, oz / base)
            print(f"d={d} n={n} slices={slices} weights<{terms} (products {sum(1 for w in range(terms) for i in range(w + 1) if i < slices and w - i < slices)}): worst err/baseline {worst:.3f} (criterion: <= 2)")
