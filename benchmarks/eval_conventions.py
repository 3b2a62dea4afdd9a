"""How much the evaluation convention and the coding tables change the numbers, on one CompressAI model.

    nice -n 10 python -m benchmarks.eval_conventions     # hyperprior N=32/M=48, 200 steps, 6 Kodak images

A CompressAI ScaleHyperprior is trained briefly on bsds200 crops (no pretrained weights here), `update()`d,
and imported into jlic. On Kodak images cropped to 700x500 (not multiples of 64) it is evaluated by
CompressAI's eval_model inference (zero padding, its rANS) and by jlic with (a) zero padding and CompressAI's
tables (`--convention compressai`), (b) jlic's edge padding, (c) zero padding with tables jlic builds itself
from the same weights. Printed: mean stream bytes and PSNR of each against CompressAI's, and a JSON record.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from benchmarks.records import append_record
from benchmarks.train_equivalence import _cpu, bsds_batches

KODAK = Path(__file__).parents[1] / ".." / "shared" / "data" / "kodak"


def train_compressai(steps: int, N: int, M: int, seed: int = 0):
    import torch
    from compressai.losses import RateDistortionLoss
    from compressai.models import ScaleHyperprior
    from compressai.optimizers import net_aux_optimizer

    torch.manual_seed(seed)
    net = ScaleHyperprior(N=N, M=M).train()
    opt = net_aux_optimizer(net, {"net": {"type": "Adam", "lr": 1e-3}, "aux": {"type": "Adam", "lr": 1e-2}})
    crit = RateDistortionLoss(lmbda=0.0130)
    for x in bsds_batches(steps, 4, 128, seed):
        xt = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous()
        opt["net"].zero_grad()
        opt["aux"].zero_grad()
        crit(net(xt), xt)["loss"].backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt["net"].step()
        net.aux_loss().backward()
        opt["aux"].step()
    net.update(force=True)
    return net.eval()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--N", type=int, default=32)
    ap.add_argument("--M", type=int, default=48)
    ap.add_argument("--images", type=int, default=6)
    ap.add_argument("--size", default="700x500", help="crop WxH (not multiples of 64)")
    args = ap.parse_args(argv)
    import torch
    from PIL import Image

    from benchmarks.peers.compressai_models import compressai_eval as _compressai_eval
    from jlic.codec.conventions import make_codec
    from jlic.entropy import bitstream
    from jlic.interop.compressai import import_compressai
    from jlic.metrics.psnr import psnr_8bit

    torch.set_num_threads(1)
    net = train_compressai(args.steps, args.N, args.M)
    imp = import_compressai("bmshj2018-hyperprior", net)
    w, h = (int(v) for v in args.size.split("x"))
    codecs = {"compressai convention": make_codec(imp.model, imp.params, imp.tables, "compressai"),
              "jlic edge padding": make_codec(imp.model, imp.params, imp.tables, "jlic"),
              "zeros, jlic-built tables": make_codec(imp.model, imp.params, None, "compressai")}
    rows: dict[str, dict[str, list[float]]] = {k: {"bytes": [], "psnr": []} for k in ["CompressAI", *codecs]}
    for path in sorted(KODAK.glob("*.png"))[: args.images]:
        with Image.open(path) as im:
            img = np.asarray(im.convert("RGB"))
        if img.shape[0] > img.shape[1]:
            img = img.transpose(1, 0, 2)
        img = np.ascontiguousarray(img[:h, :w])
        x = img / 255.0
        nbytes, rec = _compressai_eval(net, img)
        rows["CompressAI"]["bytes"].append(nbytes)
        rows["CompressAI"]["psnr"].append(float(psnr_8bit(x, rec / 255.0)))
        for name, codec in codecs.items():
            data = codec.compress(img)
            rows[name]["bytes"].append(sum(len(s) for s in bitstream.unpack(data).streams))
            rows[name]["psnr"].append(float(psnr_8bit(x, codec.decompress(data) / 255.0)))
    ref_b, ref_p = np.mean(rows["CompressAI"]["bytes"]), np.mean(rows["CompressAI"]["psnr"])
    summary = {}
    for name, r in rows.items():
        b, p = float(np.mean(r["bytes"])), float(np.mean(r["psnr"]))
        summary[name] = {"bytes": b, "psnr": p, "bytes_vs_compressai_%": 100 * (b / ref_b - 1),
                         "psnr_vs_compressai_db": p - ref_p}
        print(f"{name:<28} {b:10.1f} B ({100 * (b / ref_b - 1):+6.2f}%)  {p:7.3f} dB ({p - ref_p:+.3f})")
    path = append_record("eval_conventions", {"args": vars(args), "cpu": _cpu(),
                                              "images": args.images, "summary": summary})
    print(f"record: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
