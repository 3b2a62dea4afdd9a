"""Sequential latent coding of overfitted codecs: the fixed-point ARM and a 16-bit-word rANS, numba-compiled.

Cool-chic decodes its latents one at a time in raster order (Ladune et al., arXiv 2212.05458; the low-complexity
decoder of Leguay et al., arXiv 2307.12706, runs in tens of ms on one CPU core). A per-latent loop in numpy
would be far too slow, and constriction's coder has no per-symbol entry point cheap enough, so this module
compiles the whole decoder loop with numba: for each latent, gather its causal context from the already decoded
buffer, evaluate the integer ARM (`jlic.models.coolchic.make_arm_fixed` is the numpy reference it must equal),
pick the Laplace table row and decode one symbol with rANS (Duda, arXiv 1311.2540; 32-bit state, 16-bit
words, the layout of Giesen's `rans_byte` with 16-bit renormalization).

Exact integer arithmetic throughout: values carry `FIXED_BITS` fractional bits, weights are `w 2^k`, a layer
is `floor(sum(h w) 2^-k) + b`, all integers below 2^53 held in float64 (exact in any summation order). So the
table indexes are the same on every machine, and equal to the numpy reference's.

A latent whose whole context is zero (most of them at low rates) gets the ARM output of an all-zero context,
computed once: same result, no network evaluation.

Stream: `uint16` little-endian words; the decoder reads the final encoder state (2 words) first, and must end
with the initial state `2^16` and every word consumed, which catches most corrupt or cut streams.
"""

from __future__ import annotations

import numba
import numpy as np

from jlic.entropy import cdf as cdf_mod

RANS_L = 1 << 16  # lower bound of the rANS state; state in [2^16, 2^32)

# status codes of the compiled decoder
OK, CUT, ESCAPE, RANGE, TRAILING = 0, 1, 2, 3, 4
MESSAGES = {CUT: "latent stream ends too early (cut or corrupt file)",
            ESCAPE: "escape symbol in the latent stream (corrupt file)",
            RANGE: "decoded latent outside its range (corrupt file)",
            TRAILING: "latent stream has trailing data or a wrong final state (corrupt file)"}


class Arm:
    """The integer ARM packed for the compiled kernels, as integer-valued float64: `w (L, O, I)`, `b (L, O)`
    (biases with FIXED_BITS fractional bits), `dims (L + 1,)` the widths, `inv_w = 2^-k` of the weights'
    exponent, `lim` the mean clip, `mid` the scale-bin boundaries, `num_fracs`."""

    def __init__(self, arm_int: dict[str, list[np.ndarray]], exps: dict[str, int], fixed_bits: int,
                 latent_max: int, log_scales: np.ndarray, num_fracs: int):
        ws = [np.asarray(w, np.float64) for w in arm_int["w"]]
        dims = [ws[0].shape[0]] + [w.shape[1] for w in ws]
        big = max(dims)
        self.w = np.zeros((len(ws), big, big), np.float64)  # (layer, out, in): the inner loop is contiguous
        self.b = np.zeros((len(ws), big), np.float64)
        kb = int(exps["b"])
        for i, (w, b) in enumerate(zip(ws, arm_int["b"], strict=True)):
            self.w[i, : w.shape[1], : w.shape[0]] = w.T
            self.b[i, : w.shape[1]] = np.asarray(b, np.float64) * float(1 << (fixed_bits - kb))
        self.dims = np.asarray(dims, np.int64)
        self.inv_w = 1.0 / float(1 << int(exps["w"]))
        self.fixed_bits = fixed_bits
        self.lim = float(int(latent_max) << fixed_bits)
        one = float(1 << fixed_bits)
        self.mid = np.floor((log_scales[1:] + log_scales[:-1]) / 2 * one)
        self.num_fracs = int(num_fracs)

    def args(self) -> tuple:
        return self.w, self.b, self.dims, self.inv_w, self.fixed_bits, self.lim, self.mid, self.num_fracs


@numba.njit(cache=True, nogil=True, inline="always")
def _arm_one(ctx, h, h2, w, b, dims, inv_w, p, lim, mid, nf):  # pragma: no cover - compiled
    """(round(mean), table row) of one context `ctx` (float64 integer latents); `h`, `h2` scratch.

    Every value is an integer below 2^53 held in float64 (as in `coolchic.make_arm_fixed`), so products,
    sums and `floor(x 2^-k)` are exact in any order; float64 multiply-adds vectorize, int64 ones do not."""
    one = float(1 << p)
    n = dims[0]
    for i in range(n):
        h[i] = ctx[i] * one
    layers = dims.shape[0] - 1
    for layer in range(layers):
        fan_in, fan_out = dims[layer], dims[layer + 1]
        for o in range(fan_out):
            acc = 0.0
            for i in range(fan_in):
                acc += h[i] * w[layer, o, i]
            v = np.floor(acc * inv_w) + b[layer, o]
            if layer < layers - 1 and v < 0.0:
                v = 0.0
            h2[o] = v
        for o in range(fan_out):
            h[o] = h2[o]
    mu = min(max(h[0], -lim), lim)
    rounded = np.floor((mu + one / 2) / one)
    frac = mu - rounded * one
    fb = int(np.floor((frac + one / 2) * (nf / one)))
    if fb > nf - 1:
        fb = nf - 1
    # searchsorted(mid, h[1], side="right"): the number of boundaries <= h[1]
    lo, hi = 0, mid.shape[0]
    while lo < hi:
        m = (lo + hi) >> 1
        if mid[m] <= h[1]:
            lo = m + 1
        else:
            hi = m
    return int(rounded), lo * nf + fb


