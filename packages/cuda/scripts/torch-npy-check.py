"""The JS path against PyTorch SDPA on identical inputs (GPU machine): torch draws q, k, v, dout, writes them as .npy,
`flashattn run --backend cuda` computes out and the gradients from those files, and both are judged against torch's
float32 `math` SDPA with flash-attn's criterion (error <= 2x torch's own flash/cudnn error + atol; 3x for gradients).
usage: python3 torch-npy-check.py CLI_MAIN_JS OUTDIR   (prints one JSON line per case and a summary; exit 1 on a fail)
"""
import json, os, subprocess, sys
import numpy as np
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
import torch.nn.functional as F

cli, outdir = sys.argv[1], sys.argv[2]
os.makedirs(outdir, exist_ok=True)
dev = torch.device("cuda")
# (dtype, batch, seqlen, heads q, heads kv, head dim, causal)
CASES = [("fp16", 2, 512, 8, 8, 64, False), ("fp16", 2, 512, 8, 2, 128, True), ("bf16", 2, 384, 4, 4, 256, True),
         ("bf16", 1, 1024, 8, 1, 128, False), ("fp16", 3, 256, 4, 4, 256, False), ("bf16", 2, 512, 8, 8, 64, True)]
DT = {"fp16": torch.float16, "bf16": torch.bfloat16}


def sdpa(q, k, v, causal, backend):
    # ours: [b, s, h, d]; torch: [b, h, s, d]. GQA: query head h reads KV head h // group (repeat_interleave; autograd
    # sums the gradients of a group back onto its KV head).
    g = q.shape[2] // k.shape[2]
    k, v = k.repeat_interleave(g, dim=2), v.repeat_interleave(g, dim=2)
    with sdpa_kernel(backend):
        o = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), is_causal=causal)
    return o.transpose(1, 2)


def grads(q, k, v, do, causal, backend):
    q, k, v = (x.detach().clone().requires_grad_(True) for x in (q, k, v))
    o = sdpa(q, k, v, causal, backend)
    o.backward(do)
    return o.detach(), q.grad, k.grad, v.grad


failed = 0
for i, (dn, b, s, hq, hkv, d, causal) in enumerate(CASES):
    torch.manual_seed(1000 + i)
    dt = DT[dn]
    q = torch.randn(b, s, hq, d, device=dev, dtype=dt)
    k = torch.randn(b, s, hkv, d, device=dev, dtype=dt)
    v = torch.randn(b, s, hkv, d, device=dev, dtype=dt)
    do = torch.randn(b, s, hq, d, device=dev, dtype=dt)
    files = {}
    for name, x in (("q", q), ("k", k), ("v", v), ("dout", do)):
        files[name] = f"{outdir}/c{i}-{name}.npy"
        # fp16 as float16 files; bf16 as float32 files holding bf16 values exactly (--dtype bf16 rounds nothing)
        np.save(files[name], x.cpu().numpy() if dt == torch.float16 else x.float().cpu().numpy())
    outs = {n: f"{outdir}/c{i}-{n}-ours.npy" for n in ("out", "dq", "dk", "dv")}
    cmd = ["node", cli, "run", "--backend", "cuda", "--dtype", "f16" if dt == torch.float16 else "bf16",
           "--q", files["q"], "--k", files["k"], "--v", files["v"], "--dout", files["dout"]] + \
          sum(([f"--{n}", p] for n, p in outs.items()), []) + (["--causal"] if causal else [])
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        print(json.dumps({"case": i, "error": r.stderr[-400:]}), flush=True)
        failed += 1
        continue
    ours = {n: torch.from_numpy(np.load(p)).to(dev) for n, p in outs.items()}
    ref = grads(q.float(), k.float(), v.float(), do.float(), causal, SDPBackend.MATH)
    try:
        peer = grads(q, k, v, do, causal, SDPBackend.FLASH_ATTENTION)
        peer_name = "flash"
    except RuntimeError:
        peer = grads(q, k, v, do, causal, SDPBackend.EFFICIENT_ATTENTION)
        peer_name = "efficient"
    row = {"case": i, "dtype": dn, "batch": b, "seqlen": s, "heads": [hq, hkv], "d": d, "causal": causal, "peer": peer_name}
    ok = True
    for j, n in enumerate(("out", "dq", "dk", "dv")):
        e_ours = (ours[n] - ref[j]).abs().max().item()
        e_peer = (peer[j].float() - ref[j]).abs().max().item()
        atol = 2 * ((ref[j] + 0.3).to(dt).float() - 0.3 - ref[j]).abs().max().item()
        mult = 2 if n == "out" else 3
        good = e_ours <= mult * e_peer + atol and not np.isnan(e_ours)
        ok &= good
        row[n] = {"ours": e_ours, "peer": e_peer, "ok": good}
    row["ok"] = ok
    failed += 0 if ok else 1
    print(json.dumps(row), flush=True)
print(json.dumps({"summary": f"{len(CASES) - failed}/{len(CASES)} cases within the criterion", "device": torch.cuda.get_device_name(0),
                  "torch": torch.__version__}), flush=True)
sys.exit(1 if failed else 0)
