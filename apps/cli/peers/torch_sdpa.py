#!/usr/bin/env python3
"""PyTorch SDPA peer for `flashattn bench --peer torch`.

Reads one JSON request on stdin:
  {"dtype": "f16"|"bf16"|"f32", "causal": bool, "repeats": int, "warmup": int, "modes": ["fwd", "fwd+bwd"],
   "shapes": [{"batch": int, "seqlen": int, "heads": int, "headDim": int}, ...]}
and prints one JSON answer on stdout:
  {"available": true, "device": str, "torch": str, "results": [{"backend", "batch", "seqlen", "heads", "headDim",
   "mode", "ms"?, "peakBytes"?, "unsupported"?}]}
or {"available": false, "reason": str}. Times are medians of CUDA-event timings; peak extra memory is
torch.cuda.max_memory_allocated() above what the inputs hold.
"""
import json
import time
import sys


def main():
    req = json.load(sys.stdin)
    try:
        import torch
        from torch.nn.attention import SDPBackend, sdpa_kernel
        import torch.nn.functional as F
    except Exception as e:  # torch absent or too old
        print(json.dumps({"available": False, "reason": f"python3 cannot import torch (with torch.nn.attention): {e}"}))
        return
    if not torch.cuda.is_available():
        print(json.dumps({"available": False, "reason": f"torch {torch.__version__} sees no CUDA GPU"}))
        return
    dt = {"f16": torch.float16, "bf16": torch.bfloat16, "f32": torch.float32}[req["dtype"]]
    peers = [("torch-flash", SDPBackend.FLASH_ATTENTION), ("torch-cudnn", SDPBackend.CUDNN_ATTENTION)]
    results = []
    dev = torch.device("cuda")
    for s in req["shapes"]:
        b, n, h, d = s["batch"], s["seqlen"], s["heads"], s["headDim"]
        torch.manual_seed(0)
        # SDPA takes [batch, heads, seqlen, headDim]; make it from flash-attn's [batch, seqlen, heads, headDim] layout.
        q = torch.randn(b, n, h, d, device=dev, dtype=dt).transpose(1, 2).requires_grad_(True)
        k = torch.randn(b, n, h, d, device=dev, dtype=dt).transpose(1, 2).requires_grad_(True)
        v = torch.randn(b, n, h, d, device=dev, dtype=dt).transpose(1, 2).requires_grad_(True)
        dout = torch.randn(b, h, n, d, device=dev, dtype=dt)
        for name, kind in peers:
            for mode in req["modes"]:
                row = {"backend": name, "batch": b, "seqlen": n, "heads": h, "headDim": d, "mode": mode}
                try:
                    with sdpa_kernel(kind):
                        def step():
                            if mode == "fwd":  # the inference forward (no LSE kept for a backward), as flashattn's fwd
                                with torch.no_grad():
                                    F.scaled_dot_product_attention(q, k, v, is_causal=req["causal"])
                                return
                            o = F.scaled_dot_product_attention(q, k, v, is_causal=req["causal"])
                            o.backward(dout)
                        # At least `warmup` calls, and until warmupMs have passed: an idle GPU runs at low clocks
                        # until it has been busy a while (the same rule as the JS side's warm-up).
                        t0 = time.perf_counter()
                        i = 0
                        while i < max(1, req["warmup"]) or (time.perf_counter() - t0) * 1e3 < req.get("warmupMs", 0):
                            step()
                            torch.cuda.synchronize()
                            i += 1
                        base = torch.cuda.memory_allocated()
                        torch.cuda.reset_peak_memory_stats()
                        times = []
                        for _ in range(req["repeats"]):
                            a = torch.cuda.Event(enable_timing=True)
                            z = torch.cuda.Event(enable_timing=True)
                            a.record()
                            step()
                            z.record()
                            torch.cuda.synchronize()
                            times.append(a.elapsed_time(z))
                        times.sort()
                        row["ms"] = times[len(times) // 2]
                        row["peakBytes"] = torch.cuda.max_memory_allocated() - base
                except Exception as e:  # this SDPA backend rejects the shape or dtype
                    row["unsupported"] = str(e).strip().splitlines()[0][:300] if str(e).strip() else type(e).__name__
                q.grad = k.grad = v.grad = None
                results.append(row)
        del q, k, v, dout
        torch.cuda.empty_cache()
    print(json.dumps({"available": True, "device": torch.cuda.get_device_name(0), "torch": torch.__version__, "results": results}))


if __name__ == "__main__":
    main()
