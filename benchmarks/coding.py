"""Entropy-coding benchmark: jlic's coder vs CompressAI's rANS on Kodak-sized latents.

Run: ``python -m benchmarks.coding [--repeats 11] [--seed 0] [--clock cpu|wall] [--no-record]``

Latents: a y of 192 x 32 x 48 (a 512 x 768 Kodak image at stride 16) with Gaussian scales drawn
log-normally (median 0.6, most mass below 2, tail to 256: the shape of a trained hyperprior's scales),
coded with the 64-entry scale table; plus a z of 128 x 8 x 12 with factorized tables from freshly
initialised factorized-prior parameters. Symbols are sampled from the continuous models, and a few
large outliers (escapes) are injected.

Two cases, each jlic vs CompressAI on the same symbols and the same integer tables:
* ``single``: y and z each coded into its own stream: ``Coder.encode`` / ``Coder.decode`` (ANS and range
  backends) vs ``RansEncoder.encode_with_indexes`` / ``RansDecoder.decode_with_indexes``;
* ``stream``: one stream of three steps, z then the two checkerboard passes of y (anchors at (i+j) even, then
  the rest), as a hyperprior + checkerboard codec writes it: ``jlic.entropy.stream.StreamWriter`` /
  ``StreamReader`` vs CompressAI's ``BufferedRansEncoder`` (+ ``flush``) / ``RansDecoder.set_stream`` +
  ``decode_stream``.
CompressAI is timed on prebuilt Python lists (the coder call alone) and, as its ``EntropyModel.compress`` /
``decompress`` call it, including the array -> list conversion. jlic's ANS backend is the numba kernels of
:mod:`jlic.entropy.rans`; the previous backend is timed in the same run: ``jlic_constriction`` (numpy
grouping + ``constriction`` calls, the same bytes) and ``constriction_only`` (constriction's own calls on
prepared segments, the floor of that backend). The parts of jlic's decode of y (input checks, counting
sort, the kernel) are timed alone, and the first encode + decode call of the run (numba's compile, or
the load of its cache) is recorded.

Timing: the competitors run alternately, one call each per round, for ``--repeats`` rounds (their order
rotating); each figure is the median over the rounds of the calling thread's CPU time (``--clock wall``
for elapsed time), since the machine may be shared -- the record stores the load average at start and end
and says whether the machine was loaded. Printed: bytes, real bits / (-sum log2 p) under the quantized
tables and the continuous likelihoods, Msymbols/s, and the CompressAI / jlic time ratios (> 1: jlic is
faster); a JSON record is appended to ``benchmarks/results/coding-<date>.jsonl``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

import constriction
import jax
import jax.numpy as jnp
import numba
import numpy as np

from benchmarks.records import append_record
from jlic.entropy import cdf, factorized, gaussian, rans
from jlic.entropy.coder import BACKENDS, Coder
from jlic.entropy.stream import StreamReader, StreamWriter


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


def cpu_name() -> str:
    """The CPU's model name (as ``lscpu`` shows it)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def alternate(fns: dict[str, Callable[[], Any]], repeats: int, clock: Callable[[], float]
              ) -> dict[str, list[float]]:
    """Run every function once per round, ``repeats`` rounds, rotating their order; the times per name."""
    names = list(fns)
    times: dict[str, list[float]] = {n: [] for n in names}
    for r in range(repeats):
        for name in names[r % len(names):] + names[: r % len(names)]:
            t = clock()
            fns[name]()
            times[name].append(clock() - t)
    return times


def _rans():
    try:
        from compressai import ans
    except Exception as e:  # noqa: BLE001 - any import failure means "peer not available"
        print(f"CompressAI not importable ({type(e).__name__}: {e}); skipping the peer.")
        return None
    return ans


def _lists(tables: cdf.CdfTables) -> tuple[list, list, list]:
    cdfs = [row[:n].tolist() for row, n in zip(tables.cdf, tables.cdf_length, strict=True)]
    return cdfs, tables.cdf_length.tolist(), tables.offset.tolist()


