"""The model interface shared by every registered model: pure `init`/`apply` plus coding hooks.

A model is a flax linen module wrapped with its registry name and constructor arguments, so that a
checkpoint (`model.json` + params) rebuilds it exactly. Images are NHWC float32 in [0, 1]; inputs of any
size are padded to a multiple of `stride` (edge replication) and the reconstruction is cropped back.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp

from jlic.entropy import factorized

Array = jax.Array
Params = Any


class ModelOutput(NamedTuple):
    """Reconstruction (cropped to the input size) and per-latent likelihoods (on padded latents)."""

    x_hat: Array
    likelihoods: dict[str, Array]


def pad_amounts(height: int, width: int, multiple: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """Padding (top, bottom), (left, right) that makes H and W multiples of `multiple`, centred."""
    ph = -height % multiple
    pw = -width % multiple
    return (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2)


PADDINGS = ("edge", "zeros")  # "zeros": CompressAI's eval_model convention (F.pad with 0, centred)


def pad_image(x: Array, multiple: int, mode: str = "edge"
              ) -> tuple[Array, tuple[tuple[int, int], tuple[int, int]]]:
    """Pad NHWC `x` so H and W are multiples of `multiple`, centred, by edge replication or `mode="zeros"`."""
    if mode not in PADDINGS:
        raise ValueError(f"padding must be one of {PADDINGS}, not {mode!r}")
    pads = pad_amounts(x.shape[1], x.shape[2], multiple)
    if pads == ((0, 0), (0, 0)):
        return x, pads
    return jnp.pad(x, ((0, 0), pads[0], pads[1], (0, 0)), mode="edge" if mode == "edge" else "constant"), pads


def crop_image(x: Array, pads: tuple[tuple[int, int], tuple[int, int]]) -> Array:
    """Undo `pad_image`."""
    (top, bottom), (left, right) = pads
    return x[:, top: x.shape[1] - bottom, left: x.shape[2] - right, :]


@dataclasses.dataclass(frozen=True, eq=False)
class CompressionModel:
    """A registered model: `name` and `kwargs` rebuild it with `jlic.models.registry.get(name, **kwargs)`."""

    name: str
    kwargs: Mapping[str, Any]
    module: nn.Module
    stride: int

    def init(self, key: Array, shape: tuple[int, ...] = (1, 256, 256, 3)) -> Params:
        """Fresh parameters (a plain pytree) for inputs of `shape`."""
        def init(key):
            init_key, noise_key = jax.random.split(key)
            x = jnp.zeros(shape, jnp.float32)
            return self.module.init({"params": init_key, "noise": noise_key}, x, True)["params"]

        return jax.jit(init)(key)  # one compiled program instead of hundreds of eagerly dispatched ops

    def apply(self, params: Params, x: Array, train: bool = False, rng: Array | None = None,
              padding: str = "edge") -> ModelOutput:
        """Forward pass: noisy relaxation when `train` (needs `rng`), hard rounding otherwise; `padding`
        as `pad_image`."""
        if train and rng is None:
            raise ValueError("apply(train=True) needs an rng key for quantization noise")
        xp, pads = pad_image(x, self.stride, padding)
        rngs = {"noise": rng} if rng is not None else {}
        x_hat, likelihoods = self.module.apply({"params": params}, xp, train, rngs=rngs)
        return ModelOutput(crop_image(x_hat, pads), likelihoods)

    def aux_loss(self, params: Params) -> Array:
        """Quantile loss of every factorized entropy model (only the `quantiles` leaves get its gradient)."""
        losses = [factorized.quantile_loss(v) for k, v in params.items() if k.startswith("entropy_bottleneck")]
        return sum(losses, jnp.zeros((), jnp.float32))

    def _method(self, name: str, params: Params, *args: Any) -> Any:
        return self.module.apply({"params": params}, *args, method=name)

    def analysis(self, params: Params, x: Array) -> Array:
        """`g_a`: image (padded to `stride`) -> latent y."""
        return self._method("analysis", params, x)

    def synthesis(self, params: Params, y_hat: Array) -> Array:
        """`g_s`: quantized latent -> reconstruction (not clipped)."""
        return self._method("synthesis", params, y_hat)

    def hyper_analysis(self, params: Params, y: Array) -> Array:
        """`h_a`: latent y -> hyper-latent z."""
        return self._method("hyper_analysis", params, y)

    def hyper_synthesis(self, params: Params, z_hat: Array) -> tuple[Array, Array | None]:
        """`h_s`: quantized hyper-latent -> (scales, means or None)."""
        return self._method("hyper_synthesis", params, z_hat)
