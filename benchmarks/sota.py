"""State-of-the-art entropy models side by side: parameters, MAC/pixel, CPU encode/decode seconds, and how
MLIC++'s decode time grows with the image (arXiv 2307.15421 claims linear complexity).

    python -m benchmarks.sota                                  # all models, one Kodak image
    python -m benchmarks.sota --models mlicpp --no-timing      # counts only
    python -m benchmarks.sota --scaling-only                   # MLIC++ decode at 512² and 1024²

- Parameters: `jax.eval_shape` of each registered model's init (nothing allocated), next to the published
  figures of ../shared/reference/sota-facts.md.
- MAC/pixel: XLA's flop count of the evaluation forward pass (g_a, the whole latent-codec forward incl. both
  checkerboard passes, g_s) at 256x256, divided by 2 and by the pixels (`Lowered.cost_analysis`, no compile).
- Timing: RANDOM-INIT weights (drawn leaf by leaf in numpy from the parameter shapes: conv kernels
  U(±1/sqrt(fan in)), biases 0, GDN/LayerNorm/entropy bottleneck at their own inits), because jit-compiling
  `model.init` of these models takes minutes on XLA:CPU. Real bytes, warm (second) run reported; the first
  run includes the compiles. Bytes of random weights say nothing about compression.
- `entroformer` is included when it is registered on the branch this runs on, else skipped.

A JSON record goes to `benchmarks/results/sota-<date>.jsonl`.
"""

from __future__ import annotations

import argparse
import math
import os
import time
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks.records import append_record, cpu_name

KODAK = Path(__file__).parents[1] / ".." / "shared" / "data" / "kodak"
MODELS = ("elic2022", "mlicpp", "entroformer", "mbt2018-mean", "cheng2020-anchor")
# Published parameter counts (sota-facts.md §0-§3); None where the sourced facts have none.
PUBLISHED_PARAMS = {
    "elic2022": "36.93 M (HPCM table), 41.9 M (DCAE table); CompressAI impl. ~32.1 M computed",
    "mlicpp": "83.5 M after the 2024 LRP fix (official README); 116.7 M old version (HPCM/DCAE tables)",
    "entroformer": None, "mbt2018-mean": None, "cheng2020-anchor": None,
    "hpcm-base": "68,505,299 (the official code's modules, counted on CPU)",
    "hpcm-large": "89,718,803 (the official code's modules, counted on CPU)",
}
PUBLISHED_MACS = None  # no MAC/pixel figure is in the sourced facts for any of these models


def _shapes(model: Any) -> Any:
    s = model.stride
    return jax.eval_shape(lambda k: model.init(k, (1, s, s, 3)), jax.random.PRNGKey(0))


def parameter_count(model: Any) -> int:
    return sum(math.prod(x.shape) for x in jax.tree.leaves(_shapes(model)))


def macs_per_pixel(model: Any, size: int = 256) -> float | None:
    shapes = _shapes(model)
    x = jax.ShapeDtypeStruct((1, size, size, 3), jnp.float32)
    cost = jax.jit(lambda p, x: model.apply(p, x, train=False)).lower(shapes, x).cost_analysis()
    cost = cost[0] if isinstance(cost, list) else cost
    flops = (cost or {}).get("flops")
    return None if flops is None else float(flops) / 2.0 / (size * size)


def random_params(model: Any, seed: int = 0) -> Any:
    """Params of the right shapes without compiling `model.init` (for timing only; see the docstring)."""
    from jlic.entropy import factorized
    from jlic.ops.gdn import GAMMA_INIT, nonneg_value_to_param

    rng = np.random.default_rng(seed)

    def fill(path: tuple, leaf: Any) -> Any:
        names = [str(getattr(k, "key", k)) for k in path]
        name, shape = names[-1], leaf.shape
        if names[0].startswith("entropy_bottleneck"):
            return None  # filled below
        if name == "beta":
            return np.asarray(nonneg_value_to_param(jnp.ones(shape)))
        if name == "gamma":
            return np.asarray(nonneg_value_to_param(GAMMA_INIT * jnp.eye(shape[0])))
        if name == "scale":
            return np.ones(shape, np.float32)
        if name == "bias" or len(shape) < 2:
            return np.zeros(shape, np.float32)
        fan_in = math.prod(shape[:-1])
        bound = 1.0 / math.sqrt(fan_in)
        return rng.uniform(-bound, bound, shape).astype(np.float32)

    shapes = _shapes(model)
    params = jax.tree_util.tree_map_with_path(fill, shapes)
    for k, v in shapes.items():
        if k.startswith("entropy_bottleneck"):
            c = v["quantiles"].shape[0]
            params[k] = factorized.init(jax.random.PRNGKey(seed), c, model.module.filters
                                        if hasattr(model.module, "filters") else (3, 3, 3, 3))
    return jax.tree.map(jnp.asarray, params)


