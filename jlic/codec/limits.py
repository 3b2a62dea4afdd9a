"""What a decoder may be asked to do: checks of a parsed ``.jlic`` container against the model decoding it,
run before any network or entropy decoder is (no allocation sized by the header happens first).

Decoder memory bound (bytes), a function of the header's padded size ``Hp x Wp`` (``height + padding``)::

    bound = P + a * Hp * Wp + 64 * |y| + C

* ``P``: the parameters' bytes;
* ``a``: the synthesis transform's peak live bytes per padded pixel: the largest sum of arrays alive at
  once when its jaxpr runs in order, each freed after its last use (XLA's buffer assignment fuses and
  reuses, so it needs at most this; measured RSS: `benchmarks/memory.py`). All its arrays scale with
  ``Hp * Wp`` (convolutions), so ``a`` is taken from one trace at a reference size;
* ``|y|``: elements of the latent (``Hp/s * Wp/s * M``); 64 bytes each cover the host arrays of its
  entropy decoding (symbols, table indexes, means, scales and the context models' per-step inputs);
* ``C`` = 256 MiB: XLA compilation and runtime buffers.

A tiled file (:mod:`jlic.codec.tiles`) runs the networks on one tile at a time, so ``Hp x Wp`` is the
padded size of its largest tile (``th x tw``, at most the image rounded up to the stride) and the output
image is added: ``bound = P + a * th * tw + 64 * |y_tile| + C + 3 * H * W``. Its time grows with the tile
count, which the memory cap no longer bounds, so a tiled file of more than ``$JLIC_MAX_PIXELS`` pixels
(the cap on input images, :mod:`jlic.data.image`) is refused too. Measured (`benchmarks/memory.py`, 4096²
in 4 x 4 tiles of 1024², 2026-12-01): bound 733 / 939 / 939 MiB, RSS growth 639 / 864 / 910 MiB for
bmshj2018-hyperprior / mbt2018 / he2021-checkerboard (untiled 4096² hyperprior: 6605 MiB).

It is the decoder's memory above the process's import baseline (python + jax, ~350 MiB). Measured with
`benchmarks/memory.py` (random-init quality-3 models, 2026-12-01): the RSS growth per pixel between
768x512 and 2048² was 415 B/px for bmshj2018-hyperprior (formula: a + 64|y|/px = 410) and 583 B/px for
mbt2018 (formula: 581); the constant part was 110-190 MiB.

The cap is ``$JLIC_MAX_DECODE_BYTES`` (default :data:`DEFAULT_MAX_DECODE_BYTES`); a file whose bound is over
it is refused with :class:`BitstreamError` naming the bound, the cap and how to raise it.
"""

from __future__ import annotations

import os
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.extend import core as jex_core

from jlic.entropy.bitstream import BitstreamError, Container

DEFAULT_MAX_DECODE_BYTES = 16 << 30
MAX_DECODE_BYTES_ENV = "JLIC_MAX_DECODE_BYTES"
LATENT_BYTES_PER_ELEMENT = 64
RUNTIME_BYTES = 256 << 20
_cache: dict[tuple[str, str], tuple[float, float]] = {}


def max_decode_bytes() -> int:
    env = os.environ.get(MAX_DECODE_BYTES_ENV)
    if not env:
        return DEFAULT_MAX_DECODE_BYTES
    try:
        return int(float(env))
    except ValueError:
        raise BitstreamError(f"${MAX_DECODE_BYTES_ENV}={env!r} is not a number of bytes") from None


def _nbytes(aval: Any) -> int:
    shape = getattr(aval, "shape", None)
    return 0 if shape is None else int(np.prod(shape, dtype=np.int64)) * aval.dtype.itemsize


