"""A self-contained `.jlic` file for an overfitted codec: architecture, weights and latents, all entropy-coded.

Container (`jlic.coding.bitstream`, model name = the preset's name, config hash of the architecture and the
coding constants) with three streams:

0. header, 17 bytes: the architecture (7 bytes: `CoolChicConfig` fields) and per weight group its step
   exponent and its Laplace table row (2 x 5 bytes);
1. weights: the integers of every group, one ANS stream (`jlic.coding.coder.Coder` over zero-mean Laplace
   tables, escape codes beyond their support);
2. latents: one ANS stream, coded in the decoder's order.

Latent decoding is a wavefront: latent `(r, c)` of a grid depends on neighbours `(r + dr, c + dc)` with
`dr < 0`, or `dr = 0, dc < 0`, so all latents with the same `t = a r + c` (`a` = 1 + the largest
`floor(dc / -dr)`) are independent given the earlier ones, and every grid's wavefront `t` is decoded in the
same step: `3 (H - 1) + W` steps for the default 8-neighbour context, each a few small matrix products of the
fixed-point ARM (`coolchic.arm_fixed`) plus one `constriction` call with the rows of the quantized CDF tables
as a categorical model family. Table rows are exact: the weights `2^(24 - precision) count - 1` make
constriction's fixed-point model equal to jlic's integer CDFs (see `jlic.coding.coder`).
"""

from __future__ import annotations

import functools
import struct
from typing import Any

import constriction
import numpy as np

from jlic.coding import bitstream, cdf
from jlic.coding.bitstream import BitstreamError
from jlic.coding.coder import Coder
from jlic.entropy import laplace
from jlic.models import coolchic
from jlic.overfit import weights as W

PRECISION = 16
_CODER_PRECISION = 24
_CONFIG_FIELDS = ("num_grids", "arm_context", "arm_hidden", "arm_layers", "synth_hidden", "synth_residual",
                  "latent_max")
_HEADER = struct.Struct("<7B10B")
_CHUNK = 1 << 15
LOG_SCALES = laplace.log_scale_table()
NUM_FRACS = laplace.NUM_FRACS


def coding_constants() -> dict[str, Any]:
    """What the decoder must share with the encoder besides the file (hashed into the container)."""
    return {"precision": PRECISION, "num_fracs": NUM_FRACS, "scales": [laplace.SCALE_MIN, laplace.SCALE_MAX,
            laplace.NUM_SCALES], "fixed_bits": coolchic.FIXED_BITS, "offsets": coolchic.CONTEXT_OFFSETS,
            "weight_scales": len(W.WEIGHT_LOG_SCALES), "format": 1}


def model_hash(name: str, config: coolchic.CoolChicConfig) -> bytes:
    return bitstream.config_hash(name, {**config.to_dict(), **coding_constants()})


@functools.lru_cache(maxsize=4)
def latent_tables(latent_max: int) -> tuple[cdf.CdfTables, np.ndarray]:
    """CDF tables of `y - round(mean)` in `[-2 K, 2 K]` (K = latent_max), and the rows as float32 weights
    of a constriction categorical family (support + escape)."""
    support = 2 * latent_max
    pmf = laplace.pmf_table(LOG_SCALES, NUM_FRACS, support)
    rows = pmf.shape[0]
    tables = cdf.from_pmf(pmf, np.full(rows, -support), np.full(rows, 2 * support + 1), PRECISION)
    counts = tables.counts()[:, : 2 * support + 2].astype(np.float64)
    family = (counts * float(1 << (_CODER_PRECISION - PRECISION)) - 1.0).astype(np.float32)
    return tables, family


