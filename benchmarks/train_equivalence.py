"""Training that matches CompressAI: the same step in jlic and in CompressAI, step for step.

    nice -n 10 python -m benchmarks.train_equivalence                  # 300 steps, 3 models, bsds200 crops
    python -m benchmarks.train_equivalence --models mbt2018 --steps 50 --N 32 --M 48

Both sides start from identical weights (a fresh CompressAI model, imported into jlic with
`jlic.interop.compressai`), see identical batches (random crops of bsds200, or smooth random images), the
same λ, the same optimizers (Adam on the network with gradient clipping at 1.0, Adam on the entropy
bottleneck's quantiles for the aux loss, as CompressAI's `examples/train.py` with `net_aux_optimizer` and
`RateDistortionLoss`) and the same uniform quantization noise:

* jlic is fed the noise through its training API (`make_train_step(...)(state, x, λ, rng, noise=...)`,
  `jlic.quantize.supplied_noise`) with `aux_step="after_main"` (CompressAI takes the aux loss after the
  network step);
* CompressAI gets it through a peer-side hook, `use_noise`, that replaces the `quantize(..., "noise")` of its
  two entropy models by "add this array". CompressAI's mbt2018 draws y's noise twice (once for the context
  model and g_s, once inside `gaussian_conditional` for the likelihood); jlic draws it once and uses it for
  both. The hook hands the same array to both calls, so the comparison is of everything else.

Printed and recorded per model: the largest relative difference of loss, bpp, PSNR and aux loss over the
steps, and the final values; `--plot` writes both trajectories in one PNG (`benchmarks/results/`).
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.records import RESULTS, append_record, cpu_name

MODELS = ("bmshj2018-hyperprior", "mbt2018-mean", "mbt2018")
KEYS = ("loss", "bpp", "psnr", "aux_loss")
BSDS = Path(__file__).parents[1] / ".." / "shared" / "data" / "bsds200"


# ------------------------------------------------------------------------------------------ data, noise


def bsds_batches(steps: int, batch: int, crop: int, seed: int = 0, folder: Path = BSDS) -> list[np.ndarray]:
    """`steps` NHWC float32 batches of random `crop`² crops of the images in `folder` (or smooth random
    images when it is absent)."""
    rng = np.random.default_rng(seed)
    paths = sorted(p for p in Path(folder).glob("*") if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
    if not paths:
        return [smooth_batch(batch, crop, seed + i) for i in range(steps)]
    from PIL import Image

    images = []
    for p in paths:
        with Image.open(p) as im:
            images.append(np.asarray(im.convert("RGB")))
    out = []
    for _ in range(steps):
        crops = []
        for i in rng.integers(0, len(images), batch):
            im = images[i]
            y, x = rng.integers(0, im.shape[0] - crop + 1), rng.integers(0, im.shape[1] - crop + 1)
            crops.append(im[y:y + crop, x:x + crop])
        out.append(np.stack(crops).astype(np.float32) / 255.0)
    return out


def smooth_batch(batch: int, size: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    low = rng.uniform(0, 1, (batch, size // 8, size // 8, 3)).astype(np.float32)
    x = np.repeat(np.repeat(low, 8, axis=1), 8, axis=2)
    return np.clip(x + rng.normal(0, 0.05, x.shape).astype(np.float32), 0, 1)


def latent_noise(shape: tuple[int, ...], N: int, M: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """U(-1/2, 1/2) float32 noise for y (stride 16, M channels) and z (stride 64, N channels), NHWC."""
    b, h, w, _ = shape
    return {"y": rng.uniform(-0.5, 0.5, (b, h // 16, w // 16, M)).astype(np.float32),
            "z": rng.uniform(-0.5, 0.5, (b, h // 64, w // 64, N)).astype(np.float32)}


# ------------------------------------------------------------------------------------- CompressAI (peer)


def use_noise(net: Any) -> dict[str, Any]:
    """Make `net`'s entropy models add given noise instead of drawing it (test/benchmark-only peer hook).

    Returns a dict: set `hook["y"]`, `hook["z"]` to NHWC numpy arrays before each forward pass."""
    import torch

    current: dict[str, Any] = {}

    def patch(module: Any, name: str, to_layout) -> None:
        original = module.quantize

        def quantize(inputs, mode, means=None):
            if mode != "noise":
                return original(inputs, mode, means)
            u = to_layout(torch.from_numpy(current[name]))
            if tuple(u.shape) != tuple(inputs.shape):
                raise ValueError(f"noise for {name}: {tuple(u.shape)} does not fit {tuple(inputs.shape)}")
            return inputs + u

        module.quantize = quantize

    # EntropyBottleneck quantizes (C, 1, B*H*W) values; GaussianConditional quantizes NCHW.
    patch(net.entropy_bottleneck, "z", lambda u: u.permute(3, 0, 1, 2).reshape(u.shape[3], 1, -1))
    if hasattr(net, "gaussian_conditional"):
        patch(net.gaussian_conditional, "y", lambda u: u.permute(0, 3, 1, 2).contiguous())
    return current


class CompressAITrainer:
    """CompressAI's `examples/train.py` step: RateDistortionLoss, net/aux Adam, clip 1.0, aux step last."""

    def __init__(self, net: Any, lmbda: float, lr: float, aux_lr: float, clip: float = 1.0):
        from compressai.losses import RateDistortionLoss
        from compressai.optimizers import net_aux_optimizer

        self.net = net.train()
        self.noise = use_noise(net)
        opt = net_aux_optimizer(net, {"net": {"type": "Adam", "lr": lr}, "aux": {"type": "Adam", "lr": aux_lr}})
        self.opt, self.aux_opt = opt["net"], opt["aux"]
        self.criterion = RateDistortionLoss(lmbda=lmbda)
        self.clip = clip

    def step(self, x: np.ndarray, noise: dict[str, np.ndarray]) -> dict[str, float]:
        import torch

        self.noise.update(noise)
        xt = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous()
        self.opt.zero_grad()
        self.aux_opt.zero_grad()
        out = self.criterion(self.net(xt), xt)
        out["loss"].backward()
        torch.nn.utils.clip_grad_norm_(self.net.parameters(), self.clip)
        self.opt.step()
        aux = self.net.aux_loss()
        aux.backward()
        self.aux_opt.step()
        mse = out["mse_loss"].item()
        return {"loss": out["loss"].item(), "bpp": out["bpp_loss"].item(), "psnr": -10 * math.log10(mse),
                "aux_loss": aux.item()}


