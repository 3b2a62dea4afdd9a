"""Exact, order-independent evaluation of any jaxpr: the engine of the deterministic coding mode.

Why a float network desynchronises a decoder: the same float32 program gives different bits on another
device, thread count, BLAS or compiler flag (summation order, FMA contraction, TF32/bf16 matmuls, libm
versions), and a table index or a mean that feeds a context moves (CompressAI #279/#309/#320, TFC #37/#44;
Ballé et al. 2019, arXiv 1809.02524). :func:`evaluate` runs a function's jaxpr so that its result depends
on nothing but its inputs and parameters:

* every ``conv_general_dilated`` / ``dot_general`` quantizes its data operand onto the grid ``2**-ACT_FRAC``
  (round half to even, saturating at ``±2**(ACT_BITS-1)`` grid steps) and its parameter operand onto a
  per-output-channel power-of-two grid of ``WEIGHT_BITS`` bits (post-training fixed-point conversion,
  arXiv 2202.07513). Each output element is then a sum of integer multiples of ONE power of two whose
  magnitude is bounded by ``max|a| * sum|w|`` < 2**53 (checked, :class:`DeterminismError` otherwise), so
  float64 computes it exactly in ANY summation order, blocking or thread count;
* every other float operation is one IEEE-754 float64 basic operation (+ - * / sqrt, comparisons), done by
  numpy on the host one primitive at a time (no fusion, no contraction, no fast-math), which every
  conforming machine rounds identically;
* transcendental functions (exp, log, tanh, logistic, ...) are polynomials in those basic operations in a
  fixed order (:mod:`jlic.fixedpoint.elementary`), never the platform's libm;
* reductions over floats sum sequentially along the axis (a defined order);
* data movement, integer arithmetic, comparisons, gathers and the like run through jax on the CPU, where
  they are exact under any flag.

``perturb`` (:func:`evaluate_perturbed`) is the opposite tool, for tests: the float32 program as jax runs
it, with every conv/dot output multiplied by ``1 + rel * N(0, 1)`` (what TF32 / bf16 matmuls do).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.extend import core as jcore

from jlic.fixedpoint import elementary

ACT_FRAC = 12  # fractional bits of conv / dot data inputs (grid 2**-12)
ACT_BITS = 24  # data inputs saturate at ±2**(ACT_BITS-1) grid steps (±2048.0)
WEIGHT_BITS = 16  # bits of the largest weight of each output channel (fewer if the 2**53 bound needs it)
EXACT_LIMIT = 2.0**53


class DeterminismError(ValueError):
    """A function cannot be evaluated exactly (unsupported primitive or an accumulator bound over 2**53)."""


_HIGHER = ("jit", "pjit", "custom_jvp_call", "custom_vjp_call", "custom_vjp_call_jaxpr", "custom_vmap_call",
           "closed_call", "core_call", "remat", "checkpoint")
_FLOAT_UNARY: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "neg": np.negative, "abs": np.abs, "sqrt": np.sqrt, "floor": np.floor, "ceil": np.ceil,
    "sign": np.sign, "exp": elementary.exp, "exp2": elementary.exp2, "log": elementary.log,
    "log1p": elementary.log1p, "expm1": elementary.expm1, "tanh": elementary.tanh,
    "logistic": elementary.logistic, "rsqrt": lambda x: 1.0 / np.sqrt(x), "square": lambda x: x * x,
    "stop_gradient": lambda x: x, "is_finite": np.isfinite,
}
_FLOAT_BINARY: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide, "max": np.maximum,
    "min": np.minimum, "add_any": np.add, "nextafter": np.nextafter, "rem": np.fmod,
}


def _is_float(x: Any) -> bool:
    return np.issubdtype(np.asarray(x).dtype, np.floating)


def _f64(x: Any) -> np.ndarray:
    a = np.asarray(x)
    return a.astype(np.float64) if np.issubdtype(a.dtype, np.floating) else a


def _sub_jaxpr(eqn: Any) -> Any:
    for k in ("jaxpr", "call_jaxpr", "call", "fun_jaxpr"):
        j = eqn.params.get(k)
        if j is not None and (hasattr(j, "eqns") or hasattr(j, "jaxpr")):
            return j
    raise DeterminismError(f"{eqn.primitive.name}: no inner jaxpr found")


def _closed(j: Any) -> tuple[Any, Sequence[Any]]:
    return (j.jaxpr, j.consts) if hasattr(j, "consts") else (j, ())


class Options:
    """How :func:`evaluate` runs (the defaults are the deterministic mode).

    Args:
      shuffle: a numpy Generator: permute every conv/dot's summation order (tests: the result must not move).
      perturb: relative noise of float conv/dot outputs (float mode only; tests of the float decoder).
      rng: the generator of that noise.
    """

    def __init__(self, exact: bool = True, shuffle: np.random.Generator | None = None, perturb: float = 0.0,
                 rng: np.random.Generator | None = None) -> None:
        self.exact = exact
        self.shuffle = shuffle
        self.perturb = perturb
        self.rng = rng or np.random.default_rng(0)
        self.max_accumulator = 0.0  # largest bound max|a|*sum|w| met (reported by the converter)


def _quantize_act(a: np.ndarray) -> tuple[np.ndarray, float]:
    """Data operand on the grid 2**-ACT_FRAC, saturating; (values, max |integer|)."""
    lim = 2.0 ** (ACT_BITS - 1) - 1
    q = np.clip(np.rint(a * 2.0**ACT_FRAC), -lim, lim)
    return q * 2.0**-ACT_FRAC, float(np.max(np.abs(q), initial=0.0))


def _quantize_weight(w: np.ndarray, reduce_axes: tuple[int, ...], act_max: float
                     ) -> tuple[np.ndarray, float]:
    """Parameter operand: per output channel (all axes but ``reduce_axes``) a power-of-two grid with the
    largest |w| on ``WEIGHT_BITS`` bits, fewer while ``act_max * sum|w_int|`` could reach 2**53;
    (values, that bound)."""
    amax = np.max(np.abs(w), axis=reduce_axes, keepdims=True)
    _, e = np.frexp(np.where(amax > 0, amax, 1.0))  # amax = m * 2**e, m in [0.5, 1)
    for bits in range(WEIGHT_BITS, 1, -1):
        scale = np.ldexp(1.0, (bits - e).astype(np.int64))  # largest |w_int| < 2**bits
        q = np.rint(w * scale)
        bound = act_max * float(np.max(np.sum(np.abs(q), axis=reduce_axes), initial=0.0))
        if bound < EXACT_LIMIT:
            return q / scale, bound
    raise DeterminismError("no weight precision keeps the accumulator under 2**53")


def _conv_dims(eqn: Any, lhs_ndim: int) -> tuple[tuple[int, ...], tuple[int, ...], int, int]:
    """(lhs contracting axes, rhs contracting axes, lhs feature axis, rhs in-feature axis) of a conv."""
    dn = eqn.params["dimension_numbers"]
    lhs_spec, rhs_spec = dn.lhs_spec, dn.rhs_spec
    return (tuple(lhs_spec[1:]), tuple(rhs_spec[1:]), lhs_spec[1], rhs_spec[1])


def _linear(eqn: Any, invals: list, const: list[bool], opts: Options) -> np.ndarray:
    """conv_general_dilated / dot_general on exactly representable operands (see module docstring)."""
    name = eqn.primitive.name
    lhs, rhs = (np.asarray(v, np.float64) for v in invals)
    if name == "conv_general_dilated":
        lhs_red, rhs_red, lhs_f, rhs_f = _conv_dims(eqn, lhs.ndim)
        red = (lhs_red, rhs_red)
    else:
        (lc, rc), (lb, rb) = eqn.params["dimension_numbers"]
        red = (tuple(lc), tuple(rc))
    ops = [lhs, rhs]
    order = (0, 1) if not const[0] or const[1] else (1, 0)  # data operand first
    d, w = order
    ops[d], act_max = _quantize_act(ops[d])
    if const[w]:
        ops[w], bound = _quantize_weight(ops[w], red[w], act_max)
    else:
        ops[w], wmax = _quantize_act(ops[w])
        k = float(np.prod([ops[d].shape[a] for a in red[d]]))
        bound = act_max * wmax * k
        if bound >= EXACT_LIMIT:
            raise DeterminismError(f"{name} of two data operands: accumulator bound {bound:.3g} >= 2**53")
    opts.max_accumulator = max(opts.max_accumulator, bound)
    if opts.shuffle is not None:
        grouped = name == "conv_general_dilated" and eqn.params.get("feature_group_count", 1) > 1
        if grouped:  # a depthwise / grouped conv: its features are not summed together, nothing to permute
            pass
        elif name == "conv_general_dilated":  # permute the input features: another summation order
            perm = opts.shuffle.permutation(lhs.shape[lhs_f])
            ops[0], ops[1] = np.take(ops[0], perm, lhs_f), np.take(ops[1], perm, rhs_f)
        elif red[0]:
            perm = opts.shuffle.permutation(lhs.shape[red[0][0]])
            ops[0], ops[1] = np.take(ops[0], perm, red[0][0]), np.take(ops[1], perm, red[1][0])
    params = dict(eqn.params)
    params["preferred_element_type"] = jnp.float64
    if "precision" in params:
        params["precision"] = None
    with jax.default_device(jax.devices("cpu")[0]):
        out = eqn.primitive.bind(jnp.asarray(ops[0]), jnp.asarray(ops[1]), **params)
    return np.asarray(out, np.float64)


def _fix_params(params: dict) -> dict:
    """Float dtypes in primitive params become float64 (the interpreter carries every float in float64)."""
    out = {}
    for k, v in params.items():
        if k in ("new_dtype", "dtype", "preferred_element_type") and v is not None and \
                np.issubdtype(np.dtype(v), np.floating):
            v = np.dtype(np.float64)
        out[k] = v
    return out


def _reduce_sequential(x: np.ndarray, axes: tuple[int, ...], op: Callable) -> np.ndarray:
    """Reduce ``axes`` of ``x`` in a defined order: element 0, then 1, ... (numpy's pairwise order is not)."""
    x = np.moveaxis(x, axes, tuple(range(len(axes))))
    x = x.reshape(-1, *x.shape[len(axes):])
    acc = x[0].copy()
    for i in range(1, x.shape[0]):
        acc = op(acc, x[i])
    return acc


def _scan(eqn: Any, invals: list, const: list[bool], opts: Options) -> tuple[list, list[bool]]:
    p = eqn.params
    jaxpr, consts = _closed(p["jaxpr"])
    nc, ncar, length = p["num_consts"], p["num_carry"], p["length"]
    cvals, carry, xs = invals[:nc], invals[nc:nc + ncar], invals[nc + ncar:]
    ys: list[list] = []
    for i in (range(length - 1, -1, -1) if p["reverse"] else range(length)):
        args = [*cvals, *carry, *(np.asarray(x)[i] for x in xs)]
        out, _ = _eval(jaxpr, consts, args, [False] * len(args), opts)
        carry, y = out[:ncar], out[ncar:]
        ys.append(y)
    if p["reverse"]:
        ys.reverse()
    n_y = len(eqn.outvars) - ncar
    stacked = [np.stack([np.asarray(y[k]) for y in ys]) if ys else np.zeros(v.aval.shape, v.aval.dtype)
               for k, v in zip(range(n_y), eqn.outvars[ncar:], strict=True)]
    outs = [*carry, *stacked]
    return outs, [False] * len(outs)


def _while(eqn: Any, invals: list, opts: Options) -> list:
    p = eqn.params
    cj, cc = _closed(p["cond_jaxpr"])
    bj, bc = _closed(p["body_jaxpr"])
    ncc, nbc = p["cond_nconsts"], p["body_nconsts"]
    cconsts, bconsts, carry = invals[:ncc], invals[ncc:ncc + nbc], invals[ncc + nbc:]
    while True:
        (ok,), _ = _eval(cj, cc, [*cconsts, *carry], [False] * (ncc + len(carry)), opts)
        if not bool(np.asarray(ok)):
            return carry
        carry, _ = _eval(bj, bc, [*bconsts, *carry], [False] * (nbc + len(carry)), opts)


def _pad(x: np.ndarray, value: Any, config: Sequence[tuple[int, int, int]]) -> np.ndarray:
    """``lax.pad``: interior padding, then low / high padding (negative: cropping)."""
    for ax, (lo, hi, interior) in enumerate(config):
        if interior:
            n = x.shape[ax]
            shape = list(x.shape)
            shape[ax] = n + max(n - 1, 0) * interior
            y = np.full(shape, value, x.dtype)
            idx = [slice(None)] * x.ndim
            idx[ax] = slice(None, None, interior + 1)
            y[tuple(idx)] = x
            x = y
        if lo > 0 or hi > 0:
            widths = [(0, 0)] * x.ndim
            widths[ax] = (max(lo, 0), max(hi, 0))
            x = np.pad(x, widths, constant_values=value)
        if lo < 0 or hi < 0:  # after the positive side: a negative low may eat into the high padding
            idx = [slice(None)] * x.ndim
            idx[ax] = slice(max(-lo, 0), x.shape[ax] - max(-hi, 0))
            x = x[tuple(idx)]
    return x


def _broadcast_in_dim(x: np.ndarray, shape: Sequence[int], dims: Sequence[int]) -> np.ndarray:
    view = [1] * len(shape)
    for d, n in zip(dims, np.shape(x), strict=True):
        view[d] = n
    return np.broadcast_to(np.reshape(x, view), tuple(shape))


def _select_n(pred: np.ndarray, *cases: np.ndarray) -> np.ndarray:
    if np.asarray(pred).dtype == bool:
        return np.where(pred, cases[1], cases[0]) if len(cases) == 2 else np.choose(pred.astype(int), cases)
    return np.choose(pred, np.broadcast_arrays(*cases))


def _convert(x: np.ndarray, dtype: Any, exact: bool) -> np.ndarray:
    dtype = np.dtype(dtype)
    if np.issubdtype(dtype, np.floating):
        return x.astype(np.float64 if exact else dtype)
    if np.issubdtype(np.asarray(x).dtype, np.floating) and dtype != np.dtype(bool):
        return np.trunc(x).astype(dtype)  # lax: toward zero
    return np.asarray(x).astype(dtype)


def _iota(dtype: Any, shape: Sequence[int], dimension: int, exact: bool) -> np.ndarray:
    r = np.arange(shape[dimension]).astype(_convert(np.zeros(0), dtype, exact).dtype)
    view = [1] * len(shape)
    view[dimension] = shape[dimension]
    return np.broadcast_to(r.reshape(view), tuple(shape))


_NUMPY: dict[str, Callable[..., Any]] = {  # exact data movement / comparisons / logic, as lax defines them
    "reshape": lambda x, new_sizes, dimensions=None, **_: np.reshape(x, new_sizes),
    "transpose": lambda x, permutation, **_: np.transpose(x, permutation),
    "broadcast_in_dim": lambda x, shape, broadcast_dimensions, **_: _broadcast_in_dim(x, shape,
                                                                                     broadcast_dimensions),
    "squeeze": lambda x, dimensions, **_: np.squeeze(x, axis=tuple(dimensions)),
    "expand_dims": lambda x, dimensions, **_: np.expand_dims(x, tuple(dimensions)),
    "slice": lambda x, start_indices, limit_indices, strides=None, **_: x[tuple(
        slice(a, b, None if strides is None else strides[i])
        for i, (a, b) in enumerate(zip(start_indices, limit_indices, strict=True)))],
    "concatenate": lambda *xs, dimension, **_: np.concatenate(xs, axis=dimension),
    "pad": lambda x, v, padding_config, **_: _pad(np.asarray(x), v, padding_config),
    "select_n": lambda *xs, **_: _select_n(*xs),
    "eq": lambda a, b, **_: np.equal(a, b), "ne": lambda a, b, **_: np.not_equal(a, b),
    "lt": lambda a, b, **_: np.less(a, b), "le": lambda a, b, **_: np.less_equal(a, b),
    "gt": lambda a, b, **_: np.greater(a, b), "ge": lambda a, b, **_: np.greater_equal(a, b),
    "and": lambda a, b, **_: np.bitwise_and(a, b), "or": lambda a, b, **_: np.bitwise_or(a, b),
    "not": lambda a, **_: np.invert(a),
    "reduce_max": lambda x, axes, **_: np.max(x, axis=tuple(axes)),
    "reduce_min": lambda x, axes, **_: np.min(x, axis=tuple(axes)),
    "argmax": lambda x, axes, index_dtype, **_: np.argmax(x, axis=axes[0]).astype(index_dtype),
    "argmin": lambda x, axes, index_dtype, **_: np.argmin(x, axis=axes[0]).astype(index_dtype),
}


def _numpy_eqn(eqn: Any, invals: list, exact: bool) -> list | None:
    """The eqn in numpy if it is a data-movement / comparison primitive handled here (else None)."""
    name, p = eqn.primitive.name, eqn.params
    if name == "convert_element_type":
        return [_convert(np.asarray(invals[0]), p["new_dtype"], exact)]
    if name == "iota":
        return [_iota(p["dtype"], p["shape"], p["dimension"], exact)]
    if name == "split":
        bounds = np.cumsum(p["sizes"])[:-1]
        return list(np.split(np.asarray(invals[0]), bounds, axis=p["axis"]))
    if name in ("add", "sub", "mul", "max", "min") and not any(_is_float(v) for v in invals) and \
            all(np.asarray(v).dtype == np.asarray(invals[0]).dtype for v in invals):
        op = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "max": np.maximum, "min": np.minimum}
        with np.errstate(over="ignore"):
            return [op[name](*invals).astype(np.asarray(invals[0]).dtype)]  # wraps around as XLA does
    fn = _NUMPY.get(name)
    if fn is None:
        return None
    return [np.asarray(fn(*invals, **p))]