def _constriction_only(coder: Coder, steps: list[tuple[np.ndarray, np.ndarray]], data: bytes
                       ) -> tuple[Callable[[], Any], Callable[[], Any]]:
    """Encode / decode functions doing only jlic's constriction calls for ``steps`` (segments prepared)."""
    segs = [coder.segments(s, i) for s, i in steps]
    words = np.frombuffer(data, "<u4").astype(np.uint32)
    calls = [[(m, p if p else (len(syms),)) for syms, m, p in seg] for seg in segs]

    def enc() -> Any:
        ans = constriction.stream.stack.AnsCoder()
        for seg in reversed(segs):
            for syms, model, params in reversed(seg):
                ans.encode_reverse(syms, model, *params)
        return ans.get_compressed()

    def dec() -> Any:
        ans = constriction.stream.stack.AnsCoder(words)
        return [ans.decode(m, *p) for step in calls for m, p in step]

    return enc, dec


def _previous_encode(coder: Coder, symbols: np.ndarray, indexes: np.ndarray) -> bytes:
    """jlic's previous ANS backend: numpy grouping (``Coder.segments``) + constriction calls."""
    ans = constriction.stream.stack.AnsCoder()
    for syms, model, params in reversed(coder.segments(symbols, indexes)):
        ans.encode_reverse(syms, model, *params)
    return ans.get_compressed().astype("<u4", copy=False).tobytes()


def _previous_decode(coder: Coder, data: bytes, indexes: np.ndarray) -> np.ndarray:
    """Inverse of :func:`_previous_encode` (``Coder.decode_from`` on a constriction coder)."""
    return coder.decode_from(constriction.stream.stack.AnsCoder(np.frombuffer(data, "<u4").astype(np.uint32)),
                             indexes)


def case_single(latents: dict[str, Any], repeats: int, clock: Callable[[], float]) -> dict[str, Any]:
    """Each latent in its own stream: jlic Coder (both backends) vs CompressAI's RansEncoder/RansDecoder."""
    enc: dict[str, Callable[[], Any]] = {}
    dec: dict[str, Callable[[], Any]] = {}
    out: dict[str, Any] = {}
    items = list(latents.values())
    for backend in BACKENDS:
        coders = [Coder(t, backend) for _, _, t, _ in items]
        datas = [c.encode(s, i) for c, (s, i, _, _) in zip(coders, items, strict=True)]
        for c, d, (s, i, _, _) in zip(coders, datas, items, strict=True):
            if not np.array_equal(c.decode(d, i), s):
                raise AssertionError(f"jlic {backend} round trip failed")
        enc[f"jlic_{backend}"] = lambda cs=coders: [c.encode(s, i) for c, (s, i, _, _)
                                                    in zip(cs, items, strict=True)]
        dec[f"jlic_{backend}"] = lambda cs=coders, ds=datas: [c.decode(d, i) for c, d, (_, i, _, _)
                                                             in zip(cs, ds, items, strict=True)]
        out[f"jlic_{backend}"] = {"bytes": sum(map(len, datas))}
    ans_coders = [Coder(t) for _, _, t, _ in items]
    only = [_constriction_only(c, [(s, i)], c.encode(s, i))
            for c, (s, i, _, _) in zip(ans_coders, items, strict=True)]
    previous = [(c, c.encode(s, i), s, i) for c, (s, i, _, _) in zip(ans_coders, items, strict=True)]
    for c, d, s, i in previous:
        if _previous_encode(c, s, i) != d or not np.array_equal(_previous_decode(c, d, i), s):
            raise AssertionError("the previous (constriction) backend differs from the kernels")
    enc["jlic_constriction"] = lambda: [_previous_encode(c, s, i) for c, _, s, i in previous]
    dec["jlic_constriction"] = lambda: [_previous_decode(c, d, i) for c, d, _, i in previous]
    enc["constriction_only"] = lambda: [e() for e, _ in only]
    dec["constriction_only"] = lambda: [d() for _, d in only]
    ans = _rans()
    if ans is not None:
        lists = [(_lists(t), s.reshape(-1).tolist(), i.reshape(-1).tolist()) for s, i, t, _ in items]
        datas = [ans.RansEncoder().encode_with_indexes(sl, il, *tl) for tl, sl, il in lists]
        for d, (tl, _, il), (s, _, _, _) in zip(datas, lists, items, strict=True):
            if not np.array_equal(np.asarray(ans.RansDecoder().decode_with_indexes(d, il, *tl)), s.reshape(-1)):
                raise AssertionError("CompressAI round trip failed")
        enc["compressai_rans"] = lambda: [ans.RansEncoder().encode_with_indexes(sl, il, *tl)
                                          for tl, sl, il in lists]
        dec["compressai_rans"] = lambda: [ans.RansDecoder().decode_with_indexes(d, il, *tl)
                                          for d, (tl, _, il) in zip(datas, lists, strict=True)]
        # As CompressAI's EntropyModel.compress/decompress call it: arrays -> Python lists -> coder.
        enc["compressai_rans_with_lists"] = lambda: [
            ans.RansEncoder().encode_with_indexes(s.reshape(-1).tolist(), i.reshape(-1).tolist(), *tl)
            for (tl, _, _), (s, i, _, _) in zip(lists, items, strict=True)]
        dec["compressai_rans_with_lists"] = lambda: [
            np.asarray(ans.RansDecoder().decode_with_indexes(d, i.reshape(-1).tolist(), *tl), np.int32)
            for d, (tl, _, _), (_, i, _, _) in zip(datas, lists, items, strict=True)]
        out["compressai_rans"] = {"bytes": sum(map(len, datas))}
    return _collect(out, alternate(enc, repeats, clock), alternate(dec, repeats, clock))