# ------------------------------------------------------------------------------------------------- jlic


class JlicTrainer:
    """jlic's train step (`jlic.train.step.make_train_step`, jitted) fed the given noise."""

    def __init__(self, name: str, net: Any, lmbda: float, lr: float, aux_lr: float, clip: float = 1.0):
        import jax
        import jax.numpy as jnp

        from jlic.interop.compressai import import_compressai
        from jlic.train.state import create_train_state
        from jlic.train.step import make_train_step

        imp = import_compressai(name, net)
        config = {"lr": lr, "aux_lr": aux_lr, "clip_norm": clip, "aux_step": "after_main"}
        self.model = imp.model
        self.state = create_train_state(imp.model, jax.random.PRNGKey(0), config, params=imp.params)
        self.step_fn = jax.jit(make_train_step(imp.model, config))
        self.lmbda = jnp.float32(lmbda)
        self.rng = jax.random.PRNGKey(0)  # unused: the noise is supplied

    def step(self, x: np.ndarray, noise: dict[str, np.ndarray]) -> dict[str, float]:
        self.state, m = self.step_fn(self.state, x, self.lmbda, self.rng, noise)
        return {k: float(m[k]) for k in KEYS}


def max_rel_diff(a: dict[str, list[float]], b: dict[str, list[float]]) -> dict[str, float]:
    """Per metric, the largest |a - b| / |b| over the steps."""
    return {k: float(np.max(np.abs(np.subtract(a[k], b[k])) / np.maximum(np.abs(b[k]), 1e-12))) for k in KEYS}


