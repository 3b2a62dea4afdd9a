"""jlic vs CompressAI on the variable-rate models (Kamisli et al. 2024, arXiv 2402.18930), same weights.

For each of `bmshj2018-hyperprior-vbr`, `mbt2018-mean-vbr`, `mbt2018-vbr` (CompressAI's classes at a small
N/M with perturbed weights, tests/interop/vbr_models.py; no published weights can be downloaded here) and
each level (integer and interpolated): CompressAI `compress`/`decompress` vs jlic's `.jlic` coding with
CompressAI's Gaussian tables. Prints and records per level: payload bytes of both and their ratio, whether
the coded y symbols are CompressAI's (recomputed from CompressAI's own networks), the max |x_hat| gap of
the decoded images, and the forward pass's max |x_hat| gap.

    python -m benchmarks.compressai_vbr --size 256 --levels 0,3,5.5,7
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def _compressai_symbols(net, name: str, x, scale) -> np.ndarray | None:
    """y symbols CompressAI codes (hyperprior variants; None for mbt2018-vbr, whose loop keeps them)."""
    import torch

    if name == "mbt2018-vbr":
        return None
    with torch.no_grad():
        y = net.g_a(x)
        z = net.h_a(torch.abs(y) if name.startswith("bmshj") else y)
        if net.vr_entbttlnck:
            step = net.lower_bound_zqstep(net.gayn2zqstep(1.0 / scale.view(1)))[0]
            eb, kw = net.entropy_bottleneck, {"qs": step}
        else:
            eb, kw = net.entropy_bottleneck, {}
        z_hat = eb.decompress(eb.compress(z, **kw), z.shape[-2:], **kw)
        params = net.h_s(z_hat)
        if name.startswith("bmshj"):
            sym = net.gaussian_conditional.quantize(y * scale, "symbols")
        else:
            means = params.chunk(2, 1)[1]
            sym = net.gaussian_conditional.quantize(y * scale, "symbols", means * scale)
    return sym[0].numpy().transpose(1, 2, 0)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=256, help="side of the kodim01 crop")
    ap.add_argument("--levels", default="0,3,5.5,7")
    args = ap.parse_args(argv)
    import torch

    from benchmarks.peers.compressai_models import test_image, to_torch
    from benchmarks.peers.vbr_models import coding_at, make_vbr_model
    from benchmarks.records import append_record, cpu_name
    from jlic.codec.codec import Codec
    from jlic.entropy import bitstream
    from jlic.interop import compressai as ci

    image = test_image(args.size)
    x = to_torch(image)
    rows = []
    for name in ("bmshj2018-hyperprior-vbr", "mbt2018-mean-vbr", "mbt2018-vbr"):
        net = make_vbr_model(name)
        for level in (float(v) for v in args.levels.split(",")):
            scale = coding_at(net, level)
            cai = {"stage": 2, "s": int(level), "inputscale": scale if level != int(level) else 0}
            t = time.perf_counter()
            with torch.no_grad():
                fwd = net(x, **cai)["x_hat"][0].numpy().transpose(1, 2, 0)
                coded = net.compress(x, **cai)
                ref = net.decompress(coded["strings"], coded["shape"], **cai)["x_hat"]
            ref = ref[0].numpy().transpose(1, 2, 0)
            t_cai = time.perf_counter() - t
            imp = ci.import_compressai(name, net)
            t = time.perf_counter()
            codec = Codec(imp.model.at(level), imp.params, imp.tables)
            data, latents = codec.compress_with_latents(image)
            t_jlic = time.perf_counter() - t
            dec = Codec(imp.model, imp.params, imp.tables)
            _, decoded = dec.decompress_latents(data)
            x_hat = np.clip(np.asarray(dec.fn("synthesis")(imp.params, decoded["y_hat"]))[0], 0, 1)
            out = imp.model.apply(imp.params, image[None].astype(np.float32) / 255, level=level)
            sym = _compressai_symbols(net, name, x, scale)
            jb = sum(len(s) for s in bitstream.unpack(data).streams)
            cb = sum(len(s[0]) for s in coded["strings"])
            same = None if sym is None else bool(np.array_equal(sym, latents["y"][0]))
            row = {"model": name, "level": level, "gain": float(scale), "jlic_bytes": jb,
                   "compressai_bytes": cb, "ratio": jb / cb, "y_symbols_equal": same,
                   "decoded_bit_exact": all(np.array_equal(decoded[k], latents[k]) for k in latents),
                   "decoded_xhat_gap": float(np.abs(x_hat - ref).max()),
                   "forward_xhat_gap": float(np.abs(np.asarray(out.x_hat[0]) - fwd).max()),
                   "nonzero_y": int(np.count_nonzero(latents["y"])), "y_size": int(latents["y"].size),
                   "compressai_seconds": t_cai, "jlic_encode_seconds_incl_compile": t_jlic}
            rows.append(row)
            print(f"{name:26s} level {level:4g}: jlic {jb:6d} B / CompressAI {cb:6d} B = {jb / cb:.4f}; "
                  f"symbols equal {row['y_symbols_equal']}; decoded gap {row['decoded_xhat_gap']:.1e}; "
                  f"forward gap {row['forward_xhat_gap']:.1e}; nonzero y {row['nonzero_y']}/{row['y_size']}")
    path = append_record("compressai_vbr", {"size": args.size, "image": "kodim01 crop", "cpu": cpu_name(),
                                            "note": "machine shared with other jobs", "rows": rows})
    print(f"recorded in {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