def peak_live_bytes(jaxpr: Any) -> int:
    """Peak of the bytes alive at once when `jaxpr` runs eqn by eqn, freeing each array after its last
    use (inner jaxprs of calls counted at their own peak)."""
    last_use: dict[Any, int] = {}
    for i, e in enumerate(jaxpr.eqns):
        for v in e.invars:
            if not isinstance(v, jex_core.Literal):
                last_use[v] = i
    for v in jaxpr.outvars:
        if not isinstance(v, jex_core.Literal):
            last_use[v] = len(jaxpr.eqns)
    live = {v: _nbytes(v.aval) for v in [*jaxpr.invars, *jaxpr.constvars]}
    now = peak = sum(live.values())
    for i, e in enumerate(jaxpr.eqns):
        subs = jex_core.jaxprs_in_params(e.params)
        inner = max((peak_live_bytes(getattr(j, "jaxpr", j)) for j in subs), default=0)
        out = sum(_nbytes(v.aval) for v in e.outvars)
        peak = max(peak, now + max(inner, out))
        for v in e.outvars:
            live[v] = _nbytes(v.aval)
            now += live[v]
        for v in {v for v in e.invars if not isinstance(v, jex_core.Literal)}:
            if last_use.get(v) == i and v in live:
                now -= live.pop(v)
        for v in e.outvars:
            if v not in last_use and v in live:  # never used
                now -= live.pop(v)
    return peak


def per_pixel(model: Any, params: Any) -> tuple[float, float]:
    """(``a``, latent elements) per padded pixel of ``model`` (traced once per model config)."""
    key = (model.name, repr(sorted(dict(model.kwargs).items())))
    if key not in _cache:
        side = 8 * int(model.stride)
        x = jax.ShapeDtypeStruct((1, side, side, 3), jnp.float32)
        y = jax.eval_shape(model.analysis, params, x)
        closed = jax.make_jaxpr(model.synthesis)(params, jax.ShapeDtypeStruct(y.shape, jnp.float32))
        param_bytes = sum(_nbytes(v.aval) for v in closed.jaxpr.invars[: len(jax.tree.leaves(params))])
        a = max(peak_live_bytes(closed.jaxpr) - param_bytes, 0) / (side * side)
        _cache[key] = (a, int(np.prod(y.shape)) / (side * side))
    return _cache[key]


def decode_memory_bound(model: Any, params: Any, hp: int, wp: int) -> int:
    """The bound of the module docstring for a padded ``hp x wp`` image, in bytes."""
    p = sum(int(np.prod(np.shape(x), dtype=np.int64)) * np.dtype(getattr(x, "dtype", np.float32)).itemsize
            for x in jax.tree.leaves(params))
    a, y = per_pixel(model, params)
    return int(p + (a + LATENT_BYTES_PER_ELEMENT * y) * hp * wp + RUNTIME_BYTES)


def tiled_decode_memory_bound(model: Any, params: Any, th: int, tw: int, image_pixels: int) -> int:
    """The bound of a tiled file: one padded ``th x tw`` tile's decoding plus the uint8 output image."""
    return decode_memory_bound(model, params, th, tw) + 3 * image_pixels


def check_container(model: Any, params: Any, c: Container, hp: int, wp: int, image_pixels: int = 0) -> None:
    """Refuse what this model's decoder never wrote or could not decode within the memory cap.

    ``hp x wp``: the padded image, or for a tiled file (``image_pixels`` = H * W > 0) its largest padded
    tile."""
    if c.channels != 3 or c.bit_depth != 8:
        raise BitstreamError(f"file declares {c.channels} channels of {c.bit_depth} bits; jlic models code "
                             "3 x 8")
    if c.coder != "ans":
        raise BitstreamError(f"file declares the {c.coder!r} entropy coder; {model.name} streams are ANS")
    empty = [i for i, s in enumerate(c.streams) if not s]
    if empty:  # an ANS coder always writes its final state: a real stream is never empty
        raise BitstreamError(f"entropy-coded stream {empty[0]} is empty (truncated or crafted file)")
    cap = max_decode_bytes()
    if image_pixels:
        _check_tiled_pixels(c)
        bound = tiled_decode_memory_bound(model, params, hp, wp, image_pixels)
    else:
        bound = decode_memory_bound(model, params, hp, wp)
    if bound > cap:
        raise BitstreamError(
            f"decoding a {c.height}x{c.width} image with {model.name} may need {bound / 2**30:.1f} GiB, over "
            f"the cap of {cap / 2**30:.1f} GiB; if the file is genuine, raise ${MAX_DECODE_BYTES_ENV}")


def _check_tiled_pixels(c: Container) -> None:
    from jlic.data.image import ImageReadError, max_pixels_limit

    try:
        cap = max_pixels_limit()
    except ImageReadError as e:
        raise BitstreamError(str(e)) from None
    if c.height * c.width > cap:
        raise BitstreamError(f"tiled {c.height}x{c.width} image has more than {cap} pixels; if the file is "
                             "genuine, raise $JLIC_MAX_PIXELS")
