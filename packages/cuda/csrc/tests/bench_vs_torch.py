"""Side-by-side with PyTorch SDPA (flash and cudnn backends) on identical inputs, in one run on one GPU.

Loads the kernels from libflash_kernels.so via ctypes (flash_params.h structs mirrored below), passes torch tensors'
data_ptr()s, checks outputs/gradients against torch's math backend in float32 (flash-attn style criterion relative
to torch flash's own error), and times with triton.testing.do_bench (median ms). FLOPs: flash-attn convention
(fwd = 4*b*h*s^2*d, halved when causal; fwd+bwd = 3.5x fwd).
usage: python3 bench_vs_torch.py LIB [--quick] [--dtypes fp16,bf16] [--out results.json] [--sm90 0,1]
--sm90 0,1: ours is timed once per FLASHATTN_CUDA_SM90 value (set in os.environ, which flash_api.cu reads per call);
the correctness checks run with the environment as given (sm90 on by default on an H100). A/B values besides 0 / 1
(flash_bwd_sm90*.h): 2 / 3 (formerly the warp-specialized d64 bwd, removed) same as 1, 4 v6 bwd kernels, 5 bulk dQ at d64, 6 the v8 d256 bwd on
(on by default since v8; FLASHATTN_SM90_BWD_D256=0 turns it off).
"""
import ctypes, json, math, os, sys, time, argparse
import torch
import torch.nn.functional as F
from torch.nn.attention import sdpa_kernel, SDPBackend
from triton.testing import do_bench


class Fwd(ctypes.Structure):
    _fields_ = [("q", ctypes.c_void_p), ("k", ctypes.c_void_p), ("v", ctypes.c_void_p), ("out", ctypes.c_void_p),
                ("lse", ctypes.c_void_p), ("cu_q", ctypes.c_void_p), ("cu_k", ctypes.c_void_p),
                ("batch", ctypes.c_int32), ("h_q", ctypes.c_int32), ("h_kv", ctypes.c_int32),
                ("d_qk", ctypes.c_int32), ("d_v", ctypes.c_int32), ("max_sq", ctypes.c_int32),
                ("max_sk", ctypes.c_int32), ("lse_bs", ctypes.c_int64), ("lse_hs", ctypes.c_int64),
                ("lse_varlen", ctypes.c_int32), ("scale", ctypes.c_float), ("softcap", ctypes.c_float),
                ("wl", ctypes.c_int32), ("wr", ctypes.c_int32), ("dtype", ctypes.c_int32),
                ("scratch", ctypes.c_void_p), ("scratch_bytes", ctypes.c_int64)]


class Bwd(ctypes.Structure):
    _fields_ = [("fwd", Fwd), ("dout", ctypes.c_void_p), ("dq", ctypes.c_void_p), ("dk", ctypes.c_void_p),
                ("dv", ctypes.c_void_p), ("deterministic", ctypes.c_int32), ("scratch", ctypes.c_void_p),
                ("scratch_bytes", ctypes.c_int64)]