def compare(name: str, batches: list[np.ndarray], N: int, M: int, lmbda: float = 0.0130, lr: float = 1e-4,
            aux_lr: float = 1e-3, seed: int = 0, float_floor: bool = True, verbose: bool = False
            ) -> dict[str, Any]:
    """Train `name` (N, M) on `batches` in both frameworks from one init; per-step metrics of each.

    With `float_floor`, a copy of the CompressAI model also trains in float64 (same init, batches, noise):
    its distance to the float32 CompressAI run is what float32 rounding alone does to the trajectory, the
    floor the jlic-CompressAI distance is judged against."""
    import copy

    import torch
    from compressai import models as cm

    from jlic.interop.compressai import COMPRESSAI_CLASSES

    torch.manual_seed(seed)
    net = getattr(cm, COMPRESSAI_CLASSES[name])(N=N, M=M)
    twin = CompressAITrainer(copy.deepcopy(net).double(), lmbda, lr, aux_lr) if float_floor else None
    jl = JlicTrainer(name, net, lmbda, lr, aux_lr)  # imports the initial weights before any step
    ca = CompressAITrainer(net, lmbda, lr, aux_lr)
    rng = np.random.default_rng(seed + 1)
    sides = ("jlic", "compressai", "compressai-float64")
    hist: dict[str, dict[str, list[float]]] = {s: {k: [] for k in KEYS} for s in sides}
    times = {"jlic": 0.0, "compressai": 0.0}
    for i, x in enumerate(batches):
        noise = latent_noise(x.shape, N, M, rng)
        order = (("jlic", jl), ("compressai", ca)) if i % 2 == 0 else (("compressai", ca), ("jlic", jl))
        for side, trainer in order:
            t0 = time.perf_counter()
            m = trainer.step(x, noise)
            if i:  # step 0 includes jlic's compilation
                times[side] += time.perf_counter() - t0
            for k in KEYS:
                hist[side][k].append(m[k])
        if verbose and (i + 1) % 50 == 0:
            print(f"  {name} step {i + 1}: loss jlic {hist['jlic']['loss'][-1]:.4f} "
                  f"CompressAI {hist['compressai']['loss'][-1]:.4f}", flush=True)
        if twin is not None:
            m = twin.step(x.astype(np.float64), {k: v.astype(np.float64) for k, v in noise.items()})
            for k in KEYS:
                hist["compressai-float64"][k].append(m[k])
    out = {"model": name, "N": N, "M": M, "lambda": lmbda, "lr": lr, "aux_lr": aux_lr, "steps": len(batches),
           "batch": list(batches[0].shape), "max_rel_diff": max_rel_diff(hist["jlic"], hist["compressai"]),
           "history": hist, "s_per_step": {k: v / max(1, len(batches) - 1) for k, v in times.items()}}
    if twin is not None:
        out["float_floor"] = max_rel_diff(hist["compressai"], hist["compressai-float64"])
    return out


def float64_check(name: str, steps: int = 12, N: int = 16, M: int = 24, lr: float = 1e-3) -> dict[str, float]:
    """Both step functions in float64 (call with `jax_enable_x64` on): the largest relative difference of
    loss / aux loss over `steps`. Agreement here at ~1e-9 means the two compute the same function and the
    float32 gap is rounding alone."""
    import copy

    import jax
    import jax.numpy as jnp
    import torch
    from compressai import models as cm

    from jlic.interop.compressai import COMPRESSAI_CLASSES, import_compressai
    from jlic.train.state import create_train_state
    from jlic.train.step import make_train_step

    if not jax.config.jax_enable_x64:
        raise RuntimeError("float64_check needs jax.config.update('jax_enable_x64', True) before any jax use")
    torch.manual_seed(0)
    net = getattr(cm, COMPRESSAI_CLASSES[name])(N=N, M=M)
    imp = import_compressai(name, net)
    config = {"lr": lr, "aux_lr": 1e-3, "clip_norm": 1.0, "aux_step": "after_main"}
    params = jax.tree.map(lambda a: np.asarray(a, np.float64), imp.params)
    state = create_train_state(imp.model, jax.random.PRNGKey(0), config, params=params)
    step = jax.jit(make_train_step(imp.model, config))
    ca = CompressAITrainer(copy.deepcopy(net).double(), 0.013, lr, 1e-3)
    rng = np.random.default_rng(1)
    worst = {"loss": 0.0, "aux_loss": 0.0}
    for i in range(steps):
        x = smooth_batch(2, 64, i).astype(np.float64)
        noise = {k: v.astype(np.float64) for k, v in latent_noise(x.shape, N, M, rng).items()}
        state, m = step(state, x, jnp.float64(0.013), jax.random.PRNGKey(0), noise)
        mc = ca.step(x, noise)
        for k in worst:
            worst[k] = max(worst[k], abs(float(m[k]) - mc[k]) / abs(mc[k]))
    return worst


