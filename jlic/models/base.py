"""The model interface shared by every registered model: pure `init`/`apply`, transforms, latent codec.

A model is a flax linen module (:class:`LatentCodecModel`: transforms `g_a`, `g_s` and one latent-codec
composition `latent_codec` from :mod:`jlic.latent_codecs`, built in `setup`) wrapped with its registry
name and constructor arguments, so that a checkpoint (`model.json` + params) rebuilds it exactly. Images
are NHWC float32 in [0, 1]; inputs of any size are padded to a multiple of `stride` (edge replication)
and the reconstruction is cropped back.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from typing import Any, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp

from jlic.entropy import factorized
from jlic.latent_codecs import (
    CodingContext,
    ConditionalLeaf,
    EntropyBottleneck,
    Hyperprior,
    LatentCodec,
    RasterScan,
)

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


class LatentCodecModel(nn.Module):
    """Base module of the registered models: `setup` defines `g_a`, `g_s` and `latent_codec`.

    `__call__(x, train)` is `g_s(latent_codec.forward(g_a(x)))` with the likelihoods of every latent;
    the other methods are the parts `CompressionModel` exposes (hyperprior and context accessors look
    up the composition, so they exist only where it has those parts).
    """

    def __call__(self, x: Array, train: bool) -> tuple[Array, dict[str, Array]]:
        key = self.make_rng("noise") if train else None
        out = self.latent_codec.forward(self.g_a(x), None, train, key)
        return self.g_s(out.y_hat), out.likelihoods

    def analysis(self, x: Array) -> Array:
        return self.g_a(x)

    def synthesis(self, y_hat: Array) -> Array:
        return self.g_s(y_hat)

    def _hyperprior(self) -> Hyperprior:
        if not isinstance(self.latent_codec, Hyperprior):
            raise AttributeError(f"{type(self).__name__} has no hyperprior")
        return self.latent_codec

    def hyper_analysis(self, y: Array) -> Array:
        return self._hyperprior().h_a(y)

    def hyper_params(self, z_hat: Array) -> Array:
        """`h_s(z_hat)`: the side tensor the y codec gets."""
        return self._hyperprior().h_s(z_hat)

    def hyper_synthesis(self, z_hat: Array) -> tuple[Array, Array | None]:
        """(scales, means or None) of a Gaussian y codec from `h_s(z_hat)` alone."""
        hp = self._hyperprior()
        side = hp.h_s(z_hat)
        if isinstance(hp.y, ConditionalLeaf) and hasattr(hp.y, "split"):
            scales, means = hp.y.split(side)
            return scales, (None if isinstance(means, float) else means)
        scales, means = jnp.split(side, 2, axis=-1)
        return scales, means

    def context_full(self, y_hat: Array, hyper: Array) -> tuple[Array, Array]:
        """(scales, means) at every position of `y_hat` from its causal context (raster-scan models)."""
        rs = self._hyperprior().y
        if not isinstance(rs, RasterScan):
            raise AttributeError(f"{type(self).__name__} has no raster-scan context")
        return rs.y.split(rs.full_params(y_hat, hyper))


# Above this many parameter leaves a fresh init runs eagerly: XLA:CPU's compile time of the init program
# (a threefry key derivation and draw per leaf) grows faster than linearly with the leaves, while eager
# dispatch pays a roughly fixed cost per distinct op. Measured at (1, 64, 64, 3) on the 2-core AMD EPYC
# (`python -m benchmarks.compile --parts init`, machine shared): mbt2018-mean N=32 (55 leaves) 4.8 s jitted
# vs 17.3 s eager (load 3); ELIC-CPU (367 leaves) 44.0 s vs 25.5 s (idle), 430.9 s vs 178.7 s (load 7-9).
EAGER_INIT_LEAVES = 200


def jit_init(num_leaves: int) -> bool:
    """Whether a fresh init of a model with `num_leaves` parameter leaves is compiled as one program."""
    return num_leaves <= EAGER_INIT_LEAVES


@dataclasses.dataclass(frozen=True, eq=False)
class CompressionModel:
    """A registered model: `name` and `kwargs` rebuild it with `jlic.models.registry.get(name, **kwargs)`."""

    name: str
    kwargs: Mapping[str, Any]
    module: nn.Module
    stride: int

    def init(self, key: Array, shape: tuple[int, ...] = (1, 256, 256, 3), jit: bool | None = None) -> Params:
        """Fresh parameters (a plain pytree) for inputs of `shape`. `jit`: as one compiled program (True),
        flax's ops dispatched one by one (False; the same values, bit for bit), or by `jit_init` on the
        number of parameter leaves (None)."""
        def init(key):
            init_key, noise_key = jax.random.split(key)
            x = jnp.zeros(shape, jnp.float32)
            return self.module.init({"params": init_key, "noise": noise_key}, x, True)["params"]

        if isinstance(key, jax.core.Tracer):  # inside a transformation: part of the caller's program
            return init(key)
        if jit is None:
            traced = jax.jit(init).trace(key)
            if jit_init(len(jax.tree.leaves(traced.out_info))):
                return traced.lower().compile()(key)
            return init(key)
        return jax.jit(init)(key) if jit else init(key)

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

    def hyper_params(self, params: Params, z_hat: Array) -> Array:
        """`h_s(z_hat)` as the y codec gets it (one tensor)."""
        return self._method("hyper_params", params, z_hat)

    def context_full(self, params: Params, y_hat: Array, hyper: Array) -> tuple[Array, Array]:
        """(scales, means) of a raster-scan context model at every position of `y_hat`."""
        return self._method("context_full", params, y_hat, hyper)

    def latent_codec(self, params: Params) -> LatentCodec:
        """The root latent codec, bound to `params` (for its structure; coding goes through a context)."""
        return self.module.bind({"params": params}).latent_codec

    def coding_context(self, params: Params, tables: Any, coders: Mapping[str, Any], jit: bool = True,
                       batch: int | None = None) -> CodingContext:
        """What the latent codecs need to code with `params` (see :class:`jlic.latent_codecs.CodingContext`)."""
        return CodingContext(self.module, params, tables, coders, jit=jit, batch=batch, cache=self._coding_fns)

    @functools.cached_property
    def _coding_fns(self) -> dict:
        """Compiled coding steps of this model, shared by all its coding contexts (functions of params)."""
        return {}


def factorized_hyperprior(module: nn.Module, y: LatentCodec, h_a: Any, h_s: Any, z_quantizer: str = "noise",
                          **options: Any) -> Hyperprior:
    """The hyperprior composition most models share (Ballé et al. 2018, arXiv 1802.01436): `y` coded with
    parameters from `h_s(z_hat)`, and `z = h_a(y)` under a factorized prior whose parameters are `module`'s
    `"entropy_bottleneck"` (`module.N` channels, `module.filters`). Call it from `setup`; `options` go to
    :class:`Hyperprior` (e.g. `keyed=True`)."""
    eb = module.param("entropy_bottleneck", lambda key: factorized.init(key, module.N, module.filters))
    return Hyperprior(y=y, z=EntropyBottleneck(eb, quantizer=z_quantizer), h_a=h_a, h_s=h_s, **options)