def _image(name: str, size: tuple[int, int] | None = None) -> np.ndarray:
    from PIL import Image

    img = Image.open(KODAK / name).convert("RGB")
    if size is not None:
        img = img.resize(size[::-1], Image.BICUBIC)
    return np.asarray(img)


def time_coding(model: Any, params: Any, img: np.ndarray) -> dict[str, float]:
    """Encode and decode seconds (first run with compiles, then a warm run), real bytes."""
    from jlic.codec.codec import Codec

    c = Codec(model, params)
    out: dict[str, float] = {}
    for run in ("first", "warm"):
        t = time.perf_counter()
        data = c.compress(img)
        out[f"encode_s_{run}"] = time.perf_counter() - t
        t = time.perf_counter()
        dec = c.decompress(data)
        out[f"decode_s_{run}"] = time.perf_counter() - t
        assert dec.shape == img.shape
    out["bytes"] = len(data)
    return out


def main(argv: list[str] | None = None) -> int:
    from jlic.models import registry

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default=",".join(MODELS))
    p.add_argument("--image", default="kodim23.png")
    p.add_argument("--no-timing", action="store_true")
    p.add_argument("--no-scaling", action="store_true")
    p.add_argument("--scaling-only", action="store_true")
    p.add_argument("--no-record", action="store_true")
    a = p.parse_args(argv)
    record: dict[str, Any] = {"cpu": cpu_name(), "note": "shared 2-core machine, loaded by other jobs; "
                              "timings with random-init weights", "load_before": list(os.getloadavg()),
                              "models": {}}
    names = [] if a.scaling_only else [n for n in a.models.split(",") if n]
    for name in names:
        if name not in registry.names():
            print(f"{name}: not registered on this branch, skipped")
            record["models"][name] = "not registered"
            continue
        model = registry.get(name)
        row: dict[str, Any] = {"kwargs": dict(model.kwargs), "params": parameter_count(model),
                               "params_published": PUBLISHED_PARAMS.get(name),
                               "macs_per_pixel_256": macs_per_pixel(model), "macs_published": PUBLISHED_MACS}
        print(f"{name}: {row['params'] / 1e6:.2f} M params (published: {row['params_published']}), "
              f"{(row['macs_per_pixel_256'] or float('nan')) / 1e3:.1f} kMAC/pixel", flush=True)
        if not a.no_timing:
            row.update(time_coding(model, random_params(model), _image(a.image)))
            print(f"  {a.image}: encode {row['encode_s_warm']:.2f} s, decode {row['decode_s_warm']:.2f} s "
                  f"(warm; first {row['encode_s_first']:.1f} / {row['decode_s_first']:.1f} s)", flush=True)
        record["models"][name] = row
    if not a.no_scaling and "mlicpp" in registry.names():
        from jlic.codec.codec import Codec

        model = registry.get("mlicpp")
        c = Codec(model, random_params(model))
        scaling = {}
        for side in (512, 1024):
            img = _image(a.image, (side, side))
            data = c.compress(img)
            c.decompress(data)  # compiles
            t = time.perf_counter()
            c.decompress(data)
            scaling[side] = time.perf_counter() - t
            print(f"mlicpp decode {side}x{side}: {scaling[side]:.2f} s (warm)", flush=True)
        scaling["ratio_1024_over_512"] = scaling[1024] / scaling[512]
        print(f"ratio {scaling['ratio_1024_over_512']:.2f} (4 = linear in pixels, 16 = quadratic)")
        record["mlicpp_decode_scaling_s"] = scaling
    record["load_after"] = list(os.getloadavg())
    if not a.no_record:
        print("record:", append_record("sota", record))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
