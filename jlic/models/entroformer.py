"""Qian, Lin, Sun, Tan, Jin 2022, "Entroformer: A transformer-based entropy model for learned image
compression", ICLR 2022, arXiv 2202.05492: `entroformer` (the parallel, bidirectional variant).

Sizes and orders of the official code (damo-cv/entroformer, `--na bidirectional`; facts in
../shared/reference/sota-facts.md §3):

- transforms: Ballé'18 g_a / g_s, four 5x5 stride-2 convs with GDN / IGDN, N=192 filters, M=384 latent
  channels (the official code maps images to [-1, 1]; here [0, 1] as every jlic model: an exact
  reparameterisation of the first conv and the last deconv);
- context model: a transformer of width ``dim=384``, ``depth=6`` blocks, 6 heads of 64, MLP ratio 4
  (LeakyReLU 0.2), pre-LayerNorm; token embedding Dense(M -> dim); diamond relative positions (table 7x7,
  ``|dv| + |dh| <= 3`` own vectors, farther offsets one shared vector, contextual ``q . r``), one table for
  all blocks; top-k attention (k=32 at inference, k uniform on [16, 64) in training from an explicit key);
- parallel bidirectional decoding: checkerboard with anchors at (i + j) odd; anchors are coded from the
  hyperprior alone (their context is zeroed), then every non-anchor attends to all decoded anchors (keys:
  anchors and itself; non-anchor inputs are zero);
- hyperprior: transformers too (`TransHyperScale`, scale 2): h_a = Dense(M -> dim), blocks at y's
  resolution, 3x3 stride-2 conv, blocks, 3x3 stride-2 conv, blocks, LayerNorm + Dense(dim -> N); h_s =
  Dense(N -> dim), blocks, sub-pixel conv x2, blocks, sub-pixel conv x2, blocks (output width dim); one
  block per stage (``depth // 2 // 3``), tables 7, 5, 5 from fine to coarse, top-k ``k // 2**stage``
  (at least 2);
- parameter network: 1x1 conv 2*dim -> dim*4, LeakyReLU 0.2, 1x1 conv -> 2M on ``concat(h_s, context)``;
  a single Gaussian (the official ``K=1``, ``num_parameter=2``) through jlic's `GaussianConditional`,
  output order (scales, means); z: a factorized entropy bottleneck.

Training as the official code: the context sees the noisy y (one pass, ``forward_method="onepass"``), g_s
gets ``round(y)`` with a straight-through gradient; z is noisy. Pre-training with ``token_mask_ratio=0.5``
(official ``pretrain.sh``) draws a random anchor set per step instead of the checkerboard
(`TokenMaskCheckerboard`). Coding (jlic's convention): symbols are
``round(y - mean)``, two passes of one compiled function each.
"""

from __future__ import annotations

from dataclasses import dataclass

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jlic import quantize
from jlic.latent_codecs import Checkerboard, GaussianConditional, anchor_mask
from jlic.latent_codecs.base import LatentOut
from jlic.layers.topk import draw_k, train_k_range
from jlic.layers.transformer import Transformer
from jlic.models.base import LatentCodecModel, factorized_hyperprior
from jlic.models.bmshj2018 import AnalysisGDN, SynthesisGDN
from jlic.models.registry import register
from jlic.ops.conv import Conv, SubpelConv

Array = jax.Array

ANCHOR_PARITY = "odd"  # the official `mask_checkboard`: anchors (decoded first) where (i + j) is odd


def hyper_position_nums(num: int, stages: int) -> tuple[int, ...]:
    """Relative position table sizes of the hyperprior stages, finest first: each stage half the previous
    one, made odd, at least 5 (official `TransHyperScale`): 7 -> (7, 5, 5)."""
    out = [num]
    for _ in range(stages - 1):
        nxt = out[-1] // 2
        out.append(max(nxt if nxt % 2 else nxt + 1, 5))
    return tuple(out)


