"""Rate-distortion losses: `R + λ·255²·MSE` and `R + λ·(1 - MS-SSIM)`, R in bits per pixel.

Ballé et al. 2017, arXiv 1611.01704; the λ scaling follows CompressAI's zoo, so its λ per quality apply.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jlic.models.base import ModelOutput

Array = jax.Array

METRICS = ("mse", "ms-ssim")


def bits(likelihoods: dict[str, Array]) -> dict[str, Array]:
    """Estimated bits per latent, `-sum log2 p`."""
    return {k: -jnp.sum(jnp.log2(v)) for k, v in likelihoods.items()}


def bits_per_pixel(likelihoods: dict[str, Array], num_pixels: int) -> Array:
    """Total estimated bits divided by the number of pixels (batch × H × W of the unpadded input)."""
    return sum(bits(likelihoods).values(), jnp.zeros((), jnp.float32)) / num_pixels


def rate_distortion(out: ModelOutput, x: Array, lmbda: Array | float, metric: str = "mse"
                    ) -> tuple[Array, dict[str, Array]]:
    """The training loss and its parts (`loss`, `bpp`, `mse`, `psnr`, and `ms_ssim` for that metric)."""
    num_pixels = x.shape[0] * x.shape[1] * x.shape[2]
    bpp = bits_per_pixel(out.likelihoods, num_pixels)
    mse = jnp.mean(jnp.square(out.x_hat - x))
    metrics = {"bpp": bpp, "mse": mse, "psnr": -10.0 * jnp.log10(jnp.maximum(mse, 1e-10))}
    if metric == "mse":
        distortion = 255.0**2 * mse
    elif metric == "ms-ssim":
        from jlic.metrics.msssim import ms_ssim

        msssim = jnp.mean(ms_ssim(jnp.clip(out.x_hat, 0.0, 1.0), x, data_range=1.0))
        metrics["ms_ssim"] = msssim
        distortion = 1.0 - msssim
    else:
        raise ValueError(f"unknown distortion metric {metric!r}; expected one of {METRICS}")
    loss = bpp + lmbda * distortion
    metrics["loss"] = loss
    return loss, metrics
