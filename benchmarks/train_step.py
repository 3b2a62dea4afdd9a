"""Train-step time of the same architecture in jlic and in CompressAI (PyTorch CPU), in one run.

    python -m benchmarks.train_step                                    # 3 models, batch 8, 256x256, q3
    python -m benchmarks.train_step --models bmshj2018-hyperprior --steps 3 --vmap 4
    python -m benchmarks.train_step --repeat 3 --vmap 0                # median ratio of 3 alternating runs
    python -m benchmarks.train_step --breakdown bmshj2018-hyperprior   # where the jlic step's time goes

Each (framework, model) is measured in its own subprocess so its peak RSS (`ru_maxrss`) is its own; both use
the same number of CPU threads (`--threads`, default: all cores). The step is the full training step:
forward with noise quantization, loss λ·255²·MSE + bpp, backward, gradient clipping at 1.0, Adam (lr 1e-4)
on the network and Adam (lr 1e-3) on the entropy bottleneck's quantiles with the aux (quantile) loss.
jlic does it in one jitted program (`jlic.train.step.make_train_step`); CompressAI does it as its
`examples/train.py` does (two optimizers, `aux_loss().backward()`).

Reported per model: median step time after one warm-up step, compile time (jlic) separately, ratio
jlic / CompressAI, steps/s and peak RSS (with `--repeat r`, the pair runs `r` times alternating and the
median of the `r` ratios is reported: the 2-core machine drifts by ±10% between minutes); with `--vmap n`,
the time of one step that trains `n` stacked λ
models in one program (`jax.vmap`) against `n` sequential single-λ steps. Prints a table and appends a
JSON record to `benchmarks/results/train_step-<date>.json` (a JSON list).

On a GPU (`--device cuda`, as `benchmarks.accelerator` runs it): jlic runs on JAX's default backend and
CompressAI on `torch.device("cuda")` (synchronized after every step); `--dtype bf16` is mixed precision
where it is safe: CompressAI's forward and loss under `torch.autocast(bfloat16)` (autocast keeps log, exp
and the losses in float32), jlic's step compiled under `jax.default_matmul_precision("bfloat16")` (the
convolutions' and matrix products' operands in bf16, everything else, the entropy models included, float32);
both report the last step's loss so a bf16 run can be checked against fp32.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.records import RESULTS

MODELS = ("bmshj2018-hyperprior", "mbt2018-mean", "mbt2018")


def _batch(batch: int, size: int, seed: int = 0) -> np.ndarray:
    """A fixed NHWC batch in [0, 1] (smooth random images; content does not change the cost)."""
    rng = np.random.default_rng(seed)
    low = rng.uniform(0, 1, (batch, size // 8, size // 8, 3)).astype(np.float32)
    x = np.repeat(np.repeat(low, 8, axis=1), 8, axis=2)
    return np.clip(x + rng.normal(0, 0.05, x.shape).astype(np.float32), 0, 1)


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _median_time(fn, steps: int) -> tuple[float, list[float]]:
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), times


# ----------------------------------------------------------------------------------------------------- jlic


def jlic_step(args: argparse.Namespace, n: int = 1) -> tuple[Any, Any, Any, Any, Any]:
    """jlic's train step for `args.model` at `args.quality` on the benchmark batch, as
    `(step to jit, state, batch, λ, keys)` with `keys(i)` the rng of step `i`; with `n > 1`, `n` stacked λ
    models (λ spread over /4 .. x4 around `args.lmbda`) in one vmapped step, as a vmap sweep trains them."""
    import jax
    import jax.numpy as jnp

    from jlic.models import registry
    from jlic.train import lambda_axis
    from jlic.train.state import create_train_state
    from jlic.train.step import make_train_step

    model = registry.get(args.model, quality=args.quality)
    config = {"image_shape": (args.batch, args.size, args.size, 3)}
    x = jnp.asarray(_batch(args.batch, args.size))
    key = jax.random.PRNGKey(0)
    step = make_train_step(model, config)
    if n > 1:
        state = lambda_axis.stack([create_train_state(model, jax.random.PRNGKey(i), config) for i in range(n)])
        lmbda = jnp.asarray(np.geomspace(args.lmbda / 4, args.lmbda * 4, n), jnp.float32)
        return (lambda_axis.vmap_step(step), state, x, lmbda,
                lambda i: jax.random.split(jax.random.fold_in(key, i), n))
    state = create_train_state(model, key, config)
    return step, state, x, jnp.float32(args.lmbda), lambda i: jax.random.fold_in(key, i)


def _time_jlic(args: argparse.Namespace, n: int) -> tuple[float, float, list[float]]:
    """Compile seconds, median step seconds and all step times of `jlic_step(args, n)` (after a warm-up)."""
    import jax

    step, state, x, lmbda, keys = jlic_step(args, n)
    t0 = time.perf_counter()
    precision = "bfloat16" if getattr(args, "dtype", "fp32") == "bf16" else None
    with jax.default_matmul_precision(precision):
        compiled = jax.jit(step, donate_argnums=0).lower(state, x, lmbda, keys(0)).compile()
    compile_s = time.perf_counter() - t0
    holder = {"state": state}
    del state

    def run(i: list[int] = [0]) -> None:  # noqa: B006 - step counter for fresh rngs
        i[0] += 1
        holder["state"], m = compiled(holder["state"], x, lmbda, keys(i[0]))
        jax.block_until_ready((holder["state"], m))
        holder["loss"] = m["loss"]

    run()  # warm-up
    out = (compile_s, *_median_time(run, args.steps))
    args.last_loss = np.asarray(holder["loss"]).tolist()
    return out


def _jlic_worker(args: argparse.Namespace) -> dict[str, Any]:
    import jax

    out: dict[str, Any] = {"framework": "jlic", "jax": jax.__version__, "backend": jax.default_backend(),
                           "device_kind": jax.devices()[0].device_kind}
    out["compile_s"], out["step_s"], out["step_times"] = _time_jlic(args, 1)
    out["loss_last"], out["dtype"] = args.last_loss, args.dtype
    out["peak_rss_mib"] = _peak_rss_mib()
    if args.vmap > 1:
        out["vmap_n"] = n = args.vmap
        out["vmap_compile_s"], out["vmap_step_s"], out["vmap_step_times"] = _time_jlic(args, n)
        out["vmap_vs_sequential"] = out["vmap_step_s"] / (n * out["step_s"])
        out["peak_rss_mib_with_vmap"] = _peak_rss_mib()
    return out


# ---------------------------------------------------------------------------------------------- CompressAI


def compressai_step(args: argparse.Namespace) -> Any:
    """CompressAI's train step for `args.model` at `args.quality`, as its `examples/train.py` does it (two
    Adam optimizers, `aux_loss().backward()`), on the benchmark batch; returns the zero-argument step."""
    import torch
    from compressai import zoo

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    ctor = {"bmshj2018-hyperprior": zoo.bmshj2018_hyperprior, "mbt2018-mean": zoo.mbt2018_mean,
            "mbt2018": zoo.mbt2018, "bmshj2018-factorized": zoo.bmshj2018_factorized}[args.model]
    device = torch.device(getattr(args, "device", "cpu"))
    bf16 = getattr(args, "dtype", "fp32") == "bf16"
    net = ctor(quality=args.quality, pretrained=False).train().to(device)
    main_params = [p for n, p in net.named_parameters() if not n.endswith(".quantiles")]
    aux_params = [p for n, p in net.named_parameters() if n.endswith(".quantiles")]
    opt = torch.optim.Adam(main_params, lr=1e-4)
    aux_opt = torch.optim.Adam(aux_params, lr=1e-3)
    x = torch.from_numpy(_batch(args.batch, args.size).transpose(0, 3, 1, 2).copy()).to(device)
    num_pixels = x.shape[0] * x.shape[2] * x.shape[3]

    def run() -> Any:
        opt.zero_grad()
        aux_opt.zero_grad()
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=bf16):
            out = net(x)
            bpp = sum(torch.log(v).sum() for v in out["likelihoods"].values()) / (-np.log(2) * num_pixels)
            loss = args.lmbda * 255**2 * torch.nn.functional.mse_loss(out["x_hat"], x) + bpp
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        aux = net.aux_loss()
        aux.backward()
        aux_opt.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        return loss.detach()

    return run


def _compressai_worker(args: argparse.Namespace) -> dict[str, Any]:
    import compressai
    import torch

    run = compressai_step(args)
    out: dict[str, Any] = {"framework": "compressai", "torch": torch.__version__,
                           "compressai": compressai.__version__, "threads": torch.get_num_threads(),
                           "device": args.device, "dtype": args.dtype}
    if args.device == "cuda":
        out["device_name"] = torch.cuda.get_device_name(0)
    t0 = time.perf_counter()
    run()  # warm-up
    out["first_step_s"] = time.perf_counter() - t0
    last: dict[str, Any] = {}
    out["step_s"], out["step_times"] = _median_time(lambda: last.update(loss=run()), args.steps)
    out["loss_last"] = float(last["loss"])
    out["peak_rss_mib"] = _peak_rss_mib()
    return out


# ----------------------------------------------------------------------------------------------- breakdown


def _breakdown(args: argparse.Namespace) -> dict[str, Any]:
    """Median time of jitted pieces of the jlic step (forward, loss+grad, full step, and layer groups)."""
    import jax
    import jax.numpy as jnp

    from jlic.entropy import factorized, gaussian
    from jlic.models import registry
    from jlic.ops import conv as C
    from jlic.ops.gdn import gdn
    from jlic.train.state import create_train_state
    from jlic.train.step import make_loss_fn, make_train_step

    model = registry.get(args.model, quality=args.quality)
    config = {"image_shape": (args.batch, args.size, args.size, 3)}
    x = jnp.asarray(_batch(args.batch, args.size))
    key = jax.random.PRNGKey(0)
    state = create_train_state(model, key, config)
    lmbda = jnp.float32(args.lmbda)
    loss_fn = make_loss_fn(model)
    res: dict[str, Any] = {}

    def timed(name: str, f, *a) -> None:
        f = jax.jit(f)
        t0 = time.perf_counter()
        c = f.lower(*a).compile()
        compile_s = time.perf_counter() - t0
        jax.block_until_ready(c(*a))
        res[name] = {"compile_s": compile_s, "run_s": _median_time(lambda: jax.block_until_ready(c(*a)),
                                                                   args.steps)[0]}
        print(f"  {name:38s} run {res[name]['run_s']:7.3f} s   compile {compile_s:6.1f} s", flush=True)

    timed("forward (loss)", lambda p, x: loss_fn(p, x, lmbda, key)[0], state.params, x)
    timed("loss + grad", jax.grad(lambda p, x: loss_fn(p, x, lmbda, key)[0]), state.params, x)
    timed("full step", make_train_step(model, config), state, x, lmbda, key)

    n, b, s = model.kwargs["N"], args.batch, args.size
    rng = np.random.default_rng(0)

    def arr(*shape: int) -> jax.Array:
        return jnp.asarray(rng.normal(size=shape).astype(np.float32))

    def fb(op):  # forward + backward of op(x, w) w.r.t. both
        return jax.grad(lambda x, w: jnp.sum(jnp.sin(op(x, w))), (0, 1))

    ct = lambda x, w: C.conv_transpose2d(x, w, 2)
    ct_ref = lambda x, w: C.conv_transpose2d_reference(x, w, 2)
    cv = lambda x, w: C.conv2d(x, w, 2)
    cv_ref = lambda x, w: C.conv2d_reference(x, w, 2)
    w_nn = arr(5, 5, n, n)
    x64, x128 = arr(b, s // 4, s // 4, n), arr(b, s // 2, s // 2, n)
    timed(f"convT 5x5 s2 {n}->{n} {s // 4}->{s // 2} fwd", ct, x64, w_nn)
    timed("  same, lax reference fwd", ct_ref, x64, w_nn)
    timed("  same, fwd+bwd", fb(ct), x64, w_nn)
    timed(f"conv 5x5 s2 {n}->{n} {s // 2}->{s // 4} fwd+bwd", fb(cv), x128, w_nn)
    timed("  same, lax reference fwd+bwd", fb(cv_ref), x128, w_nn)
    gamma, beta = jnp.eye(n) * 0.1 + 0.01, jnp.ones((n,))
    timed(f"GDN {n}ch {s // 2}px fwd+bwd", jax.grad(lambda x, g: jnp.sum(jnp.sin(gdn(x, beta, g)))),
          x128, gamma)
    m = model.kwargs["M"]
    y = arr(b, s // 16, s // 16, m)
    timed(f"gaussian likelihood {m}ch fwd+bwd",
          jax.grad(lambda y, sc: jnp.sum(jnp.log(gaussian.likelihood(y, jnp.abs(sc) + 0.1))), (0, 1)), y, y)
    fp = factorized.init(key, n)
    z = arr(b, s // 64, s // 64, n)
    timed(f"factorized likelihood {n}ch fwd+bwd",
          jax.grad(lambda p, z: jnp.sum(jnp.log(factorized.likelihood(p, z))), (0, 1)), fp, z)
    return res


# ---------------------------------------------------------------------------------------------------- main


def _run_worker(framework: str, model: str, args: argparse.Namespace, vmap: bool = True) -> dict[str, Any]:
    vmap = vmap and framework == "jlic" and model in args.vmap_models
    cmd = [sys.executable, "-m", "benchmarks.train_step", "--worker", framework, "--models", model,
           "--steps", str(args.steps), "--batch", str(args.batch), "--size", str(args.size),
           "--quality", str(args.quality), "--lmbda", str(args.lmbda), "--threads", str(args.threads),
           "--vmap", str(args.vmap if vmap else 0), "--device", args.device, "--dtype", args.dtype]
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
    if args.device == "cpu" and framework == "jlic":
        env["JAX_PLATFORMS"] = "cpu"
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=Path(__file__).parents[1],
                              timeout=args.worker_timeout)
    except subprocess.TimeoutExpired:
        return {"framework": framework, "error": f"timed out after {args.worker_timeout} s"}
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        return {"framework": framework, "error": (proc.stderr or proc.stdout)[-2000:]}
    return json.loads(lines[-1])


def _print_run(model: str, tag: str, r: dict[str, Any]) -> None:
    if "error" in r:
        print(f"{model:22s} {tag:10s} FAILED: {r['error'].strip().splitlines()[-1:]}", flush=True)
        return
    extra = f"  compile {r['compile_s']:.1f} s" if "compile_s" in r else ""
    print(f"{model:22s} {tag:10s} step {r['step_s']:7.3f} s  ({1 / r['step_s']:.2f} steps/s)  "
          f"peak RSS {r['peak_rss_mib']:7.0f} MiB{extra}", flush=True)
    if "vmap_step_s" in r:
        print(f"{'':22s} {'':10s} vmap {r['vmap_n']} λ: {r['vmap_step_s']:.3f} s/step vs "
              f"{r['vmap_n']}x sequential {r['vmap_n'] * r['step_s']:.3f} s: "
              f"ratio {r['vmap_vs_sequential']:.2f}", flush=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--models", nargs="+", default=list(MODELS))
    p.add_argument("--frameworks", nargs="+", default=["jlic", "compressai"])
    p.add_argument("--steps", type=int, default=5, help="timed steps after one warm-up step")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--quality", type=int, default=3)
    p.add_argument("--lmbda", type=float, default=0.0067)
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--vmap", type=int, default=4, help="λ models stacked in the vmap mode (0: skip)")
    p.add_argument("--vmap-models", nargs="*", default=["bmshj2018-hyperprior"])
    p.add_argument("--repeat", type=int, default=1,
                   help="run each (jlic, CompressAI) pair this many times, alternating; median ratio")
    p.add_argument("--breakdown", metavar="MODEL", help="time pieces of the jlic step instead")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu",
                   help="cuda: CompressAI on the GPU and jlic on JAX's default backend; cpu: both on the CPU")
    p.add_argument("--dtype", choices=["fp32", "bf16"], default="fp32", help="bf16: mixed precision (above)")
    p.add_argument("--worker-timeout", type=float, default=None,
                   help="seconds per worker process (default: none)")
    p.add_argument("--worker", choices=["jlic", "compressai"], help=argparse.SUPPRESS)
    p.add_argument("--out", default=None, help="JSON list to append to (default: results/train_step-DATE.json)")
    args = p.parse_args(argv)

    if args.worker:
        args.model = args.models[0]
        fn = _jlic_worker if args.worker == "jlic" else _compressai_worker
        print(json.dumps(fn(args)), flush=True)
        return 0
    if args.breakdown:
        args.model = args.breakdown
        print(f"jlic step breakdown, {args.model} q{args.quality}, batch {args.batch}x{args.size}²:")
        res = _breakdown(args)
        record = {"kind": "breakdown", "model": args.model, "results": res}
    else:
        results = {}
        for model in args.models:
            results[model] = {}
            pairs = []
            for rep in range(args.repeat):  # alternate the frameworks so slow phases of the machine hit both
                runs = {}
                for fw in args.frameworks:
                    runs[fw] = r = _run_worker(fw, model, args, vmap=rep == 0)
                    _print_run(model, f"{fw} #{rep + 1}" if args.repeat > 1 else fw, r)
                if rep == 0:
                    results[model].update(runs)
                else:
                    results[model].setdefault("repeats", []).append(runs)
                j, c = runs.get("jlic", {}), runs.get("compressai", {})
                if "step_s" in j and "step_s" in c:
                    pairs.append(j["step_s"] / c["step_s"])
            if pairs:
                results[model]["ratio_jlic_over_compressai"] = float(np.median(pairs))
                results[model]["ratios"] = pairs
                each = f" (runs: {', '.join(f'{x:.2f}' for x in pairs)})" if len(pairs) > 1 else ""
                print(f"{model:22s} ratio jlic/CompressAI step time: {np.median(pairs):.2f}{each}", flush=True)
        record = {"kind": "train_step", "results": results}
    load = os.getloadavg()
    record.update({
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": "python -m benchmarks.train_step " + " ".join(argv if argv is not None else sys.argv[1:]),
        "batch": args.batch, "size": args.size, "quality": args.quality, "lmbda": args.lmbda,
        "threads": args.threads, "steps": args.steps, "machine": platform.machine(),
        "device": args.device, "dtype": args.dtype,
        "cpu_count": os.cpu_count(), "loadavg_at_end": load,
    })
    out = Path(args.out) if args.out else RESULTS / f"train_step-{datetime.date.today().isoformat()}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    records = json.loads(out.read_text()) if out.exists() else []
    records.append(record)
    out.write_text(json.dumps(records, indent=1) + "\n")
    print(f"appended to {out}  (load average at end: {load[0]:.1f}; other processes share the cores)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
