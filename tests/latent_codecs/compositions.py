"""Every latent-codec composition the registered models (and ELIC) use, built with tiny generic networks.

The networks are initialised so that the predicted scales are about 3 (bias 3 on the scale channels, small
weights elsewhere) and the test latents are drawn with that spread: then almost no latent falls into the
coding tables' tails, and real bits must match -Σ log2 p closely. `COMPOSITIONS` maps a name to the
registered model(s) whose `setup` builds the same tree.
"""

from __future__ import annotations

from collections.abc import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jlic import latent_codecs as lc
from jlic.entropy import factorized
from jlic.latent_codecs.schedule import gather, lift
from jlic.ops.masked import MaskedConv

C = 8  # latent channels
Z = 4  # hyper-latent channels
K = 3  # mixture components
ELIC_GROUPS = (1, 1, 2, 4)  # uneven, as ELIC's (16, 16, 32, 64, 192)

COMPOSITIONS = {
    "factorized": "bmshj2018-factorized",
    "hyper-scale": "bmshj2018-hyperprior",
    "hyper-mean-scale": "mbt2018-mean",
    "raster-gaussian": "mbt2018, cheng2020-anchor, cheng2020-attn",
    "raster-mixture": "cheng2020-anchor/attn with likelihood='mixture'",
    "checkerboard-onepass": "he2021-checkerboard",
    "channel-slices-lrp": "minnen2020-channelwise, tcm, dcae (contexts and LRP of the side tensor and slices)",
    "elic-even": "elic2022 (groups of checkerboards, channel context from all previous groups)",
    "elic-odd": "elic2022 with MLIC++'s anchor parity",
    "schedule-ggm": "hpcm-base, hpcm-large (HPCM's 11-step schedule of generalized-Gaussian leaves with a "
                    "carried context, z with a learned prior)",
}


def _bias(out: int, scale: tuple[int, int] | None) -> Callable:
    def init(key, shape, dtype=jnp.float32):
        b = np.zeros(shape, np.float32)
        if scale is not None:
            b[scale[0]:scale[1]] = 3.0
        return jnp.asarray(b, dtype)
    return init


class Head(nn.Module):
    """A small conv whose output channels `scale[0]:scale[1]` start near 3 (predicted scales)."""

    features: int
    scale: tuple[int, int] | None = None
    kernel: int = 1

    @nn.compact
    def __call__(self, x):
        return nn.Conv(self.features, (self.kernel, self.kernel), padding="SAME",
                       kernel_init=nn.initializers.normal(0.05), bias_init=_bias(self.features, self.scale))(x)


class HyperS(nn.Module):
    features: int
    scale: tuple[int, int] | None

    @nn.compact
    def __call__(self, z):
        return nn.ConvTranspose(self.features, (3, 3), (2, 2), padding="SAME",
                                kernel_init=nn.initializers.normal(0.05),
                                bias_init=_bias(self.features, self.scale))(z)