def case_stream(latents: dict[str, Any], repeats: int, clock: Callable[[], float]) -> dict[str, Any]:
    """z, then y's two checkerboard passes, in one stream: StreamWriter/Reader vs CompressAI's buffered rANS."""
    z, z_idx, z_tables, _ = latents["z"]
    y, y_idx, y_tables, _ = latents["y"]
    h, w = y.shape[:2]
    anchor = np.broadcast_to((np.add.outer(np.arange(h), np.arange(w)) % 2 == 0)[..., None], y.shape)
    steps = [("z", z.reshape(-1), z_idx.reshape(-1)), ("y", y[anchor], y_idx[anchor]),
             ("y", y[~anchor], y_idx[~anchor])]
    coders = {"z": Coder(z_tables), "y": Coder(y_tables)}

    def jlic_encode() -> bytes:
        writer = StreamWriter()
        for name, s, i in steps:
            writer.encode(coders[name], s, i)
        return writer.finish()

    data = jlic_encode()

    def jlic_decode() -> list[np.ndarray]:
        reader = StreamReader(data)
        out = [reader.decode(coders[name], i) for name, _, i in steps]
        reader.finish()
        return out

    for (_, s, _), got in zip(steps, jlic_decode(), strict=True):
        if not np.array_equal(got, s):
            raise AssertionError("jlic stream round trip failed")
    enc: dict[str, Callable[[], Any]] = {"jlic_stream": jlic_encode}
    dec: dict[str, Callable[[], Any]] = {"jlic_stream": jlic_decode}
    out: dict[str, Any] = {"jlic_stream": {"bytes": len(data)}}
    # The floor: constriction's calls alone (steps of different coders, each step's segments prepared).
    segs = [coders[name].segments(s, i) for name, s, i in steps]
    words = np.frombuffer(data, "<u4").astype(np.uint32)

    def floor_encode() -> Any:
        ans = constriction.stream.stack.AnsCoder()
        for seg in reversed(segs):
            for syms, model, params in reversed(seg):
                ans.encode_reverse(syms, model, *params)
        return ans.get_compressed()

    def floor_decode() -> Any:
        ans = constriction.stream.stack.AnsCoder(words)
        return [ans.decode(m, *(p or (len(syms),))) for seg in segs for syms, m, p in seg]

    enc["constriction_only"], dec["constriction_only"] = floor_encode, floor_decode
    ans = _rans()
    if ans is not None:
        tl = {"z": _lists(z_tables), "y": _lists(y_tables)}
        lists = [(name, s.tolist(), i.tolist()) for name, s, i in steps]

        def peer_encode(with_lists: bool = False) -> bytes:
            encoder = ans.BufferedRansEncoder()
            for (name, sl, il), (_, s, i) in zip(lists, steps, strict=True):
                if with_lists:
                    sl, il = s.tolist(), i.tolist()
                encoder.encode_with_indexes(sl, il, *tl[name])
            return encoder.flush()

        peer_data = peer_encode()

        def peer_decode(with_lists: bool = False) -> list:
            decoder = ans.RansDecoder()
            decoder.set_stream(peer_data)
            if with_lists:
                return [np.asarray(decoder.decode_stream(i.tolist(), *tl[name]), np.int32)
                        for name, _, i in steps]
            return [decoder.decode_stream(il, *tl[name]) for name, _, il in lists]

        for (_, s, _), got in zip(steps, peer_decode(), strict=True):
            if not np.array_equal(np.asarray(got), s):
                raise AssertionError("CompressAI stream round trip failed")
        enc["compressai_rans"], dec["compressai_rans"] = peer_encode, peer_decode
        enc["compressai_rans_with_lists"] = lambda: peer_encode(True)
        dec["compressai_rans_with_lists"] = lambda: peer_decode(True)
        out["compressai_rans"] = {"bytes": len(peer_data)}
    return _collect(out, alternate(enc, repeats, clock), alternate(dec, repeats, clock))


