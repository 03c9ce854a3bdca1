# The yardstick on the same machine: PyTorch f32 SDPA (memory-efficient backend), flash-attn's benchmark
# shapes (batch = 16384 / seqlen, heads = 2048 / headdim), forward and forward+backward, FLOPs as core's
# forwardFlops (4 b h s^2 d, halved when causal; fwd+bwd 3.5x); fwd under no_grad, fwdLse with grad (LSE kept). Median of CUDA-event times. One JSON line per point.
import contextlib, json, sys
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
import torch.nn.functional as F

seqs = [int(x) for x in (sys.argv[1] if len(sys.argv) > 1 else "1024,4096,16384").split(",")]
for d in (64, 128):
    for causal in (False, True):
        for s in seqs:
            b, h = max(1, 16384 // s), 2048 // d
            q, k, v = (torch.randn(b, h, s, d, device="cuda", dtype=torch.float32, requires_grad=True) for _ in range(3))
            g = torch.randn(b, h, s, d, device="cuda", dtype=torch.float32)
            flops = 4 * b * h * s * s * d / (2 if causal else 1)
            row = {"peer": "torch sdpa efficient f32", "torch": torch.__version__, "d": d, "s": s, "causal": causal}
            try:
                with sdpa_kernel(SDPBackend.EFFICIENT_ATTENTION):
                    for mode in ("fwd", "fwdLse", "fwd+bwd"):
                        ts = []
                        for it in range(5):
                            e0, e1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                            e0.record()
                            if mode == "fwd+bwd":
                                F.scaled_dot_product_attention(q, k, v, is_causal=causal).backward(g)
                            else:  # fwd: the inference forward (no_grad: no LSE kept); fwdLse: the training forward
                                with torch.no_grad() if mode == "fwd" else contextlib.nullcontext():
                                    F.scaled_dot_product_attention(q, k, v, is_causal=causal)
                            e1.record()
                            torch.cuda.synchronize()
                            if it > 0:
                                ts.append(e0.elapsed_time(e1))
                        ms = sorted(ts)[len(ts) // 2]
                        row[mode + "Ms"] = ms
                        row[mode + "Tflops"] = (3.5 * flops if mode == "fwd+bwd" else flops) / (ms * 1e9)
            except Exception as e:  # noqa: BLE001
                row["error"] = str(e)
            print(json.dumps(row), flush=True)