# ------------------------------------------------------------------------------------------------ shell




def plot(results: list[dict[str, Any]], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(KEYS), len(results), figsize=(4.2 * len(results), 2.4 * len(KEYS)),
                             squeeze=False, sharex=True)
    for j, r in enumerate(results):
        for i, k in enumerate(KEYS):
            ax = axes[i, j]
            ax.plot(r["history"]["compressai"][k], color="tab:orange", lw=2.5, alpha=0.6, label="CompressAI")
            ax.plot(r["history"]["jlic"][k], color="tab:blue", lw=1.0, ls="--", label="jlic")
            if r["history"].get("compressai-float64", {}).get(k):
                ax.plot(r["history"]["compressai-float64"][k], color="tab:green", lw=0.8, ls=":",
                        label="CompressAI float64")
            if i == 0 and "float_floor" in r:
                ax.text(0.98, 0.95, f"CompressAI f32 vs f64: {r['float_floor']['loss']:.1e}",
                        transform=ax.transAxes, ha="right", va="top", fontsize=7)
            ax.set_ylabel(k)
            if k in ("loss", "aux_loss"):
                ax.set_yscale("log")
            if i == 0:
                ax.set_title(f"{r['model']} (N={r['N']}, M={r['M']})\nmax rel. diff loss "
                             f"{r['max_rel_diff']['loss']:.1e}", fontsize=9)
                ax.legend(fontsize=8)
            if i == len(KEYS) - 1:
                ax.set_xlabel("step")
    fig.suptitle(f"Same init, batches ({'x'.join(map(str, results[0]['batch']))}), λ, Adam and noise: "
                 "jlic vs CompressAI train steps", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--crop", type=int, default=128)
    ap.add_argument("--N", type=int, default=32)
    ap.add_argument("--M", type=int, default=48)
    ap.add_argument("--lmbda", type=float, default=0.0130)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--aux-lr", type=float, default=1e-3)
    ap.add_argument("--plot", type=Path, default=RESULTS / "train_equivalence.png")
    ap.add_argument("--torch-threads", type=int, default=1,
                    help="torch CPU threads (default 1: on a loaded machine OpenMP spinning makes more threads "
                         "slower; this benchmark compares values, not speed)")
    ap.add_argument("--float-floor", action="store_true",
                    help="also train a float64 CompressAI copy (slow: torch's float64 convs are unoptimized)")
    ap.add_argument("--float64", type=int, default=0, metavar="STEPS",
                    help="only run both steps in float64 for STEPS steps (small model) and print the JSON")
    args = ap.parse_args(argv)
    if args.float64:
        import jax

        jax.config.update("jax_enable_x64", True)
        print(json.dumps({name: float64_check(name, args.float64) for name in args.models}))
        return 0
    import torch

    torch.set_num_threads(args.torch_threads)
    batches = bsds_batches(args.steps, args.batch, args.crop)
    results = []
    for name in args.models:
        r = compare(name, batches, args.N, args.M, args.lmbda, args.lr, args.aux_lr, verbose=True,
                    float_floor=args.float_floor)
        results.append(r)
        final = {s: {k: round(r["history"][s][k][-1], 5) for k in KEYS} for s in ("jlic", "compressai")}
        print(f"{name}: max relative difference over {args.steps} steps "
              + ", ".join(f"{k} {v:.2e}" for k, v in r["max_rel_diff"].items())
              + " (CompressAI float32 vs float64: "
              + ", ".join(f"{k} {v:.2e}" for k, v in r.get("float_floor", {}).items()) + ")"
              + f"; final {final}; s/step jlic {r['s_per_step']['jlic']:.3f} "
                f"CompressAI {r['s_per_step']['compressai']:.3f}")
    png = plot(results, args.plot)
    print(f"plot: {png}")
    finals = [{s: {k: r["history"][s][k][-1] for k in KEYS} for s in ("jlic", "compressai")} for r in results]
    record = {"date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
              "cpu": cpu_name(), "args": {k: str(v) for k, v in vars(args).items()},
              "data": str(BSDS.resolve()) if BSDS.exists() else "smooth random images",
              "results": [{k: v for k, v in r.items() if k != "history"} | {"final": f}
                          for r, f in zip(results, finals, strict=True)]}
    out = append_record("train_equivalence", record)
    print(f"record: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