def decode_breakdown(latents: dict[str, Any], repeats: int, clock: Callable[[], float]) -> dict[str, float]:
    """Median seconds of each part of ``Coder.decode`` on the y latent (alternated rounds), for profiling."""
    y, y_idx, tables, _ = latents["y"]
    c = Coder(tables)
    data = c.encode(y, y_idx)
    c.decode(data, y_idx)  # builds the lookup
    words = np.frombuffer(data, "<u4").astype(np.uint32)
    idx = c.prepare(y, y_idx)[1]
    kernel_tables = c._kernel_tables
    lut = rans.lookup(kernel_tables, tables.precision)
    out = np.empty(idx.size, np.int32)

    def kernel() -> Any:
        pos, state, _ = rans.init_decoder(words)
        return rans.decode_step(words, pos, state, idx, *kernel_tables, *lut, out)

    fns = {
        "total": lambda: c.decode(data, y_idx),
        "index_checks": lambda: c.prepare(y, y_idx),
        "counting_sort": lambda: rans._sort_by_table(idx, tables.num_tables),
        "kernel_incl_sort": kernel,
        "lookup_build_once_per_coder": lambda: rans.lookup(kernel_tables, tables.precision),
    }
    return {name: statistics.median(t) for name, t in alternate(fns, repeats, clock).items()}


def first_call(latents: dict[str, Any]) -> dict[str, float]:
    """Seconds of the run's first encode and decode (numba compiles the kernels, or loads its cache)."""
    y, y_idx, tables, _ = latents["y"]
    c = Coder(tables)
    t = time.perf_counter()
    data = c.encode(y, y_idx)
    t_enc = time.perf_counter() - t
    t = time.perf_counter()
    c.decode(data, y_idx)
    return {"encode_s": t_enc, "decode_s": time.perf_counter() - t}


def _collect(out: dict[str, Any], enc: dict[str, list[float]], dec: dict[str, list[float]]) -> dict[str, Any]:
    """Medians per competitor and the CompressAI / jlic ratios (speedups: > 1 means jlic is faster)."""
    for name in enc:
        r = out.setdefault(name, {})
        r["encode_s"], r["decode_s"] = statistics.median(enc[name]), statistics.median(dec[name])
        r["encode_times_s"], r["decode_times_s"] = enc[name], dec[name]
    ours = "jlic_stream" if "jlic_stream" in out else "jlic_ans"
    peer = out.get("compressai_rans")
    if peer is not None:
        o, pl = out[ours], out["compressai_rans_with_lists"]
        out["ratios"] = {
            "encode_speedup": peer["encode_s"] / o["encode_s"],
            "decode_speedup": peer["decode_s"] / o["decode_s"],
            "encode_speedup_vs_with_lists": pl["encode_s"] / o["encode_s"],
            "decode_speedup_vs_with_lists": pl["decode_s"] / o["decode_s"],
            # The previous backend's floor: constriction's own calls, no numpy around them.
            "encode_speedup_constriction_only": peer["encode_s"] / out["constriction_only"]["encode_s"],
            "decode_speedup_constriction_only": peer["decode_s"] / out["constriction_only"]["decode_s"],
            "size_ratio": o["bytes"] / peer["bytes"],
        }
        if "jlic_constriction" in out:
            prev = out["jlic_constriction"]
            out["ratios"]["encode_speedup_previous_backend"] = peer["encode_s"] / prev["encode_s"]
            out["ratios"]["decode_speedup_previous_backend"] = peer["decode_s"] / prev["decode_s"]
    return out


