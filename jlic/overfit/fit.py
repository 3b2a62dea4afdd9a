"""Fit one overfitted codec (Cool-chic, arXiv 2212.05458 / 2307.12706) to one image for one λ.

Loss `bpp + λ 255² MSE` (jlic's and CompressAI's λ convention; Cool-chic's own `MSE + λ' bpp` is
`λ' = 1 / (255² λ)`), MSE on [0, 1] pixels, rate from the ARM's Laplace model. Schedule (Cool-chic's recipe,
`cfg/enc/fast_10k.cfg` + the c3x preset): Adam at lr 1e-2 with cosine decay, soft-round temperature 0.3 -> 0.1
and Kumaraswamy noise parameter 2 -> 1 over the main phase; then a straight-through phase (hard rounding,
identity gradient) at a lower lr. After fitting, the network weights are quantized (`jlic.overfit.weights`).

`fit_image` is a pure function of its inputs and the PRNG seed; the loop only adds a progress bar.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jlic.models import coolchic
from jlic.overfit.quantize import anneal, soft_round_noisy
from jlic.quantize import round_ste

Array = jax.Array


class FitDivergedError(ValueError):
    """The fit's loss became NaN or infinite (nothing is written for it)."""


@dataclasses.dataclass(frozen=True)
class FitConfig:
    """Optimization settings of one fit."""

    iterations: int = 2000
    lr: float = 1e-2
    ste_fraction: float = 0.1  # share of the iterations in the final straight-through phase
    ste_lr: float = 1e-4
    temperature: tuple[float, float] = (0.3, 0.1)
    noise: tuple[float, float] = (2.0, 1.0)
    clip_norm: float = 1.0
    # Latents' learning rate relative to the networks': grid i gets `latent_lr_scale * latent_gain**i`. Adam
    # moves a parameter by about lr per step, so at lr 1e-2 a latent can travel ~lr x iterations at most; C3's
    # fixed gains 2^i and latent step 0.4 (arXiv 2312.02753, `configs/kodak.py`) amount to scale 2.5, gain 2.
    latent_lr_scale: float = 2.5
    latent_gain: float = 2.0
    seed: int = 0


# Fitting recipes that belong to a preset (`FitConfig` overrides): C3 clips gradients at 0.1.
PRESET_FIT: dict[str, dict[str, Any]] = {"c3": {"clip_norm": 0.1}}


@dataclasses.dataclass
class Fitted:
    """A fitted (not yet quantized) codec: float params, architecture, image size, fit log."""

    params: dict[str, Any]
    config: coolchic.CoolChicConfig
    height: int
    width: int
    lmbda: float
    log: dict[str, Any]


def quantized_latents(params: dict[str, Any], config: coolchic.CoolChicConfig, mode: str, key: Array | None,
                      temperature: Array | float = 0.1, noise: Array | float = 1.0) -> list[Array]:
    """Latents clipped to the coded range, quantized by `mode`: "soft" (noisy soft-round), "ste" or "round"."""
    out = []
    for i, g in enumerate(params["latents"]):
        g = jnp.clip(g, -config.latent_max, config.latent_max)
        if mode == "soft":
            g = soft_round_noisy(g, jax.random.fold_in(key, i), temperature, noise)
        elif mode == "ste":
            g = round_ste(g)
        else:
            g = jnp.round(g)
        out.append(g)
    return out


def loss_terms(params: dict[str, Any], x: Array, config: coolchic.CoolChicConfig, mode: str,
               key: Array | None = None, temperature: Array | float = 0.1, noise: Array | float = 1.0
               ) -> tuple[Array, Array]:
    """`(mse, latent bits)` of the codec on image `x` (H, W, 3) in [0, 1]."""
    h, w = x.shape[:2]
    latents = quantized_latents(params, config, mode, key, temperature, noise)
    x_hat = coolchic.decode_image_train(params, latents, h, w, config)
    mse = jnp.mean((x_hat - x) ** 2)
    return mse, coolchic.rate_bits_train(params["arm"], latents, config)