def _bind_jax(eqn: Any, invals: list, exact: bool) -> list:
    params = _fix_params(eqn.params) if exact else eqn.params
    with jax.default_device(jax.devices("cpu")[0]):
        args = [jnp.asarray(v) for v in invals]
        out = eqn.primitive.bind(*args, **params)
    outs = out if eqn.primitive.multiple_results else [out]
    return [np.asarray(o) for o in outs]


def _eval_eqn(eqn: Any, invals: list, const: list[bool], opts: Options) -> tuple[list, list[bool]]:
    name = eqn.primitive.name
    all_const = all(const)
    if name in _HIGHER:
        jaxpr, consts = _closed(_sub_jaxpr(eqn))
        return _eval(jaxpr, consts, invals, const, opts)
    if name == "scan":
        return _scan(eqn, invals, const, opts)
    if name == "while":
        outs = _while(eqn, invals, opts)
        return outs, [False] * len(outs)
    if name == "cond":
        branches = eqn.params["branches"]
        idx = int(np.clip(np.asarray(invals[0]), 0, len(branches) - 1))
        jaxpr, consts = _closed(branches[idx])
        return _eval(jaxpr, consts, invals[1:], const[1:], opts)
    if not opts.exact:  # float mode (tests): jax as is, conv/dot outputs perturbed
        outs = _bind_jax(eqn, invals, exact=False)
        if name in ("conv_general_dilated", "dot_general") and opts.perturb and not all_const:
            outs = [np.asarray(o * (1.0 + opts.perturb * opts.rng.standard_normal(o.shape)), o.dtype)
                    for o in outs]
        return outs, [all_const] * len(outs)
    if name in ("conv_general_dilated", "dot_general"):
        return [_linear(eqn, invals, const, opts)], [all_const]
    floats = any(_is_float(v) for v in invals)
    if floats and name in _FLOAT_UNARY:
        return [_FLOAT_UNARY[name](_f64(invals[0]))], [all_const]
    if floats and name in _FLOAT_BINARY:
        a, b = (_f64(v) for v in invals)
        return [_FLOAT_BINARY[name](a, b)], [all_const]
    if floats and name == "integer_pow":
        x, y = _f64(invals[0]), int(eqn.params["y"])
        acc = np.ones_like(x)
        for _ in range(abs(y)):
            acc = acc * x
        return [acc if y >= 0 else 1.0 / acc], [all_const]
    if floats and name == "pow":
        x, y = (_f64(v) for v in invals)
        return [elementary.exp(y * elementary.log(x))], [all_const]
    if floats and name == "round":
        x = _f64(invals[0])
        method = int(eqn.params.get("rounding_method", 0))
        return [np.rint(x) if method == 1 else np.sign(x) * np.floor(np.abs(x) + 0.5)], [all_const]
    if floats and name == "clamp":
        lo, x, hi = (_f64(v) for v in invals)
        return [np.minimum(np.maximum(x, lo), hi)], [all_const]
    if floats and name in ("reduce_sum", "reduce_prod"):
        op = np.add if name == "reduce_sum" else np.multiply
        return [_reduce_sequential(_f64(invals[0]), tuple(eqn.params["axes"]), op)], [all_const]
    if floats and name in ("cumsum", "cumprod", "reduce_precision", "erf", "erfc", "erf_inv", "lgamma",
                           "digamma", "sin", "cos", "tan", "atan2", "asin", "acos", "atan", "sinh", "cosh",
                           "asinh", "acosh", "atanh", "cbrt", "igamma", "random_gamma_grad"):
        raise DeterminismError(f"primitive {name!r} on floats is not supported by the deterministic mode")
    invals = [_f64(v) for v in invals]
    outs = _numpy_eqn(eqn, invals, exact=True)
    if outs is None:
        outs = _bind_jax(eqn, invals, exact=True)
    return outs, [all_const] * len(eqn.outvars)