class Flash:
    def __init__(self, path):
        self.lib = ctypes.CDLL(path)
        self.lib.flash_fwd.restype = ctypes.c_int
        self.lib.flash_fwd.argtypes = [ctypes.POINTER(Fwd), ctypes.c_void_p, ctypes.POINTER(ctypes.c_char_p)]
        self.lib.flash_bwd.restype = ctypes.c_int
        self.lib.flash_bwd.argtypes = [ctypes.POINTER(Bwd), ctypes.c_void_p, ctypes.POINTER(ctypes.c_char_p)]
        self.lib.flash_bwd_workspace_bytes.restype = ctypes.c_int64
        self.lib.flash_bwd_workspace_bytes.argtypes = [ctypes.POINTER(Bwd)]

    def setup(self, q, k, v, causal, softcap=0.0):
        """q: [b, s, h, d] contiguous. Returns closures fwd() and bwd() over preallocated buffers."""
        b, sq, hq, d = q.shape
        sk, hkv, dv = k.shape[1], k.shape[2], v.shape[3]
        dev = q.device
        self.out = torch.empty(b, sq, hq, dv, dtype=q.dtype, device=dev)
        self.lse = torch.empty(b, hq, sq, dtype=torch.float32, device=dev)
        self.cu_q = torch.arange(0, (b + 1) * sq, sq, dtype=torch.int32, device=dev)
        self.cu_k = torch.arange(0, (b + 1) * sk, sk, dtype=torch.int32, device=dev)
        self.dq, self.dk, self.dv = torch.empty_like(q), torch.empty_like(k), torch.empty_like(v)
        dt = {torch.float32: 0, torch.float16: 1, torch.bfloat16: 2}[q.dtype]
        f = Fwd(q.data_ptr(), k.data_ptr(), v.data_ptr(), self.out.data_ptr(), self.lse.data_ptr(),
                self.cu_q.data_ptr(), self.cu_k.data_ptr(), b, hq, hkv, d, dv, sq, sk, hq * sq, sq, 0,
                1.0 / math.sqrt(d), softcap, -1, 0 if causal else -1, dt, None, 0)
        self.fp = f
        self.keep = (q, k, v)
        self.bp = Bwd(f, 0, self.dq.data_ptr(), self.dk.data_ptr(), self.dv.data_ptr(), 0, None, 0)
        ws = self.lib.flash_bwd_workspace_bytes(ctypes.byref(self.bp))
        self.ws = torch.empty(max(ws, 16), dtype=torch.uint8, device=dev)
        self.bp.scratch, self.bp.scratch_bytes = self.ws.data_ptr(), ws

    def fwd(self):
        why = ctypes.c_char_p()
        e = self.lib.flash_fwd(ctypes.byref(self.fp), torch.cuda.current_stream().cuda_stream, ctypes.byref(why))
        if e != 0:
            raise RuntimeError(f"flash_fwd error {e} {why.value}")
        return self.out

    def bwd(self, dout):
        self.bp.dout = dout.data_ptr()
        why = ctypes.c_char_p()
        e = self.lib.flash_bwd(ctypes.byref(self.bp), torch.cuda.current_stream().cuda_stream, ctypes.byref(why))
        if e != 0:
            raise RuntimeError(f"flash_bwd error {e} {why.value}")
        return self.dq, self.dk, self.dv


def sdpa(q, k, v, causal, backend):
    # q: [b, s, h, d] -> SDPA layout [b, h, s, d] as a view
    with sdpa_kernel([backend]):
        o = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), is_causal=causal,
                                           enable_gqa=q.shape[2] != k.shape[2])
    return o.transpose(1, 2)


