"""The deterministic coding context: :class:`jlic.latent_codecs.CodingContext` whose every network call
(``CodingContext.call``: hyper-synthesis, context / entropy-parameter / channel-context / latent-residual
networks, and the leaves' ``coding_params``) is evaluated by :func:`jlic.fixedpoint.interpreter.evaluate`
instead of the float32 XLA program. Generic: it never looks at which codec or model it runs, so every
model built on :mod:`jlic.latent_codecs` (ELIC included) gets the mode without code of its own.

The outputs go back to the codecs as float32 (means: exact dyadic values, cast by IEEE rounding) and int32
(table indexes), exactly as the float path returns them.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import jax
import numpy as np

from jlic.fixedpoint.interpreter import Options, evaluate, trace
from jlic.latent_codecs.base import CodingContext, _node

MODES = ("float", "deterministic")


def _cast(out: np.ndarray, aval: Any) -> np.ndarray:
    return np.asarray(out).astype(aval.dtype)


class DeterministicContext(CodingContext):
    """A coding context whose network calls are exact (or, with ``Options(exact=False, perturb=...)``,
    the float program with perturbed conv/dot outputs: the test double of a TF32 decoder)."""

    options: Options

    @classmethod
    def of(cls, ctx: CodingContext, options: Options | None = None) -> DeterministicContext:
        """The same context (params, tables, coders, path) with exact network calls."""
        c = copy.copy(ctx)
        c.__class__ = cls
        c.options = options or Options()
        c._fns = {}
        c._jaxprs = {}
        return c

    def _fn(self, method: str, static: tuple) -> Callable:
        k = (self.path, method, static)
        fn = self._fns.get(k)
        if fn is None:
            path, module, jaxprs, opts = self.path, self.module, self._jaxprs, self.options

            def run(params: Any, *args: Any) -> Any:
                return module.apply({"params": params}, *args,
                                    method=lambda m, *a: getattr(_node(m, path), method)(*static, *a))

            def exact(params: Any, *args: Any) -> Any:
                if any(isinstance(a, jax.core.Tracer) for a in jax.tree_util.tree_leaves((params, args))):
                    return run(params, *args)  # traced by CodingContext.shape (eval_shape): no compute
                leaves = jax.tree_util.tree_leaves(args)
                sig = (k, tuple((np.shape(a), np.asarray(a).dtype.str) for a in leaves))
                if sig not in jaxprs:
                    jaxprs[sig] = trace(run, params, *args)
                closed, tree = jaxprs[sig]
                outs = evaluate(closed, params, *args, opts=opts)
                outs = [_cast(o, v.aval) for o, v in zip(outs, closed.jaxpr.outvars, strict=True)]
                return jax.tree_util.tree_unflatten(tree, outs)

            fn = self._fns[k] = exact
        return fn
