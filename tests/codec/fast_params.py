"""Parameters of a registered model with the right structure, built leaf by leaf (no training-graph compile).

`model.init` compiles the whole training forward pass, which takes minutes on a shared CPU; the codec tests
only need *some* valid parameters of the right structure, so they are built here with the same initial values
the modules use (GDN identity-ish, factorized-prior init, fan-in uniform kernels). Unknown leaves fall back to
`model.init`. A module of its own (not conftest) so that test files can import it by a unique name.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np


def fast_params(model, seed: int = 0, shape=(1, 64, 64, 3)):
    """Parameters with the structure of `model.init(key, shape)`, without compiling the training graph."""
    from jlic.entropy import factorized
    from jlic.ops import gdn

    structure = jax.eval_shape(lambda k: model.init(k, shape), jax.random.PRNGKey(seed))
    rng = np.random.default_rng(seed)
    key = jax.random.PRNGKey(seed)
    known = True

    def leaf(path, spec):
        nonlocal known
        names = [getattr(p, "key", None) for p in path]
        name = names[-1]
        if any(isinstance(n, str) and n.startswith("entropy_bottleneck") for n in names):
            value = factorized.init(key, spec.shape[0])[name]
        elif name == "beta":
            value = gdn.nonneg_value_to_param(jnp.ones(spec.shape))
        elif name == "gamma":
            value = gdn.nonneg_value_to_param(gdn.GAMMA_INIT * jnp.eye(spec.shape[0]))
        elif name == "kernel":
            fan_in = int(np.prod(spec.shape[:-1]))
            bound = 1.0 / np.sqrt(fan_in)
            value = rng.uniform(-bound, bound, spec.shape)
        elif name == "bias":
            value = rng.uniform(-0.1, 0.1, spec.shape)
        elif name == "scale":  # LayerNorm
            value = np.ones(spec.shape)
        elif name == "embedding":  # relative position tables
            value = rng.normal(0.0, 0.02, spec.shape)
        else:
            known = False
            return None
        assert value.shape == spec.shape, (names, value.shape, spec.shape)
        return jnp.asarray(value, spec.dtype)

    params = jax.tree_util.tree_map_with_path(leaf, structure)
    if not known:
        return model.init(key, shape)
    return params


def scaled_last_layers(params, **gains: float):
    """``params`` with the last layer's kernel of each named part multiplied by its gain.

    Fresh parameters of a small model make ``y`` so small that every symbol is 0 and every scale sits under
    the scale table's lowest entry: a round trip of such a model checks nothing but zeros. A gain on ``g_a``
    (and ``h_a``) makes nonzero symbols; one on the network that outputs the scales spreads them over the table.
    """
    out = dict(params)
    for part, gain in gains.items():
        last = max(params[part], key=lambda k: int(k.removeprefix("layer_")))  # flax Sequential: layer_<i>
        layer = params[part][last]
        out[part] = {**params[part], last: {**layer, "kernel": gain * layer["kernel"]}}
    return out