def stage_k(k: Array | int | None, k_max: int | None, stage: int) -> tuple[Array | int | None, int | None]:
    """Top-k of hyperprior stage ``stage`` (0 = finest): ``k // 2**stage``, at least 2 (official)."""
    if k is None:
        return None, None
    div = 2 ** stage
    k_s = max(2, k // div) if isinstance(k, int) else jnp.maximum(2, k // div)
    return k_s, (None if k_max is None else max(2, k_max // div))


def _k(key: Array | None, topk: int | None) -> tuple[Array | int | None, int | None]:
    """(k, static bound): fixed ``topk`` without a key (coding, evaluation), random in training."""
    if topk is None:
        return None, None
    if key is None:
        return topk, None
    return draw_k(key, topk), train_k_range(topk)[1] - 1


class _Widths(nn.Module):
    dim: int
    heads: int
    dim_head: int
    mlp_ratio: int

    def transformer(self, depth: int, position_num: int, name: str) -> Transformer:
        return Transformer(self.dim, self.heads, self.dim_head, depth, self.mlp_ratio, position_num, name=name)


class _HyperStages(_Widths):
    """The hyperprior's transformer stages: ``blocks`` per stage, ``scale + 1`` stages (0 = y's size)."""

    blocks: int = 1
    scale: int = 2
    position_num: int = 7
    topk: int | None = 32

    def stage(self, x: Array, s: int, key: Array | None) -> Array:
        k, k_max = _k(key, self.topk)
        num = hyper_position_nums(self.position_num, self.scale + 1)[s]
        return self.transformer(self.blocks, num, f"stage_{s}")(x, None, *stage_k(k, k_max, s))


class HyperAnalysisTransformer(_HyperStages):
    """h_a: Dense(M -> dim), (blocks, 3x3 stride-2 conv) x scale, blocks, LayerNorm + Dense(dim -> N)."""

    out: int = 192

    @nn.compact
    def __call__(self, y: Array, key: Array | None = None) -> Array:
        x = nn.Dense(self.dim, name="embed")(y)
        for s in range(self.scale + 1):
            x = self.stage(x, s, key)
            if s < self.scale:
                x = Conv(self.dim, 3, 2, name=f"down_{s}")(x)
        return nn.Dense(self.out, name="head")(nn.LayerNorm(epsilon=1e-5, name="head_norm")(x))


class HyperSynthesisTransformer(_HyperStages):
    """h_s: Dense(N -> dim), (blocks, sub-pixel conv x2) x scale, blocks; output width dim."""

    @nn.compact
    def __call__(self, z_hat: Array, key: Array | None = None) -> Array:
        x = nn.Dense(self.dim, name="embed")(z_hat)
        for s in range(self.scale, -1, -1):  # coarse to fine: stage s works at 1 / 2**s of y's size
            x = self.stage(x, s, key)
            if s:
                x = SubpelConv(self.dim, 2, 3, name=f"up_{s}")(x)
        return x


def context_keys(height: int, width: int, parity: str = ANCHOR_PARITY) -> np.ndarray:
    """(H*W, H*W) bool: keys each query may attend to in the bidirectional context: anchors and itself."""
    return keys_of(anchor_mask(height, width, parity))


def keys_of(visible: np.ndarray | Array) -> np.ndarray | Array:
    """(H*W, H*W) bool of an (H, W) map of the tokens the context sees: those tokens and the query itself
    (the official ``mask | eye``)."""
    flat = visible.reshape(-1)
    xp = np if isinstance(visible, np.ndarray) else jnp
    return flat[None, :] | xp.eye(flat.shape[0], dtype=bool)


def token_visible(key: Array, height: int, width: int, ratio: float) -> Array:
    """(H, W) bool: the tokens one step of token-mask pre-training shows the context, each kept with
    probability ``1 - ratio`` (the official ``uniform(0, 1) > mask_ratio``, one draw per step for the whole
    batch); the others are masked: their input is zero and they are predicted from the shown ones."""
    return jax.random.uniform(key, (height, width)) > ratio


class ContextTransformer(_Widths):
    """Bidirectional context: Dense(M -> dim) on the anchor-masked y_hat, ``depth`` blocks whose queries
    attend to the anchors (and themselves), top-k; output width dim (the codec zeroes it at anchors).
    ``visible`` (H, W) replaces the anchors by another set of shown tokens (token-mask pre-training)."""

    depth: int = 6
    position_num: int = 7
    topk: int | None = 32

    @nn.compact
    def __call__(self, y_masked: Array, key: Array | None = None, visible: Array | None = None) -> Array:
        k, k_max = _k(key, self.topk)
        h, w = y_masked.shape[1:3]
        x = nn.Dense(self.dim, name="embed")(y_masked)
        allowed = jnp.asarray(context_keys(h, w) if visible is None else keys_of(visible))
        return self.transformer(self.depth, self.position_num, "transformer")(x, allowed, k, k_max)


@dataclass(frozen=True, eq=False)
class TokenMaskCheckerboard(Checkerboard):
    """The checkerboard codec with Entroformer's token-mask pre-training (official ``--mask_ratio``,
    `TransDecoder2`'s random scan mode): in training with a key and ``token_mask_ratio > 0``, the anchors
    of the step are a random token set (`token_visible`) instead of the checkerboard: the context sees
    only their noisy values (the masked tokens' input is zero, not a learned token), every masked token is
    predicted from them, and the shown tokens get zero context, as anchors do; the rate loss is unchanged
    (all tokens, one pass). Evaluation and coding (no key, or ``train=False``) are the checkerboard's."""

    token_mask_ratio: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0.0 <= self.token_mask_ratio < 1.0:
            raise ValueError(f"token_mask_ratio must be in [0, 1), got {self.token_mask_ratio!r}")

    def visible_params(self, y_hat: Array, side: Array, visible: Array, key: Array | None = None) -> Array:
        """Parameters everywhere given the ``visible`` (H, W) tokens of ``y_hat``: those from ``side`` alone,
        the others also from the visible values."""
        vis = visible[None, :, :, None].astype(y_hat.dtype)
        ctx = self.context_prediction(y_hat * vis, key, visible) * (1.0 - vis)
        return self.entropy_parameters(jnp.concatenate([ctx, side] if self.context_first else [side, ctx], -1))

    def forward(self, y, side, train, key):
        if not (train and key is not None and self.token_mask_ratio > 0):
            return super().forward(y, side, train, key)
        if self.forward_method != "onepass" or not self.keyed:
            raise ValueError("token masking needs forward_method='onepass' and keyed=True")
        key, kc = jax.random.split(key)  # as the checkerboard: noise key, context key
        kc, km = jax.random.split(kc)
        visible = token_visible(km, y.shape[1], y.shape[2], self.token_mask_ratio)
        y_lik = quantize.noise(y, key)
        y_dec = y_lik if self.quantizer == "noise" else quantize.round_ste(y)
        return LatentOut(y_dec, {"y": self.y.likelihood(y_lik, self.visible_params(y_lik, side, visible, kc))})


class ParameterNetwork(nn.Module):
    """1x1 conv (-> hidden), LeakyReLU 0.2, 1x1 conv (-> 2M: scales, means)."""

    hidden: int
    out: int

    @nn.compact
    def __call__(self, x: Array) -> Array:
        h = nn.leaky_relu(Conv(self.hidden, 1, 1, name="layer_0")(x), 0.2)
        return Conv(self.out, 1, 1, name="layer_2")(h)


# ----------------------------------------------------------------------------------------------- the model


class Entroformer(LatentCodecModel):
    """Entroformer: g_a / g_s above, and one latent-codec composition (no coding code of its own):

    hyperprior(y = checkerboard(Gaussian conditional, context transformer, parameter network; anchors odd,
    merge ``concat(h_s, ctx)``, one-pass training with straight-through rounding for g_s), z = entropy
    bottleneck, transformer h_a / h_s), keyed: the random training top-k comes from the noise key.

    Args:
      N: transform filters and hyper-latent channels (192); M: latent channels (384).
      dim (default M: 384 = M in the paper), depth, heads, dim_head (default dim // heads, at least 1),
        mlp_ratio: the context transformer (and the hyperprior's width).
      position_num: relative position table side (7: diamond radius 3).
      topk: top-k at inference (32; training draws from [topk // 2, 2 topk)); ``None``: no top-k.
      hyper_scale: stride-2 stages of the hyperprior (2); hyper_blocks: blocks per hyperprior stage
        (default ``depth // 2 // (hyper_scale + 1)``, 1 in the paper's setting).
      token_mask_ratio: training only: the official pre-training's random token mask (0.5 in
        ``pretrain.sh``; 0: the checkerboard, as the fine-tuning and the parallel model; see
        `TokenMaskCheckerboard`). No parameter depends on it; evaluation and coding ignore it.
    """

    N: int = 192
    M: int = 384
    dim: int | None = None
    depth: int = 6
    heads: int = 6
    dim_head: int | None = None
    mlp_ratio: int = 4
    position_num: int = 7
    topk: int | None = 32
    hyper_scale: int = 2
    hyper_blocks: int | None = None
    filters: tuple[int, ...] = (3, 3, 3, 3)
    token_mask_ratio: float = 0.0

    def width(self) -> int:
        return self.M if self.dim is None else self.dim

    def widths(self) -> dict:
        dim = self.width()  # heads * dim_head need not be dim (the official code: 6 x 64 = 384 by choice)
        return {"dim": dim, "heads": self.heads, "mlp_ratio": self.mlp_ratio,
                "dim_head": max(1, dim // self.heads) if self.dim_head is None else self.dim_head}

    def setup(self):
        w = self.widths()
        blocks = self.depth // 2 // (self.hyper_scale + 1) if self.hyper_blocks is None else self.hyper_blocks
        hyper = {"blocks": blocks, "scale": self.hyper_scale, "position_num": self.position_num,
                 "topk": self.topk}
        self.g_a = AnalysisGDN(self.N, self.M)
        self.g_s = SynthesisGDN(self.N)
        self.h_a = HyperAnalysisTransformer(**w, out=self.N, **hyper)
        self.h_s = HyperSynthesisTransformer(**w, **hyper)
        self.context_prediction = ContextTransformer(**w, depth=self.depth, position_num=self.position_num,
                                                     topk=self.topk)
        self.entropy_parameters = ParameterNetwork(self.width() * self.mlp_ratio, 2 * self.M)
        y = TokenMaskCheckerboard(GaussianConditional(), self.context_prediction, self.entropy_parameters,
                                  anchor_parity=ANCHOR_PARITY, context_first=False, forward_method="onepass",
                                  quantizer="ste", keyed=True, token_mask_ratio=self.token_mask_ratio)
        self.latent_codec = factorized_hyperprior(self, y, self.h_a, self.h_s, keyed=True)


register("entroformer", Entroformer, {q: {"N": 192, "M": 384} for q in range(1, 9)}, stride=64)
