"""Training one variable-rate model for a whole λ list (`sweep_mode="variable_rate"`).

Each example of a batch gets a rate level drawn uniformly from the trained levels (Cui et al. 2021, arXiv
2003.02012, train the gain vectors on the discrete levels and interpolate only at coding time) and its
distortion is weighted by that level's λ: the loss is ``mean_b(R_b + λ_b D_b)``, R in bits per pixel, D as
:mod:`jlic.train.loss` (``255² MSE`` or ``1 - MS-SSIM``). The step is :func:`jlic.train.step.make_train_step`
with this loss; its ``lmbda`` argument is the whole λ vector (one entry per level).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp

from jlic import quantize
from jlic.models.variable_rate import VariableRateModel, lambda_of_level
from jlic.train.loss import METRICS, bits_per_pixel

Array = jax.Array


def distortion_per_example(x_hat: Array, x: Array, metric: str) -> tuple[Array, dict[str, Array]]:
    """(distortion per example, batch-mean metrics) as the fixed-λ loss defines them."""
    mse = jnp.mean(jnp.square(x_hat - x), axis=(1, 2, 3))
    metrics = {"mse": jnp.mean(mse), "psnr": -10.0 * jnp.log10(jnp.maximum(jnp.mean(mse), 1e-10))}
    if metric == "mse":
        return 255.0**2 * mse, metrics
    if metric == "ms-ssim":
        from jlic.metrics.msssim import ms_ssim

        msssim = ms_ssim(jnp.clip(x_hat, 0.0, 1.0), x, data_range=1.0)
        metrics["ms_ssim"] = jnp.mean(msssim)
        return 1.0 - msssim, metrics
    raise ValueError(f"unknown distortion metric {metric!r}; expected one of {METRICS}")


def make_loss_fn(model: VariableRateModel, metric: str = "mse", aux: bool = True) -> Callable:
    """`loss_fn(params, batch, lambdas, rng, noise=None) -> (loss, metrics)` (the signature of
    :func:`jlic.train.step.make_loss_fn`): level ``l_b`` per example from ``rng``, loss
    ``mean_b(bpp_b + lambdas[l_b] D_b)`` plus the quantile (aux) loss if ``aux``."""

    def loss_fn(params, batch, lambdas, rng, noise=None):
        lambdas = jnp.reshape(jnp.asarray(lambdas, jnp.float32), (-1,))
        level_key, noise_key = jax.random.split(rng)
        idx = jax.random.randint(level_key, (batch.shape[0],), 0, lambdas.shape[0])
        with quantize.supplied_noise(noise) if noise is not None else contextlib.nullcontext():
            out = model.apply(params, batch, train=True, rng=noise_key, level=idx.astype(jnp.float32))
        bpp = bits_per_pixel(out.likelihoods, batch.shape[0] * batch.shape[1] * batch.shape[2])
        dist, metrics = distortion_per_example(out.x_hat, batch, metric)
        loss = bpp + jnp.mean(lambdas[idx] * dist)  # = mean_b(bpp_b + λ_b D_b): every example has H x W pixels
        metrics.update(bpp=bpp, loss=loss)
        if not aux:
            return loss, metrics
        metrics["aux_loss"] = model.aux_loss(params)
        return loss + metrics["aux_loss"], metrics

    return loss_fn


def eval_levels(levels: int, between: int = 1) -> list[float]:
    """Every trained level and ``between`` evenly spaced fractional levels between each neighbouring pair."""
    out = []
    for k in range(levels - 1):
        out += [k + j / (between + 1) for j in range(between + 1)]
    return [*out, float(levels - 1)]


def eval_lambdas(lambdas: Sequence[float], between: int = 1) -> dict[float, float]:
    """{λ: level} of :func:`eval_levels` (λ of a fractional level log-interpolated)."""
    lam = sorted(float(x) for x in lambdas)
    return {(lam[int(level)] if level == int(level) else lambda_of_level(level, lam)): level
            for level in eval_levels(len(lam), between)}