def _eval(jaxpr: Any, consts: Sequence[Any], args: Sequence[Any], args_const: Sequence[bool], opts: Options
          ) -> tuple[list, list[bool]]:
    env: dict[Any, tuple[Any, bool]] = {}

    def read(v: Any) -> tuple[Any, bool]:
        if isinstance(v, jcore.Literal):
            return np.asarray(v.val, dtype=v.aval.dtype), True
        return env[v]

    for v, c in zip(jaxpr.constvars, consts, strict=True):
        env[v] = (np.asarray(c), True)
    for v, a, c in zip(jaxpr.invars, args, args_const, strict=True):
        env[v] = (a, c)
    for eqn in jaxpr.eqns:
        ins = [read(v) for v in eqn.invars]
        outs, oc = _eval_eqn(eqn, [i[0] for i in ins], [i[1] for i in ins], opts)
        for v, o, c in zip(eqn.outvars, outs, oc, strict=True):
            env[v] = (o, c)
    res = [read(v) for v in jaxpr.outvars]
    return [r[0] for r in res], [r[1] for r in res]


def trace(fn: Callable, params: Any, *args: Any) -> tuple[Any, Any]:
    """(closed jaxpr, output treedef) of ``fn(params, *args)`` (float32 as the model is written)."""
    closed, shapes = jax.make_jaxpr(fn, return_shape=True)(params, *args)
    return closed, jax.tree_util.tree_structure(shapes)


def evaluate(closed: Any, params: Any, *args: Any, opts: Options | None = None) -> list[np.ndarray]:
    """Run ``closed`` (from :func:`trace`) on ``params`` (marked as parameters: conv/dot operands derived
    only from them get per-channel weight grids) and data ``args``; returns numpy outputs (floats in
    float64, exact dyadic values where they come from a conv/dot)."""
    opts = opts or Options()
    p_leaves = [np.asarray(x) for x in jax.tree_util.tree_leaves(params)]
    a_leaves = [np.asarray(x) for x in jax.tree_util.tree_leaves(args)]
    if opts.exact:
        p_leaves = [_f64(x) for x in p_leaves]
        a_leaves = [_f64(x) for x in a_leaves]
    consts = [_f64(c) if opts.exact else np.asarray(c) for c in closed.consts]
    with jax.enable_x64(opts.exact):
        outs, _ = _eval(closed.jaxpr, consts, [*p_leaves, *a_leaves],
                        [True] * len(p_leaves) + [False] * len(a_leaves), opts)
    return outs
