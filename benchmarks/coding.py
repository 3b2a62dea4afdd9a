"""Entropy-coding benchmark: jlic's coder vs CompressAI's rANS on Kodak-sized latents.

Run: ``python -m benchmarks.coding [--repeats 5] [--seed 0] [--no-record]``

Latents: a y of 192 x 32 x 48 (a 512 x 768 Kodak image at stride 16) with Gaussian scales drawn
log-normally (median 0.6, most mass below 2, tail to 256: the shape of a trained hyperprior's scales),
coded with the 64-entry scale table; plus a z of 128 x 8 x 12 with factorized tables from freshly
initialised factorized-prior parameters. Symbols are sampled from the continuous models, and a few
large outliers (escapes) are injected.

Printed, in one run:
* real bits / (-sum log2 p) under the *quantized integer tables* (coder overhead) and under the continuous
  likelihoods (table quantization + scale rounding + coder), excluding the .jlic header;
* encode and decode symbols/s of jlic (ANS and range backends) and of CompressAI's ``RansEncoder`` /
  ``RansDecoder`` on the same symbols and the same integer tables (CompressAI is skipped with a message if
  it cannot be imported); for CompressAI both the coder call alone and the call including the Python list
  conversion its ``EntropyModel.compress`` performs;
* the ratios (times are the minimum over ``--repeats`` runs of the calling thread's CPU time by
  default, since the machine may be shared; ``--clock wall`` for elapsed time); and a JSON record is
  appended to ``benchmarks/results/coding-<date>.jsonl``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks.records import append_record
from jlic.coding import cdf
from jlic.coding.coder import BACKENDS, Coder
from jlic.entropy import factorized, gaussian


def make_latents(seed: int = 0) -> dict[str, Any]:
    """Symbols, table indexes, integer tables and continuous -log2 p for a Kodak-sized y and z."""
    rng = np.random.default_rng(seed)
    # y: (32, 48, 192) with log-normal scales.
    shape_y = (32, 48, 192)
    sigma = np.clip(np.exp(rng.normal(np.log(0.6), 1.1, shape_y)), 0.11, 256.0).astype(np.float32)
    y = np.rint(rng.normal(size=shape_y) * sigma).astype(np.int32)
    outliers = rng.choice(y.size, 20, replace=False)
    y.flat[outliers] = rng.integers(-(10**6), 10**6, 20)
    y_index = np.asarray(gaussian.scale_index(jnp.asarray(sigma)), np.int32)
    y_tables = cdf.from_pmf(*gaussian.pmf_table())
    y_bits_cont = -np.log2(np.asarray(gaussian.likelihood(jnp.asarray(y, jnp.float32), jnp.asarray(sigma)),
                                      np.float64)).sum()
    # z: (8, 12, 128) with factorized tables, sampled from the tables' own pmf.
    eb = factorized.init(jax.random.PRNGKey(seed), 128)
    pmf, offset, length = factorized.pmf_table(eb)
    z_tables = cdf.from_pmf(pmf, offset, length)
    shape_z = (8, 12, 128)
    z_index = np.broadcast_to(np.arange(128, dtype=np.int32), shape_z).copy()
    cum = np.cumsum(pmf, axis=1)
    u = rng.random(shape_z) * cum[z_index, -1]
    k = (cum[z_index] < u[..., None]).sum(-1)
    z = (k + offset[z_index]).astype(np.int32)
    med = np.asarray(factorized.medians(eb))
    z_lik = factorized.likelihood(eb, jnp.asarray(z + med, jnp.float32))
    z_bits_cont = -np.log2(np.asarray(z_lik, np.float64)).sum()
    return {
        "y": (y, y_index, y_tables, y_bits_cont),
        "z": (z, z_index, z_tables, z_bits_cont),
    }


CLOCKS = {"cpu": time.thread_time, "wall": time.perf_counter}
_clock = CLOCKS["cpu"]


def best_time(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    """Minimum time (of the selected clock) over ``repeats`` calls, and the last result."""
    best, out = float("inf"), None
    for _ in range(repeats):
        t = _clock()
        out = fn()
        best = min(best, _clock() - t)
    return best, out


def bench_jlic(latents: dict[str, Any], backend: str, repeats: int) -> dict[str, float]:
    enc_t = dec_t = 0.0
    nbytes = 0
    for symbols, indexes, tables, _ in latents.values():
        coder = Coder(tables, backend)
        coder.encode(symbols, indexes)  # build the constriction models once (cached per table)
        te, data = best_time(lambda c=coder, s=symbols, i=indexes: c.encode(s, i), repeats)
        td, out = best_time(lambda c=coder, d=data, i=indexes: c.decode(d, i), repeats)
        if not np.array_equal(out, symbols):
            raise AssertionError(f"jlic {backend} round trip failed")
        enc_t, dec_t, nbytes = enc_t + te, dec_t + td, nbytes + len(data)
    return {"encode_s": enc_t, "decode_s": dec_t, "bytes": nbytes}


def bench_compressai(latents: dict[str, Any], repeats: int) -> dict[str, float] | None:
    try:
        from compressai.ans import RansDecoder, RansEncoder
    except Exception as e:  # noqa: BLE001 - any import failure means "peer not available"
        print(f"CompressAI not importable ({type(e).__name__}: {e}); skipping the peer.")
        return None
    enc_t = dec_t = enc_list_t = dec_list_t = 0.0
    nbytes = 0
    for symbols, indexes, tables, _ in latents.values():
        cdfs = [row[:n].tolist() for row, n in zip(tables.cdf, tables.cdf_length, strict=True)]
        lengths, offsets = tables.cdf_length.tolist(), tables.offset.tolist()
        s_list, i_list = symbols.reshape(-1).tolist(), indexes.reshape(-1).tolist()
        te, data = best_time(lambda s=s_list, i=i_list, c=cdfs, n=lengths, o=offsets:
                             RansEncoder().encode_with_indexes(s, i, c, n, o), repeats)
        td, out = best_time(lambda d=data, i=i_list, c=cdfs, n=lengths, o=offsets:
                            RansDecoder().decode_with_indexes(d, i, c, n, o), repeats)
        if not np.array_equal(np.asarray(out, np.int32), symbols.reshape(-1)):
            raise AssertionError("CompressAI round trip failed")
        # As CompressAI's EntropyModel.compress/decompress call it: tensors -> Python lists -> coder.
        tel, _ = best_time(lambda s=symbols, i=indexes, c=cdfs, n=lengths, o=offsets: RansEncoder(
        ).encode_with_indexes(s.reshape(-1).tolist(), i.reshape(-1).tolist(), c, n, o), repeats)
        tdl, _ = best_time(lambda d=data, i=indexes, c=cdfs, n=lengths, o=offsets: np.asarray(
            RansDecoder().decode_with_indexes(d, i.reshape(-1).tolist(), c, n, o), np.int32), repeats)
        enc_t, dec_t, enc_list_t, dec_list_t = enc_t + te, dec_t + td, enc_list_t + tel, dec_list_t + tdl
        nbytes += len(data)
    return {"encode_s": enc_t, "decode_s": dec_t, "encode_with_lists_s": enc_list_t,
            "decode_with_lists_s": dec_list_t, "bytes": nbytes}


def run(argv: list[str] | None = None) -> dict[str, Any]:
    """Parse `argv`, measure, print the table, append the record (unless `--no-record`) and return it."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.coding", description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--clock", choices=sorted(CLOCKS), default="cpu",
                   help="cpu: CPU time of the calling thread (robust on a shared machine; all coders are "
                        "single-threaded); wall: elapsed time")
    p.add_argument("--no-record", action="store_true", help="do not append to benchmarks/results/")
    args = p.parse_args(argv)
    global _clock
    _clock = CLOCKS[args.clock]

    latents = make_latents(args.seed)
    n = sum(v[0].size for v in latents.values())
    est_tables = sum(-v[2].log2_prob(v[0], v[1]).sum() for v in latents.values())
    est_cont = sum(v[3] for v in latents.values())
    print(f"symbols: y {latents['y'][0].shape} + z {latents['z'][0].shape} = {n}")
    print(f"-sum log2 p: quantized tables {est_tables / 8:.0f} bytes, continuous {est_cont / 8:.0f} bytes")

    record: dict[str, Any] = {
        "benchmark": "coding", "time": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": platform.machine(), "processor": platform.processor(), "python": platform.python_version(),
        "symbols": n, "repeats": args.repeats, "seed": args.seed, "clock": args.clock,
        "est_bits_tables": float(est_tables), "est_bits_continuous": float(est_cont),
    }
    print(f"{'coder':<22} {'bytes':>8} {'real/est(tables)':>17} {'real/est(cont)':>15} "
          f"{'enc Msym/s':>11} {'dec Msym/s':>11}")
    for backend in BACKENDS:
        r = bench_jlic(latents, backend, args.repeats)
        r["ratio_tables"] = r["bytes"] * 8 / est_tables
        r["ratio_continuous"] = r["bytes"] * 8 / est_cont
        record[f"jlic_{backend}"] = r
        print(f"{'jlic ' + backend:<22} {r['bytes']:8d} {r['ratio_tables']:17.5f} "
              f"{r['ratio_continuous']:15.5f} {n / r['encode_s'] / 1e6:11.2f} {n / r['decode_s'] / 1e6:11.2f}")
    peer = bench_compressai(latents, args.repeats)
    if peer is not None:
        record["compressai_rans"] = peer
        peer["ratio_tables"] = peer["bytes"] * 8 / est_tables
        print(f"{'compressai rans':<22} {peer['bytes']:8d} {peer['ratio_tables']:17.5f} "
              f"{peer['bytes'] * 8 / est_cont:15.5f} {n / peer['encode_s'] / 1e6:11.2f} "
              f"{n / peer['decode_s'] / 1e6:11.2f}")
        print(f"{'  incl. list conversion':<22} {'':8} {'':17} {'':15} "
              f"{n / peer['encode_with_lists_s'] / 1e6:11.2f} {n / peer['decode_with_lists_s'] / 1e6:11.2f}")
        ours = record["jlic_ans"]
        ratios = {
            "encode_speedup": peer["encode_s"] / ours["encode_s"],
            "decode_speedup": peer["decode_s"] / ours["decode_s"],
            "encode_speedup_vs_with_lists": peer["encode_with_lists_s"] / ours["encode_s"],
            "decode_speedup_vs_with_lists": peer["decode_with_lists_s"] / ours["decode_s"],
            "size_ratio": ours["bytes"] / peer["bytes"],
        }
        record["ratios_jlic_ans_vs_compressai"] = ratios
        print("jlic ans vs compressai rans: " + ", ".join(f"{k} {v:.2f}" for k, v in ratios.items()))
    if not args.no_record:
        print(f"appended a record to {append_record('coding', record)}")
    return record


def main(argv: list[str] | None = None) -> int:
    run(argv)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