@numba.njit(cache=True, nogil=True)
def arm_rows(ctx, w, b, dims, inv_w, p, lim, mid, nf):  # pragma: no cover - compiled
    """`(round(mean), table row)` of every context row of `ctx (N, C)` int64."""
    n = ctx.shape[0]
    rounded = np.empty(n, np.int64)
    rows = np.empty(n, np.int64)
    big = w.shape[1]
    h = np.zeros(big, np.float64)
    h2 = np.zeros(big, np.float64)
    ctx = ctx.astype(np.float64)
    for j in range(n):
        rounded[j], rows[j] = _arm_one(ctx[j], h, h2, w, b, dims, inv_w, p, lim, mid, nf)
    return rounded, rows


@numba.njit(cache=True, nogil=True)
def rans_encode(symbols, rows, cdf, precision):  # pragma: no cover - compiled
    """uint16 words of `symbols` (indexes into the rows of `cdf`), decodable front to back."""
    n = symbols.shape[0]
    out = np.empty(n + 2, np.uint16)
    k = 0
    x = np.uint64(RANS_L)
    for j in range(n - 1, -1, -1):
        r, s = rows[j], symbols[j]
        start = np.uint64(cdf[r, s])
        freq = np.uint64(cdf[r, s + 1]) - start
        if x >= (freq << np.uint64(16)):
            if k >= out.shape[0]:
                grown = np.empty(out.shape[0] * 2, np.uint16)
                grown[:k] = out[:k]
                out = grown
            out[k] = np.uint16(x & np.uint64(0xFFFF))
            k += 1
            x >>= np.uint64(16)
        x = ((x // freq) << np.uint64(precision)) + (x % freq) + start
    if k + 2 > out.shape[0]:
        grown = np.empty(k + 2, np.uint16)
        grown[:k] = out[:k]
        out = grown
    out[k] = np.uint16(x & np.uint64(0xFFFF))
    out[k + 1] = np.uint16(x >> np.uint64(16))
    return out[: k + 2][::-1].copy()


@numba.njit(cache=True, nogil=True)
def decode_all(words, buf, grids, rel, w, b, dims, inv_w, p, lim, mid, nf, cdf, cdf_len, precision,
               latent_max):  # pragma: no cover - compiled
    """Decode every latent into the zero-padded buffer `buf` (int64), grid by grid in raster order.

    `grids (G, 6)`: base, h, w, stride, top, side of each grid's block; `rel (G, C)` each grid's context
    offsets in the buffer. Returns a status code (`OK`, `CUT`, ...)."""
    nw = words.shape[0]
    if nw < 2:
        return CUT
    x = (np.uint64(words[0]) << np.uint64(16)) | np.uint64(words[1])
    pos = 2
    c = rel.shape[1]
    big = w.shape[1]
    h = np.zeros(big, np.float64)
    h2 = np.zeros(big, np.float64)
    ctx = np.zeros(c, np.float64)
    zero_rounded, zero_row = _arm_one(ctx, h, h2, w, b, dims, inv_w, p, lim, mid, nf)
    mask = np.uint64((1 << precision) - 1)
    escape_base = 4 * latent_max + 1
    centre = 2 * latent_max
    for g in range(grids.shape[0]):
        base, gh, gw, stride, top, side = grids[g, 0], grids[g, 1], grids[g, 2], grids[g, 3], grids[g, 4], \
            grids[g, 5]
        for r in range(gh):
            row_start = base + (r + top) * stride + side
            for col in range(gw):
                at = row_start + col
                nonzero = False
                for j in range(c):
                    v = buf[at + rel[g, j]]
                    ctx[j] = v
                    if v != 0:
                        nonzero = True
                if nonzero:
                    rounded, row = _arm_one(ctx, h, h2, w, b, dims, inv_w, p, lim, mid, nf)
                else:
                    rounded, row = zero_rounded, zero_row
                slot = np.int64(x & mask)
                # find s with cdf[s] <= slot < cdf[s + 1], walking out from the centre symbol (k = 0, where
                # the mass of a Laplace around round(mean) is): a step or two for almost every symbol
                lo = centre
                if cdf[row, lo] > slot:
                    while cdf[row, lo] > slot:
                        lo -= 1
                else:
                    last = cdf_len[row] - 2
                    while lo < last and cdf[row, lo + 1] <= slot:
                        lo += 1
                start = np.uint64(cdf[row, lo])
                freq = np.uint64(cdf[row, lo + 1]) - start
                x = freq * (x >> np.uint64(precision)) + np.uint64(slot) - start
                if x < np.uint64(RANS_L):
                    if pos >= nw:
                        return CUT
                    x = (x << np.uint64(16)) | np.uint64(words[pos])
                    pos += 1
                if lo >= escape_base:
                    return ESCAPE
                y = lo - 2 * latent_max + rounded
                if y > latent_max or y < -latent_max:
                    return RANGE
                buf[at] = y
    if x != np.uint64(RANS_L) or pos != nw:
        return TRAILING
    return OK


def table_arrays(tables: cdf_mod.CdfTables) -> tuple[np.ndarray, np.ndarray]:
    """`(cdf int64, cdf_length int64)` of jlic CDF tables, for the kernels."""
    return tables.cdf.astype(np.int64), tables.cdf_length.astype(np.int64)
