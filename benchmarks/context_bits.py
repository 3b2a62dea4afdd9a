"""Estimated bits of briefly trained context models vs the mean-scale hyperprior, same data and steps.

Run: ``python -m benchmarks.context_bits [--steps 300] [--batch 8] [--crop 64] [--lmbda 0.013]
[--models mbt2018-mean,mbt2018,minnen2020-channelwise,he2021-checkerboard] [--no-record]``

Every model is trained (``jlic.train.step.make_train_step``: Adam, lr ``--lr``, quantile loss, clipping) from
the same seed on the *same* sequence of random ``--crop`` crops of ``../shared/data/bsds200`` (all but the
last 8 images), at small CPU sizes (N=32, M=48; channel-wise with 4 slices), for the same number of steps
and λ. Then each is evaluated with hard rounding on one fixed batch (128x128 centre crops of the 8 held-out
images): the estimated bits (-Σ log2 p of y and z, in bpp), PSNR and the R + λD loss. The issue's check is
``bpp(mbt2018) <= bpp(mbt2018-mean)`` and ``bpp(channelwise) <= bpp(mbt2018-mean)``; since the models may
also land at different distortions, the loss is printed too. A JSON record is appended to
``benchmarks/results/context_bits-<date>.jsonl``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from PIL import Image

from benchmarks.records import append_record
from jlic.models import registry
from jlic.train.state import create_train_state
from jlic.train.step import make_eval_step, make_train_step

DATA = Path(__file__).parents[1] / ".." / "shared" / "data" / "bsds200"
SIZES = {
    "mbt2018-mean": {"N": 32, "M": 48},
    "mbt2018": {"N": 32, "M": 48},
    "he2021-checkerboard": {"N": 32, "M": 48},
    "minnen2020-channelwise": {"N": 32, "M": 48, "num_slices": 4, "max_support_slices": 2, "hidden": (48, 32)},
}


def load_images() -> list[np.ndarray]:
    paths = sorted(DATA.glob("*.png"))
    if not paths:
        raise SystemExit(f"no training images in {DATA}")
    return [np.asarray(Image.open(p).convert("RGB"), np.float32) / 255 for p in paths]


def batches(images: list[np.ndarray], steps: int, batch: int, crop: int, seed: int):
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        out = []
        for i in rng.integers(0, len(images), batch):
            img = images[i]
            y = rng.integers(0, img.shape[0] - crop + 1)
            x = rng.integers(0, img.shape[1] - crop + 1)
            out.append(img[y:y + crop, x:x + crop])
        yield np.stack(out)


def centre(img: np.ndarray, size: int) -> np.ndarray:
    y, x = (img.shape[0] - size) // 2, (img.shape[1] - size) // 2
    return img[y:y + size, x:x + size]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--crop", type=int, default=64)
    p.add_argument("--lmbda", type=float, default=0.013)
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--models", default=",".join(SIZES))
    p.add_argument("--no-record", action="store_true")
    args = p.parse_args(argv)
    images = load_images()
    train, held_out = images[:-8], images[-8:]
    eval_batch = jnp.asarray(np.stack([centre(im, 128) for im in held_out]))
    config = {"lr": args.lr, "image_shape": (1, 64, 64, 3)}
    results = {}
    for name in args.models.split(","):
        model = registry.get(name, 3, **SIZES[name])
        state = create_train_state(model, jax.random.PRNGKey(args.seed), config)
        step = jax.jit(make_train_step(model, config))
        evaluate = jax.jit(make_eval_step(model))
        t0 = time.perf_counter()
        key = jax.random.PRNGKey(args.seed + 1)
        for i, b in enumerate(batches(train, args.steps, args.batch, args.crop, args.seed)):
            state, metrics = step(state, jnp.asarray(b), jnp.float32(args.lmbda), jax.random.fold_in(key, i))
            if (i + 1) % 100 == 0:
                loss, bpp = float(metrics["loss"]), float(metrics["bpp"])
                print(f"  {name} step {i + 1}: loss {loss:.3f} bpp {bpp:.3f}", flush=True)
        m = {k: float(v) for k, v in evaluate(state.params, eval_batch, jnp.float32(args.lmbda)).items()}
        m["train_s"] = time.perf_counter() - t0
        results[name] = m
        print(f"{name:24s} eval bpp {m['bpp']:.4f}  psnr {m['psnr']:.2f} dB  loss {m['loss']:.4f}  "
              f"({m['train_s']:.0f} s)", flush=True)
    base = results.get("mbt2018-mean")
    if base:
        for name, m in results.items():
            if name != "mbt2018-mean":
                print(f"{name}: bpp {m['bpp'] / base['bpp']:.3f}x and loss {m['loss'] / base['loss']:.3f}x "
                      f"of mbt2018-mean ({'<=' if m['bpp'] <= base['bpp'] else '>'} in bits)")
    if not args.no_record:
        rec = {"benchmark": "context_bits", "time": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
               "args": vars(args), "sizes": {k: SIZES[k] for k in results}, "results": results}
        append_record("context_bits", rec, default=str)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
