"""The peer for the small-problem latency: PyTorch SDPA on the same GPU, same problem (batch 1, 16 heads, 128x128,
head dim 64, fp16). Prints JSON: median microseconds per call, (a) with torch.cuda.synchronize() after each call
(what our awaited JS call does) and (b) launch only (what torch users usually see), per SDPA backend."""
import json, statistics, time
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
import torch.nn.functional as F

q, k, v = (torch.randn(1, 16, 128, 64, device="cuda", dtype=torch.float16) for _ in range(3))
res = {"device": torch.cuda.get_device_name(), "torch": torch.__version__, "cuda": torch.version.cuda}
for name, be in [("flash", SDPBackend.FLASH_ATTENTION), ("cudnn", SDPBackend.CUDNN_ATTENTION), ("default", None)]:
    try:
        ctx = sdpa_kernel(be) if be is not None else sdpa_kernel([SDPBackend.FLASH_ATTENTION, SDPBackend.CUDNN_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.MATH])
        with ctx:
            for _ in range(200):
                F.scaled_dot_product_attention(q, k, v)
            torch.cuda.synchronize()
            synced, launch = [], []
            for _ in range(1000):
                t = time.perf_counter()
                F.scaled_dot_product_attention(q, k, v)
                torch.cuda.synchronize()
                synced.append((time.perf_counter() - t) * 1e6)
            for _ in range(1000):
                t = time.perf_counter()
                F.scaled_dot_product_attention(q, k, v)
                launch.append((time.perf_counter() - t) * 1e6)
            torch.cuda.synchronize()
        res[name] = {"median_us_synchronized": statistics.median(synced), "median_us_launch_only": statistics.median(launch)}
    except Exception as e:  # a backend may refuse the problem
        res[name] = {"error": str(e)[:200]}
print(json.dumps(res, indent=1))
