"""Hyperprior: y coded given ``h_s(z_hat)``, with z = ``h_a(y)`` coded first by its own codec.

Ballé et al. 2018, "Variational image compression with a scale hyperprior", arXiv 1802.01436. The
encoder codes z, reconstructs ``z_hat`` from the symbols exactly as the decoder will, and only then runs
``h_s``: both ends feed the same ``z_hat`` to the same compiled function.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from jlic.latent_codecs.base import LatentCodec, LatentOut, split_key

Array = jax.Array


@dataclass(frozen=True, eq=False)
class Hyperprior(LatentCodec):
    """``y`` codec given ``h_s(z_hat)``; ``z`` codec (usually an entropy bottleneck) for ``z = h_a(y)``.

    Args:
      y: codec of y, given the side tensor ``h_s(z_hat)``.
      z: codec of z (no side information).
      h_a, h_s: the model's hyper-analysis and hyper-synthesis (flax modules or callables).
      keyed: in training, ``h_a`` and ``h_s`` are called as ``(x, key)`` with PRNG keys of their own (e.g.
        Entroformer's random top-k); they are called as ``(x)`` when coding and in evaluation.

    Likelihoods: ``"y"`` and ``"z"`` (other keys of the children keep their names, prefixed ``z_``
    for the z codec's).
    """

    y: LatentCodec
    z: LatentCodec
    h_a: Callable[[Array], Array]
    h_s: Callable[[Array], Array]
    keyed: bool = False

    def children(self):
        return {"y": self.y, "z": self.z}

    def hyper_analysis(self, y: Array) -> Array:
        return self.h_a(y)

    def hyper_synthesis(self, z_hat: Array) -> Array:
        return self.h_s(z_hat)

    def forward(self, y, side, train, key):
        kz, ky = split_key(key, 2)
        if self.keyed and train and key is not None:
            ka, ks = jax.random.split(jax.random.fold_in(key, 1))
            h_a, h_s = (lambda x: self.h_a(x, ka)), (lambda x: self.h_s(x, ks))
        else:
            h_a, h_s = self.h_a, self.h_s
        z_out = self.z.forward(h_a(y), None, train, kz)
        y_out = self.y.forward(y, h_s(z_out.y_hat), train, ky)
        liks = dict(y_out.likelihoods)
        for k, v in z_out.likelihoods.items():
            liks["z" if k == "y" else f"z_{k}"] = v
        return LatentOut(y_out.y_hat, liks)

    @staticmethod
    def _merge(y_sym: dict, z_sym: dict) -> dict:
        out = dict(y_sym)
        for k, v in z_sym.items():
            out["z" if k == "y" else f"z_{k}"] = v
        return out

    def encode(self, ctx, writer, y, side):
        z = np.asarray(ctx.call("hyper_analysis", y))
        z_hat, z_sym = self.z.encode(ctx.child("z"), writer, z, None)
        hyper = np.asarray(ctx.call("hyper_synthesis", z_hat), np.float32)
        y_hat, y_sym = self.y.encode(ctx.child("y"), writer, y, hyper)
        return y_hat, self._merge(y_sym, z_sym)

    def decode(self, ctx, reader, shape, side):
        z_shape = ctx.shape("hyper_analysis", jax.ShapeDtypeStruct(shape, jnp.float32))
        z_hat, z_sym = self.z.decode(ctx.child("z"), reader, z_shape, None)
        hyper = np.asarray(ctx.call("hyper_synthesis", z_hat), np.float32)
        y_hat, y_sym = self.y.decode(ctx.child("y"), reader, shape, hyper)
        return y_hat, self._merge(y_sym, z_sym)