@functools.lru_cache(maxsize=16)
def make_step(config: coolchic.CoolChicConfig, fit: FitConfig, mode: str) -> tuple[Any, Callable]:
    """`(optimizer, step)`; `step(params, opt_state, x, lmbda, key, t, lr) -> (params, opt_state, metrics)`.

    Cached: every fit with the same architecture and schedule (any λ, any image of one size) reuses one
    compilation."""
    opt = optax.chain(optax.clip_by_global_norm(fit.clip_norm), optax.scale_by_adam())
    scale = {"latents": [fit.latent_lr_scale * fit.latent_gain**i for i in range(config.num_grids)],
             "arm": 1.0, "ups": 0.0 if config.fixed_upsampling else 1.0, "synth": 1.0}

    def loss_fn(params, x, lmbda, key, t):
        temp = anneal(*fit.temperature, t)
        noise = anneal(*fit.noise, t)
        mse, bits = loss_terms(params, x, config, mode, key, temp, noise)
        bpp = bits / (x.shape[0] * x.shape[1])
        return bpp + lmbda * 255.0**2 * mse, (mse, bpp)

    @jax.jit
    def step(params, opt_state, x, lmbda, key, t, lr):
        (loss, (mse, bpp)), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, x, lmbda, key, t)
        updates, opt_state = opt.update(grads, opt_state, params)
        per_grid = zip(params["latents"], scale["latents"], updates["latents"], strict=True)
        params = {
            "latents": [p - lr * s * u for p, s, u in per_grid],
            **{k: jax.tree.map(lambda p, u, k=k: p - lr * scale[k] * u, params[k], updates[k])
               for k in ("arm", "ups", "synth")}}
        return params, opt_state, {"loss": loss, "mse": mse, "bpp": bpp}

    return opt, step


def psnr(mse: float) -> float:
    return 10.0 * math.log10(1.0 / max(float(mse), 1e-12))


def fit_image(image: np.ndarray, lmbda: float, config: coolchic.CoolChicConfig | None = None,
              fit: FitConfig | None = None, progress: bool = False, desc: str = "fit") -> Fitted:
    """Fit latents and networks to a uint8 (H, W, 3) image for one λ (float params, before weight
    quantization)."""
    config = config or coolchic.CoolChicConfig()
    fit = fit or FitConfig()
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an (H, W, 3) uint8 image, got {image.dtype} {image.shape}")
    h, w = image.shape[:2]
    x = jnp.asarray(image, jnp.float32) / 255.0
    key = jax.random.key(fit.seed)
    params = coolchic.init_params(jax.random.fold_in(key, 0), config, h, w)
    n_ste = int(round(fit.iterations * fit.ste_fraction))
    n_main = fit.iterations - n_ste
    sched = dataclasses.replace(FitConfig(), temperature=fit.temperature, noise=fit.noise,
                                clip_norm=fit.clip_norm, latent_lr_scale=fit.latent_lr_scale,
                                latent_gain=fit.latent_gain)
    opt, soft_step = make_step(config, sched, "soft")  # compiled once per schedule, not per lr / seed / length
    _, ste_step = make_step(config, sched, "ste")
    opt_state = opt.init(params)
    lam = jnp.float32(lmbda)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=fit.iterations, desc=desc, leave=False, dynamic_ncols=True)
    t0 = time.perf_counter()
    history = []
    metrics: dict[str, Any] = {}
    for i in range(fit.iterations):
        if i < n_main:
            t = i / max(n_main - 1, 1)
            lr = fit.lr * 0.5 * (1.0 + math.cos(math.pi * t))
            params, opt_state, metrics = soft_step(params, opt_state, x, lam, jax.random.fold_in(key, i + 1),
                                                   jnp.float32(t), jnp.float32(lr))
        else:
            params, opt_state, metrics = ste_step(params, opt_state, x, lam, key, jnp.float32(1.0),
                                                  jnp.float32(fit.ste_lr))
        if bar is not None and (i % 25 == 0 or i == fit.iterations - 1):
            m = jax.device_get(metrics)
            bar.set_postfix(bpp=f"{float(m['bpp']):.3f}", psnr=f"{psnr(m['mse']):.2f}")
            bar.update(i + 1 - bar.n)
        if i % 100 == 0 or i == fit.iterations - 1:
            m = jax.device_get(metrics)
            if not np.isfinite(m["loss"]):  # checked where the loss is read anyway: no extra host sync
                if bar is not None:
                    bar.close()
                raise FitDivergedError(f"the fit diverged (loss {float(m['loss'])} at iteration {i}); "
                                       "try a lower learning rate or λ")
            history.append({"it": i, "bpp": float(m["bpp"]), "psnr": psnr(m["mse"]), "loss": float(m["loss"])})
    jax.block_until_ready(params)
    if bar is not None:
        bar.close()
    seconds = time.perf_counter() - t0
    log = {"iterations": fit.iterations, "fit_seconds": seconds, "history": history,
           "fit": dataclasses.asdict(fit)}
    return Fitted(jax.device_get(params), config, h, w, float(lmbda), log)