class Schedule:
    """Wavefront order of all latents of all grids in one flat, zero-padded buffer.

    Attributes: `pos` (N,) buffer index of each latent in decode order, `ctx` (N, C) buffer indexes of its
    context, `bounds` (steps + 1,) start of each step in that order, `size` buffer length, `grids` the list
    of `(start, h, w, row stride)` of each grid's block.
    """

    def __init__(self, shapes: list[tuple[int, int]], offsets: tuple[tuple[int, int], ...]):
        top = max(-dr for dr, _ in offsets)
        side = max(abs(dc) for _, dc in offsets)
        slope = 1 + max([dc // -dr for dr, dc in offsets if dr < 0] + [0])
        pos, ctx, t_all, gid = [], [], [], []
        base = 0
        self.grids = []
        for g, (h, w) in enumerate(shapes):
            stride = w + 2 * side
            r, c = np.divmod(np.arange(h * w), w)
            flat = base + (r + top) * stride + (c + side)
            rel = np.array([dr * stride + dc for dr, dc in offsets], np.int64)
            pos.append(flat)
            ctx.append(flat[:, None] + rel[None, :])
            t_all.append(slope * r + c)
            gid.append(np.full(h * w, g))
            self.grids.append((base, h, w, stride, top, side))
            base += (h + top) * stride
        t_all, gid = np.concatenate(t_all), np.concatenate(gid)
        order = np.lexsort((gid, t_all))
        self.pos = np.concatenate(pos)[order]
        self.ctx = np.concatenate(ctx)[order]
        t_sorted = t_all[order]
        self.bounds = np.searchsorted(t_sorted, np.arange(t_sorted.max() + 2))
        self.size = base

    def fill(self, latents: list[np.ndarray]) -> np.ndarray:
        buf = np.zeros(self.size, np.float64)
        for (base, h, w, stride, top, side), g in zip(self.grids, latents, strict=True):
            view = buf[base: base + (h + top) * stride].reshape(h + top, stride)
            view[top:, side: side + w] = g
        return buf

    def grids_from(self, buf: np.ndarray) -> list[np.ndarray]:
        out = []
        for base, h, w, stride, top, side in self.grids:
            view = buf[base: base + (h + top) * stride].reshape(h + top, stride)
            out.append(view[top:, side: side + w].astype(np.int32))
        return out


def _arm_int(q: W.Quantized | dict, config: coolchic.CoolChicConfig, height: int, width: int,
             ints: dict, exps: dict) -> tuple[dict[str, list[np.ndarray]], dict[str, int]]:
    tree = W.shapes(config, height, width)
    arm = {kind: [np.asarray(a, np.float64) for a in W.unflatten(tree["arm"][kind], ints[("arm", kind)])]
           for kind in ("w", "b")}
    return arm, {"w": exps[("arm", "w")], "b": exps[("arm", "b")]}


def _symbols(arm: dict, aexp: dict, ctx_vals: np.ndarray, config: coolchic.CoolChicConfig,
             fixed: Any = None) -> tuple[np.ndarray, np.ndarray]:
    fixed = fixed or coolchic.make_arm_fixed(arm, aexp, config, LOG_SCALES, NUM_FRACS)
    rounded, frac_bin, scale_bin = fixed(ctx_vals)
    return rounded, laplace.table_row(frac_bin, scale_bin, NUM_FRACS)


def encode_latents(latents: list[np.ndarray], config: coolchic.CoolChicConfig, arm: dict, aexp: dict) -> bytes:
    sched = Schedule([g.shape for g in latents], config.offsets)
    buf = sched.fill(latents)
    y = buf[sched.pos].astype(np.int64)
    rounded, rows = _symbols(arm, aexp, buf[sched.ctx], config)
    k = y - rounded + 2 * config.latent_max
    if k.min() < 0 or k.max() > 4 * config.latent_max:
        raise ValueError("latent outside the coded range")
    _, family = latent_tables(config.latent_max)
    model = constriction.stream.model.Categorical(perfect=False)
    coder = constriction.stream.stack.AnsCoder()
    k = k.astype(np.int32)
    for start in range((len(k) - 1) // _CHUNK * _CHUNK, -1, -_CHUNK):
        sl = slice(start, start + _CHUNK)
        coder.encode_reverse(k[sl], model, family[rows[sl]])
    return coder.get_compressed().astype("<u4", copy=False).tobytes()


def decode_latents(data: bytes, shapes: list[tuple[int, int]], config: coolchic.CoolChicConfig, arm: dict,
                   aexp: dict) -> list[np.ndarray]:
    if len(data) % 4:
        raise BitstreamError(f"latent stream has {len(data)} bytes, not a multiple of 4")
    sched = Schedule(shapes, config.offsets)
    _, family = latent_tables(config.latent_max)
    model = constriction.stream.model.Categorical(perfect=False)
    escape = 4 * config.latent_max + 1
    buf = np.zeros(sched.size, np.float64)
    try:
        coder = constriction.stream.stack.AnsCoder(np.frombuffer(data, "<u4").astype(np.uint32))
        bounds, pos, ctx = sched.bounds, sched.pos, sched.ctx
        fixed = coolchic.make_arm_fixed(arm, aexp, config, LOG_SCALES, NUM_FRACS)
        for s in range(len(bounds) - 1):
            a, b = bounds[s], bounds[s + 1]
            rounded, rows = _symbols(arm, aexp, buf[ctx[a:b]], config, fixed)
            k = np.asarray(coder.decode(model, family[rows]), np.int64)
            if k.max() >= escape:
                raise BitstreamError("escape symbol in the latent stream (corrupt file)")
            y = k - 2 * config.latent_max + rounded
            if np.abs(y).max() > config.latent_max:
                raise BitstreamError("decoded latent outside its range (corrupt file)")
            buf[pos[a:b]] = y
    except (ValueError, RuntimeError, OverflowError) as e:
        if isinstance(e, BitstreamError):
            raise
        raise BitstreamError(f"latent stream cannot be decoded: {e}") from None
    if not coder.is_empty():
        raise BitstreamError("latent stream has trailing data (corrupt file)")
    return sched.grids_from(buf)


def encode(q: W.Quantized, name: str = "coolchic") -> bytes:
    """The `.jlic` bytes of a quantized codec."""
    c = q.config
    groups = [g for g in W.GROUPS if g in q.ints]
    if groups != [g for g in W.GROUPS if g != ("ups", "b")]:
        raise ValueError(f"unexpected weight groups {groups}")
    bins = [W.scale_bin(q.ints[g]) for g in groups]
    header = _HEADER.pack(*(getattr(c, f) for f in _CONFIG_FIELDS),
                          *[v for g, b in zip(groups, bins, strict=True) for v in (q.exps[g], b)])
    wt = W.tables()
    flat = np.concatenate([q.ints[g] for g in groups]).astype(np.int32)
    idx = np.concatenate([np.full(q.ints[g].size, b) for g, b in zip(groups, bins, strict=True)])
    wstream = Coder(wt).encode(flat, idx)
    arm, aexp = _arm_int(q, c, q.height, q.width, q.ints, q.exps)
    lstream = encode_latents(q.latents, c, arm, aexp)
    container = bitstream.Container(name, model_hash(name, c), q.height, q.width,
                                    streams=[header, wstream, lstream])
    return bitstream.pack(container)


def read_header(data: bytes) -> tuple[bitstream.Container, coolchic.CoolChicConfig, dict, dict]:
    """Parse and check the container and header: `(container, config, exps, table rows)`."""
    box = bitstream.unpack(data)
    if box.model_name not in coolchic.PRESETS and not box.model_name.startswith("coolchic"):
        raise BitstreamError(f"{box.model_name!r} is not an overfitted (coolchic) file")
    if len(box.streams) != 3 or len(box.streams[0]) != _HEADER.size:
        raise BitstreamError("coolchic file must hold a 17-byte header and two coded streams")
    vals = _HEADER.unpack(box.streams[0])
    try:
        config = coolchic.CoolChicConfig(**dict(zip(_CONFIG_FIELDS, vals[:7], strict=True)))
    except ValueError as e:
        raise BitstreamError(f"invalid architecture in the header: {e}") from None
    if model_hash(box.model_name, config) != box.config_hash:
        raise BitstreamError("header does not match the file's config hash (corrupt or foreign file)")
    groups = [g for g in W.GROUPS if g != ("ups", "b")]
    exps = {g: vals[7 + 2 * i] for i, g in enumerate(groups)}
    bins = {g: vals[8 + 2 * i] for i, g in enumerate(groups)}
    if any(not 0 <= e <= coolchic.MAX_STEP_EXP for e in exps.values()):
        raise BitstreamError("weight step exponent out of range")
    if any(b >= len(W.WEIGHT_LOG_SCALES) for b in bins.values()):
        raise BitstreamError("weight table row out of range")
    return box, config, exps, bins


def decode_weights(data: bytes) -> tuple[Any, Any, dict, dict, Any, Any]:
    """Header and weights of `.jlic` bytes: (container, config, weight exponents, integer weights by group,
    and the integer ARM with its exponents that the latents' decoder needs)."""
    box, config, exps, bins = read_header(data)
    h, w = box.height, box.width
    tree = W.shapes(config, h, w)
    groups = list(exps)
    sizes = [sum(int(np.prod(t.shape)) for t in tree[m][k]) for m, k in groups]
    idx = np.concatenate([np.full(n, bins[g]) for g, n in zip(groups, sizes, strict=True)])
    flat = Coder(W.tables()).decode(box.streams[1], idx)
    ints, pos = {}, 0
    for g, n in zip(groups, sizes, strict=True):
        ints[g] = flat[pos:pos + n]
        pos += n
    arm, aexp = _arm_int(None, config, h, w, ints, exps)
    return box, config, exps, ints, arm, aexp


def decode_quantized(data: bytes) -> W.Quantized:
    """The quantized codec stored in `.jlic` bytes (weights and integer latents)."""
    box, config, exps, ints, arm, aexp = decode_weights(data)
    h, w = box.height, box.width
    latents = decode_latents(box.streams[2], coolchic.grid_shapes(h, w, config.num_grids), config, arm, aexp)
    return W.Quantized(config, h, w, latents, ints, exps)


@functools.lru_cache(maxsize=8)
def _decoder(height: int, width: int) -> Any:
    import jax

    return jax.jit(lambda nets, lat: coolchic.decode_image(nets, lat, height, width))


def reconstruct(q: W.Quantized) -> np.ndarray:
    """uint8 (H, W, 3) image of a quantized codec (the same jitted function for encoder and decoder)."""
    p = q.params()
    x = _decoder(q.height, q.width)({"ups": p["ups"], "synth": p["synth"]}, p["latents"])
    return coolchic.to_uint8(x)


def decode(data: bytes) -> np.ndarray:
    """`.jlic` bytes -> uint8 (H, W, 3) image."""
    return reconstruct(decode_quantized(data))
