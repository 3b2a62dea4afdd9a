"""A self-contained `.jlic` file for an overfitted codec: architecture, weights and latents, all entropy-coded.

Container (`jlic.entropy.bitstream`, model name = the preset's name, config hash of the architecture and the
coding constants) with three streams:

0. header, 21 bytes: the architecture (11 bytes: `CoolChicConfig` fields) and per weight group its step
   exponent and its Laplace table row (2 x 5 bytes);
1. weights: the integers of every group, one ANS stream (`jlic.entropy.coder.Coder` over zero-mean Laplace
   tables, escape codes beyond their support);
2. latents: one rANS stream of 16-bit words (`jlic.overfit.latent_coding`), grid 0 first, each grid in
   raster order.

Latents are decoded one at a time by one numba-compiled loop (`latent_coding.decode_all`): context gather, the
exact integer ARM (equal to `coolchic.make_arm_fixed`, the numpy reference), table row, one rANS symbol. Format
2 (in `coding_constants`, hence in the config hash): format-1 files (wavefront-ordered constriction streams) are
refused by the hash check.
"""

from __future__ import annotations

import functools
import struct
from typing import Any

import numpy as np

from jlic.entropy import bitstream, cdf, laplace
from jlic.entropy.bitstream import BitstreamError
from jlic.entropy.coder import Coder
from jlic.models import coolchic
from jlic.overfit import latent_coding as LC
from jlic.overfit import weights as W

PRECISION = 16
_CONFIG_FIELDS = ("num_grids", "arm_context", "arm_hidden", "arm_layers", "synth_hidden", "synth_residual",
                  "latent_max", "synth_layers", "synth_gelu", "fixed_upsampling", "context_square")
_HEADER = struct.Struct(f"<{len(_CONFIG_FIELDS)}B10B")
LOG_SCALES = laplace.log_scale_table()
NUM_FRACS = laplace.NUM_FRACS


def coding_constants() -> dict[str, Any]:
    """What the decoder must share with the encoder besides the file (hashed into the container)."""
    return {"precision": PRECISION, "num_fracs": NUM_FRACS, "scales": [laplace.SCALE_MIN, laplace.SCALE_MAX,
            laplace.NUM_SCALES], "fixed_bits": coolchic.FIXED_BITS, "offsets": coolchic.CONTEXT_OFFSETS,
            "square_offsets": coolchic.SQUARE_OFFSETS,
            "weight_scales": len(W.WEIGHT_LOG_SCALES), "format": 2}


def model_hash(name: str, config: coolchic.CoolChicConfig) -> bytes:
    return bitstream.config_hash(name, {**config.to_dict(), **coding_constants()})


@functools.lru_cache(maxsize=4)
def latent_tables(latent_max: int) -> cdf.CdfTables:
    """CDF tables of `y - round(mean)` in `[-2 K, 2 K]` (K = latent_max), one row per (scale, fraction)."""
    support = 2 * latent_max
    pmf = laplace.pmf_table(LOG_SCALES, NUM_FRACS, support)
    rows = pmf.shape[0]
    return cdf.from_pmf(pmf, np.full(rows, -support), np.full(rows, 2 * support + 1), PRECISION)


@functools.lru_cache(maxsize=4)
def latent_arrays(latent_max: int) -> tuple[np.ndarray, np.ndarray]:
    """`latent_tables` as the compiled coder's int64 arrays `(cdf, cdf_length)`."""
    return LC.table_arrays(latent_tables(latent_max))


class Schedule:
    """Raster order of all latents of all grids (grid 0 first) in one flat, zero-padded buffer.

    Attributes: `pos` (N,) buffer index of each latent in decode order, `ctx` (N, C) buffer indexes of its
    context, `size` buffer length, `grids` `(G, 6)` int64 rows `(start, h, w, row stride, top, side)` of each
    grid's block, `rel` `(G, C)` each grid's context offsets in the buffer.
    """

    def __init__(self, shapes: list[tuple[int, int]], offsets: tuple[tuple[int, int], ...]):
        top = max(-dr for dr, _ in offsets)
        side = max(abs(dc) for _, dc in offsets)
        pos, rels, grids = [], [], []
        base = 0
        for h, w in shapes:
            stride = w + 2 * side
            r, c = np.divmod(np.arange(h * w), w)
            pos.append(base + (r + top) * stride + (c + side))
            rels.append([dr * stride + dc for dr, dc in offsets])
            grids.append((base, h, w, stride, top, side))
            base += (h + top) * stride
        self.pos = np.concatenate(pos)
        self.rel = np.asarray(rels, np.int64)
        self._per_grid = pos
        self.grids = np.asarray(grids, np.int64)
        self.size = base

    @property
    def ctx(self) -> np.ndarray:
        """`(N, C)` buffer indexes of each latent's context (the encoder's gather; the decoder needs none)."""
        per_grid = zip(self._per_grid, self.rel, strict=True)
        return np.concatenate([p[:, None] + rel[None, :] for p, rel in per_grid])

    def fill(self, latents: list[np.ndarray]) -> np.ndarray:
        buf = np.zeros(self.size, np.int64)
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