def check(fl, dtype, b, s, h, d, causal, dev):
    """Ours and torch flash vs float32 math (on identical inputs); criterion: ours <= 2x (3x grads) flash + atol."""
    torch.manual_seed(0)
    q, k, v, do = (torch.randn(b, s, h, d, dtype=dtype, device=dev) for _ in range(4))
    fl.setup(q, k, v, causal)
    o = fl.fwd().clone()
    dq, dk, dv = (t.clone() for t in fl.bwd(do))
    qr, kr, vr = (t.float().requires_grad_() for t in (q, k, v))
    o_ref = sdpa(qr, kr, vr, causal, SDPBackend.MATH)
    o_ref.backward(do.float())
    qf, kf, vf = (t.clone().requires_grad_() for t in (q, k, v))
    o_fl = sdpa(qf, kf, vf, causal, SDPBackend.FLASH_ATTENTION)
    o_fl.backward(do)
    res = {}
    for name, ours, peer, ref, mult in [("out", o, o_fl, o_ref, 2), ("dq", dq, qf.grad, qr.grad, 3),
                                        ("dk", dk, kf.grad, kr.grad, 3), ("dv", dv, vf.grad, vr.grad, 3)]:
        e_ours = (ours.float() - ref).abs().max().item()
        e_peer = (peer.float() - ref).abs().max().item()
        atol = 2 * ((ref + 0.3).to(dtype).float() - 0.3 - ref).abs().max().item()
        res[name] = dict(ours=e_ours, flash=e_peer, ok=bool(e_ours <= mult * e_peer + atol) and not math.isnan(e_ours))
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("lib")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--dtypes", default="fp16,bf16")
    ap.add_argument("--dims", default="64,128,256")
    ap.add_argument("--seqlens", default="512,1024,2048,4096,8192,16384")
    ap.add_argument("--out", default="bench.json")
    ap.add_argument("--rep", type=int, default=40, help="do_bench rep (ms) for the bench table; warmup = rep / 4")
    ap.add_argument("--variants", default="", help="tuning build: FLASH_FWD_VARIANT values to compare (fp16 fwd)")
    ap.add_argument("--sm90", default="", help="A/B of the sm90 (wgmma) paths in one process: FLASHATTN_CUDA_SM90 "
                    "values to time ours with, e.g. 0,1 (flash_api.cu reads the variable on every call)")
    a = ap.parse_args()
    dev = torch.device("cuda")
    fl = Flash(a.lib)
    props = torch.cuda.get_device_properties(0)
    print(f"# device {props.name}, torch {torch.__version__}, cudnn {torch.backends.cudnn.version()}, "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}", flush=True)
    results = {"device": props.name, "torch": torch.__version__, "date": time.strftime('%Y-%m-%d', time.gmtime()),
               "checks": [], "bench": []}
    # Correctness vs torch on identical inputs.
    for dtype in [torch.float16, torch.bfloat16]:
        for d in (64, 128, 256):
            for causal in (False, True):
                r = check(fl, dtype, 2, 1024 if d < 256 else 512, 4, d, causal, dev)
                ok = all(x["ok"] for x in r.values())
                print(f"check {str(dtype)[6:]} d{d} causal={causal}: {'ok' if ok else 'FAIL'} " +
                      " ".join(f"{n} {x['ours']:.2e}/{x['flash']:.2e}" for n, x in r.items()), flush=True)
                results["checks"].append(dict(dtype=str(dtype), d=d, causal=causal, ok=ok, errs=r))
    # Tiny prefill latency.
    q, k, v = (torch.randn(1, 128, 16, 64, dtype=torch.float16, device=dev) for _ in range(3))
    fl.setup(q, k, v, False)
    t_ours = do_bench(fl.fwd, warmup=10, rep=40) * 1e3
    t_fl = do_bench(lambda: sdpa(q, k, v, False, SDPBackend.FLASH_ATTENTION), warmup=10, rep=40) * 1e3
    print(f"tiny 1x16x128x128 d64 fwd: ours {t_ours:.1f} us, flash {t_fl:.1f} us", flush=True)
    results["tiny_us"] = dict(ours=t_ours, flash=t_fl)
    if a.variants:
        results["variants"] = []
        print("| variant | d | causal | seqlen | fwd TFLOP/s | out err vs f32 math (flash's) |")
        print("|---|---|---|---|---|---|")
        for d in (64, 128, 256):
            for v in [int(x) for x in a.variants.split(",")]:
                os.environ["FLASH_FWD_VARIANT"] = str(v)
                for causal in (False, True):
                    torch.manual_seed(1)
                    q, k, v_ = (torch.randn(2, 1024, 4, d, dtype=torch.float16, device=dev) for _ in range(3))
                    fl.setup(q, k, v_, causal)
                    o = fl.fwd().clone()
                    ref = sdpa(q.float(), k.float(), v_.float(), causal, SDPBackend.MATH)
                    peer = sdpa(q, k, v_, causal, SDPBackend.FLASH_ATTENTION)
                    err, perr = (o.float() - ref).abs().max().item(), (peer.float() - ref).abs().max().item()
                    for s in (1024, 4096):
                        b, h = 16384 // s, 2048 // d
                        q, k, v_ = (torch.randn(b, s, h, d, dtype=torch.float16, device=dev) for _ in range(3))
                        fl.setup(q, k, v_, causal)
                        tf = 4 * b * h * s * s * d / (2 if causal else 1) / do_bench(fl.fwd, warmup=10, rep=40) / 1e9
                        results["variants"].append(dict(variant=v, d=d, causal=causal, seqlen=s, fwd=tf, err=err, flash_err=perr))
                        print(f"| {v} | {d} | {causal} | {s} | {tf:.0f} | {err:.2e} ({perr:.2e}) |", flush=True)
        os.environ.pop("FLASH_FWD_VARIANT", None)
    dtypes = {"fp16": torch.float16, "bf16": torch.bfloat16}
    sm_vals = [x for x in a.sm90.split(",") if x]
    env0 = os.environ.get("FLASHATTN_CUDA_SM90")
    if sm_vals:
        print("| dtype | d | causal | seqlen | " + " | ".join(f"ours fwd sm90={v}" for v in sm_vals) +
              " | flash fwd | cudnn fwd | " + " | ".join(f"ours f+b sm90={v}" for v in sm_vals) +
              " | ours f+b det | flash f+b | cudnn f+b |")
        print("|---|---|---|---|" + "---|" * (2 * len(sm_vals) + 5))
    else:
        print("| dtype | d | causal | seqlen | ours fwd | flash fwd | cudnn fwd | ours f+b | ours f+b det | flash f+b | cudnn f+b |")
        print("|---|---|---|---|---|---|---|---|---|---|---|")
    for dn in a.dtypes.split(","):
        dtype = dtypes[dn]
        for d in [int(x) for x in a.dims.split(",")]:
            for causal in (False, True):
                for s in [int(x) for x in a.seqlens.split(",")]:
                    b, h = 16384 // s, 2048 // d
                    q, k, v, do = (torch.randn(b, s, h, d, dtype=dtype, device=dev) for _ in range(4))
                    flops = 4 * b * h * s * s * d / (2 if causal else 1)
                    fl.setup(q, k, v, causal)
                    row = dict(dtype=dn, d=d, causal=causal, seqlen=s)
                    def fb_ours():
                        fl.fwd(); fl.bwd(do)
                    W, R = max(a.rep // 4, 1), a.rep
                    for sv in sm_vals:
                        os.environ["FLASHATTN_CUDA_SM90"] = sv
                        row[f"ours_fwd_sm90_{sv}"] = flops / do_bench(fl.fwd, warmup=W, rep=R) / 1e9
                        row[f"ours_fb_sm90_{sv}"] = 3.5 * flops / do_bench(fb_ours, warmup=W, rep=R) / 1e9
                    if sm_vals:
                        if env0 is None: os.environ.pop("FLASHATTN_CUDA_SM90", None)
                        else: os.environ["FLASHATTN_CUDA_SM90"] = env0
                    else:
                        row["ours_fwd"] = flops / do_bench(fl.fwd, warmup=W, rep=R) / 1e9
                        row["ours_fb"] = 3.5 * flops / do_bench(fb_ours, warmup=W, rep=R) / 1e9
                    fl.bp.deterministic = 1
                    row["ours_fb_det"] = 3.5 * flops / do_bench(fb_ours, warmup=W, rep=R) / 1e9
                    fl.bp.deterministic = 0
                    qg, kg, vg = (t.clone().requires_grad_() for t in (q, k, v))
                    for name, be in (("flash", SDPBackend.FLASH_ATTENTION), ("cudnn", SDPBackend.CUDNN_ATTENTION)):
                        try:
                            row[f"{name}_fwd"] = flops / do_bench(lambda: sdpa(q, k, v, causal, be), warmup=W, rep=R) / 1e9
                            def fb():
                                o = sdpa(qg, kg, vg, causal, be)
                                o.backward(do)
                            row[f"{name}_fb"] = 3.5 * flops / do_bench(fb, grad_to_none=[qg, kg, vg], warmup=W, rep=R) / 1e9
                        except Exception as ex:  # backend not available for this shape
                            row[f"{name}_fwd"] = row[f"{name}_fb"] = float("nan")
                    results["bench"].append(row)
                    if sm_vals:
                        print(f"| {dn} | {d} | {causal} | {s} | " +
                              " | ".join(f"{row[f'ours_fwd_sm90_{sv}']:.0f}" for sv in sm_vals) +
                              f" | {row['flash_fwd']:.0f} | {row['cudnn_fwd']:.0f} | " +
                              " | ".join(f"{row[f'ours_fb_sm90_{sv}']:.0f}" for sv in sm_vals) +
                              f" | {row['ours_fb_det']:.0f} | {row['flash_fb']:.0f} | {row['cudnn_fb']:.0f} |", flush=True)
                    else:
                        print(f"| {dn} | {d} | {causal} | {s} | {row['ours_fwd']:.0f} | {row['flash_fwd']:.0f} | "
                              f"{row['cudnn_fwd']:.0f} | {row['ours_fb']:.0f} | {row['ours_fb_det']:.0f} | {row['flash_fb']:.0f} | {row['cudnn_fb']:.0f} |",
                              flush=True)
                    del q, k, v, do, qg, kg, vg
                    json.dump(results, open(a.out, "w"), indent=1)
    json.dump(results, open(a.out, "w"), indent=1)


if __name__ == "__main__":
    main()