class Harness(nn.Module):
    """`latent_codec` = composition `kind`; `__call__(y)` is its evaluation forward pass."""

    kind: str

    def setup(self):
        k = self.kind
        if k == "schedule-ggm":
            self.setup_schedule()
            return
        if k == "factorized":
            self.entropy_bottleneck = self.param("entropy_bottleneck", lambda key: factorized.init(key, C))
            self.latent_codec = lc.EntropyBottleneck(self.entropy_bottleneck)
            return
        self.entropy_bottleneck = self.param("entropy_bottleneck", lambda key: factorized.init(key, Z))
        self.h_a = nn.Conv(Z, (3, 3), (2, 2), padding="SAME", kernel_init=nn.initializers.normal(0.05))
        if k == "hyper-scale":
            self.h_s = HyperS(C, (0, C))
            y = lc.GaussianConditional(means=False)
        elif k == "hyper-mean-scale":
            self.h_s = HyperS(2 * C, (0, C))
            y = lc.GaussianConditional()
        elif k.startswith("raster"):
            self.h_s = HyperS(2 * C, None)
            mix = k == "raster-mixture"
            self.context_prediction = MaskedConv(C, 2 * C, 5, "A")
            self.entropy_parameters = Head(3 * K * C if mix else 2 * C, (K * C, 2 * K * C) if mix else (0, C))
            leaf = lc.GaussianMixtureConditional(K) if mix else lc.GaussianConditional()
            y = lc.RasterScan(leaf, self.context_prediction, self.entropy_parameters)
        elif k == "checkerboard-onepass":
            self.h_s = HyperS(2 * C, None)
            self.context_prediction = MaskedConv(C, 2 * C, 5, "checkerboard")
            self.entropy_parameters = Head(2 * C, (0, C))
            y = lc.Checkerboard(lc.GaussianConditional(), self.context_prediction, self.entropy_parameters,
                                context_first=False, forward_method="onepass")
        elif k == "channel-slices-lrp":
            self.h_s = HyperS(2 * C, None)
            self.slice_nets = [Head(C // 2, (0, C // 4), 3) for _ in range(4)]
            self.lrp_nets = [Head(C // 4, None, 3) for _ in range(4)]
            y = lc.ChannelGroups(
                groups=(C // 4,) * 4, codecs=(lc.GaussianConditional(quantizer="ste"),) * 4,
                channel_context=[lambda prev, side, i=i: self.slice_nets[i](jnp.concatenate([side, prev], -1))
                                 for i in range(4)],
                lrp=[lambda prev, side, y_hat, i=i: 0.5 * jnp.tanh(self.lrp_nets[i](
                    jnp.concatenate([side, prev, y_hat], -1))) for i in range(4)],
                context_takes_side=True)
        elif k.startswith("elic"):
            g = ELIC_GROUPS
            self.h_s = HyperS(2 * C, None)
            self.channel_context = [Head(2 * n, None, 3) for n in g[1:]]
            self.spatial_context = [MaskedConv(n, 2 * n, 5, "checkerboard") for n in g]
            self.param_aggregation = [Head(2 * n, (0, n)) for n in g]
            parity = "odd" if k == "elic-odd" else "even"
            y = lc.ChannelGroups(
                groups=g,
                codecs=tuple(lc.Checkerboard(lc.GaussianConditional(quantizer="ste"), self.spatial_context[i],
                                             self.param_aggregation[i], anchor_parity=parity)
                             for i in range(len(g))),
                channel_context=(None, *self.channel_context))
        else:
            raise ValueError(k)
        self.latent_codec = lc.Hyperprior(y=y, z=lc.EntropyBottleneck(self.entropy_bottleneck),
                                          h_a=self.h_a, h_s=self.h_s)

    def setup_schedule(self):
        """HPCM's layout; each step's (scales, means) from the context carried from the previous step (lifted
        to a new level plus the hyper parameters there) and the level decoded so far."""
        self.h_a = nn.Conv(Z, (3, 3), (2, 2), padding="SAME", kernel_init=nn.initializers.normal(0.05))
        self.h_s = HyperS(2 * C, (0, C))
        self.step_nets = [Head(2 * C, (0, C), 3) for _ in range(11)]
        self.z_prior = self.param("z_prior", lambda key: jnp.concatenate([jnp.full(Z, 2.0), jnp.zeros(Z)]))

        def step_params(k, layout, y_hat, state, side):
            level = layout.steps[k][0]
            hyper = jnp.concatenate([gather(a, layout.levels[level])
                                     for a in jnp.split(side, 2, axis=-1)], -1)
            if state is None:
                ctx = hyper
            elif layout.steps[k - 1][0] != level:
                ctx = jnp.concatenate([lift(layout, level, a) for a in jnp.split(state, 2, -1)], -1)
                ctx = 0.5 * ctx + hyper
            else:
                ctx = state
            params = self.step_nets[k](0.1 * jnp.concatenate([ctx, y_hat], -1))  # scales stay near 3
            return params, params

        y = lc.Schedule(codecs=tuple(lc.GGMConditional() for _ in range(11)), step_params=step_params)
        self.latent_codec = lc.Hyperprior(y=y, z=lc.LearnedPrior(lc.GGMConditional(), self.z_prior),
                                          h_a=self.h_a, h_s=self.h_s)

    def __call__(self, y):
        return self.latent_codec.forward(y, None, False, None)

    def train_forward(self, y):
        return self.latent_codec.forward(y, None, True, self.make_rng("noise"))

    def teacher_forced(self, y, y_hat):
        """Raster scan: (y rounded around the means its coded context gives, likelihoods of that)."""
        hp = self.latent_codec
        z_out = hp.z.forward(hp.h_a(y), None, False, None)
        rs = hp.y
        params = rs.full_params(y_hat, hp.h_s(z_out.y_hat))
        ref = jnp.round(y - rs.y.offset(params)) + rs.y.offset(params)
        return ref, {"y": rs.y.likelihood(ref, params), "z": z_out.likelihoods["y"]}


def latent(seed: int = 0, shape: tuple[int, ...] = (1, 8, 12, C)) -> np.ndarray:
    """Test latents with the spread the harness networks predict (scale about 3)."""
    return (np.random.default_rng(seed).standard_normal(shape) * 3.0).astype(np.float32)


def init(kind: str) -> tuple[Harness, dict]:
    h = Harness(kind)
    params = jax.jit(h.init)(jax.random.PRNGKey(0), jnp.zeros((1, 8, 12, C)))["params"]
    return h, params