def packed_arm(arm: dict, aexp: dict, config: coolchic.CoolChicConfig) -> LC.Arm:
    """The integer ARM packed for `jlic.overfit.latent_coding`'s compiled kernels."""
    return LC.Arm(arm, aexp, coolchic.FIXED_BITS, config.latent_max, LOG_SCALES, NUM_FRACS)


def _symbols(arm: dict, aexp: dict, ctx_vals: np.ndarray, config: coolchic.CoolChicConfig
             ) -> tuple[np.ndarray, np.ndarray]:
    """`(round(mean), table row)` of integer contexts `(N, C)` (the compiled exact ARM)."""
    return LC.arm_rows(np.ascontiguousarray(ctx_vals, np.int64), *packed_arm(arm, aexp, config).args())


def encode_latents(latents: list[np.ndarray], config: coolchic.CoolChicConfig, arm: dict, aexp: dict) -> bytes:
    sched = Schedule([g.shape for g in latents], config.offsets)
    buf = sched.fill(latents)
    rounded, rows = _symbols(arm, aexp, buf[sched.ctx], config)
    k = buf[sched.pos] - rounded + 2 * config.latent_max
    if k.min() < 0 or k.max() > 4 * config.latent_max:
        raise ValueError("latent outside the coded range")
    cdf_arr, _ = latent_arrays(config.latent_max)
    return LC.rans_encode(k, rows, cdf_arr, PRECISION).astype("<u2", copy=False).tobytes()


def decode_latents(data: bytes, shapes: list[tuple[int, int]], config: coolchic.CoolChicConfig, arm: dict,
                   aexp: dict) -> list[np.ndarray]:
    if len(data) % 2:
        raise BitstreamError(f"latent stream has {len(data)} bytes, not a multiple of 2")
    sched = Schedule(shapes, config.offsets)
    cdf_arr, cdf_len = latent_arrays(config.latent_max)
    buf = np.zeros(sched.size, np.int64)
    words = np.frombuffer(data, "<u2").astype(np.uint16)
    status = LC.decode_all(words, buf, sched.grids, sched.rel, *packed_arm(arm, aexp, config).args(), cdf_arr,
                           cdf_len, PRECISION, config.latent_max)
    if status != LC.OK:
        raise BitstreamError(LC.MESSAGES[status])
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
        raise BitstreamError(f"coolchic file must hold a {_HEADER.size}-byte header and two coded streams")
    vals = _HEADER.unpack(box.streams[0])
    nf = len(_CONFIG_FIELDS)
    try:
        config = coolchic.CoolChicConfig(**dict(zip(_CONFIG_FIELDS, vals[:nf], strict=True)))
    except ValueError as e:
        raise BitstreamError(f"invalid architecture in the header: {e}") from None
    if model_hash(box.model_name, config) != box.config_hash:
        raise BitstreamError("header does not match the file's config hash (corrupt or foreign file)")
    groups = [g for g in W.GROUPS if g != ("ups", "b")]
    exps = {g: vals[nf + 2 * i] for i, g in enumerate(groups)}
    bins = {g: vals[nf + 1 + 2 * i] for i, g in enumerate(groups)}
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
def _decoder(height: int, width: int, config: coolchic.CoolChicConfig) -> Any:
    import jax

    return jax.jit(lambda nets, lat: coolchic.decode_uint8_planes(nets, lat, height, width, config))


def reconstruct(q: W.Quantized) -> np.ndarray:
    """uint8 (H, W, 3) image of a quantized codec (the same jitted function for encoder and decoder)."""
    p = q.params()
    planes = _decoder(q.height, q.width, q.config)({"ups": p["ups"], "synth": p["synth"]}, p["latents"])
    return np.ascontiguousarray(np.moveaxis(np.asarray(planes), 0, -1))


def decode(data: bytes) -> np.ndarray:
    """`.jlic` bytes -> uint8 (H, W, 3) image."""
    return reconstruct(decode_quantized(data))