def run(argv: list[str] | None = None) -> dict[str, Any]:
    """Parse `argv`, measure, print the table, append the record (unless `--no-record`) and return it."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.coding", description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=11, help="alternation rounds (medians are reported)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--clock", choices=sorted(CLOCKS), default="cpu",
                   help="cpu: CPU time of the calling thread (robust on a shared machine; all coders are "
                        "single-threaded); wall: elapsed time")
    p.add_argument("--no-record", action="store_true", help="do not append to benchmarks/results/")
    args = p.parse_args(argv)
    clock = CLOCKS[args.clock]
    load_start = os.getloadavg()

    latents = make_latents(args.seed)
    first = first_call(latents)
    n = sum(v[0].size for v in latents.values())
    est_tables = sum(-v[2].log2_prob(v[0], v[1]).sum() for v in latents.values())
    est_cont = sum(v[3] for v in latents.values())
    cpu = cpu_name()
    print(f"CPU: {cpu}, {os.cpu_count()} cores, load average {load_start[0]:.2f}")
    print(f"first call (numba compile or cache load): encode {first['encode_s']:.2f} s, "
          f"decode {first['decode_s']:.2f} s")
    print(f"symbols: y {latents['y'][0].shape} + z {latents['z'][0].shape} = {n}")
    print(f"-sum log2 p: quantized tables {est_tables / 8:.0f} bytes, continuous {est_cont / 8:.0f} bytes")

    record: dict[str, Any] = {
        "benchmark": "coding", "time": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "cpu": cpu, "cpu_count": os.cpu_count(), "machine": platform.machine(),
        "processor": platform.processor(), "python": platform.python_version(), "numpy": np.__version__,
        "symbols": n, "repeats": args.repeats, "seed": args.seed, "clock": args.clock, "statistic": "median",
        "est_bits_tables": float(est_tables), "est_bits_continuous": float(est_cont),
        "backend": "numba kernels (jlic.entropy.rans), constriction's ANS format", "numba": numba.__version__,
        "first_call_s": first,
    }
    single = case_single(latents, args.repeats, clock)
    stream = case_stream(latents, args.repeats, clock)
    for case, res in (("single", single), ("stream", stream)):
        print(f"\n[{case}] {'coder':<28} {'bytes':>8} {'real/est(tables)':>17} {'real/est(cont)':>15} "
              f"{'enc Msym/s':>11} {'dec Msym/s':>11}")
        for name, r in res.items():
            if name == "ratios":
                continue
            if "bytes" in r:
                r["ratio_tables"] = r["bytes"] * 8 / est_tables
                r["ratio_continuous"] = r["bytes"] * 8 / est_cont
                sizes = f"{r['bytes']:8d} {r['ratio_tables']:17.5f} {r['ratio_continuous']:15.5f}"
            else:
                sizes = f"{'':8} {'':17} {'':15}"
            print(f"[{case}] {name:<28} {sizes} {n / r['encode_s'] / 1e6:11.2f} "
                  f"{n / r['decode_s'] / 1e6:11.2f}")
        if "ratios" in res:
            print(f"[{case}] CompressAI time / jlic time: "
                  + ", ".join(f"{k} {v:.2f}" for k, v in res["ratios"].items()))
    breakdown = decode_breakdown(latents, args.repeats, clock)
    print(f"\njlic decode of y ({latents['y'][0].size} symbols), median ms per part: "
          + ", ".join(f"{k} {v * 1e3:.2f}" for k, v in breakdown.items()))
    record["decode_breakdown_y_s"] = breakdown
    record.update({k: v for k, v in single.items() if k != "ratios"})
    if "ratios" in single:
        record["ratios_jlic_ans_vs_compressai"] = single["ratios"]
    record["stream"] = stream
    load_end = os.getloadavg()
    record["load_average_start"], record["load_average_end"] = load_start, load_end
    record["machine_loaded"] = max(load_start[0], load_end[0]) > 0.5 * (os.cpu_count() or 1)
    if record["machine_loaded"]:
        record["note"] = (f"machine shared with other jobs (load average {load_start[0]:.1f} -> "
                          f"{load_end[0]:.1f} on {os.cpu_count()} cores); figures are medians of alternated "
                          f"{args.clock}-time rounds")
        print(record["note"])
    if not args.no_record:
        print(f"appended a record to {append_record('coding', record)}")
    return record


def main(argv: list[str] | None = None) -> int:
    run(argv)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
