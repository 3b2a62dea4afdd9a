"""The λ x image sweep of an overfitted codec: fit, quantize, write each `.jlic`, decode it, measure.

`python -m experiments.sweep --config experiments/configs/coolchic.py` ends here (the config sets
`overfit = True`). For every λ and eval image: fit (`jlic.overfit.fit`), quantize the weights, encode the
`.jlic` file, decode it from the bytes alone and measure bpp (real bytes), PSNR-RGB and MS-SSIM of the decoded
image. Each finished (λ, image) writes `lambda_<λ>/<i>.jlic` and `<i>.json`, so a killed sweep resumes with the
next unfinished one. The workdir gets the same `rd.json`, `rd.png`, `report.md` (and `baselines/`) as every
other sweep; "encoding_time" is the fit + quantization + coding time, "decoding_time" the decode from bytes
after one untimed decode (compilation).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from jlic.evaluation import rdcurve
from jlic.models import coolchic
from jlic.overfit import codec, fit, weights
from jlic.paths import atomic_write, makedirs, read_bytes


def lambda_name(lmbda: float) -> str:
    return f"lambda_{float(lmbda):g}"


def center_crop(img: np.ndarray, size: int | None) -> np.ndarray:
    if not size:
        return img
    h, w = img.shape[:2]
    top, left = max((h - size) // 2, 0), max((w - size) // 2, 0)
    return img[top: top + size, left: left + size]


def fit_config(config: Any) -> fit.FitConfig:
    return fit.FitConfig(iterations=int(config.iterations), lr=float(config.lr),
                         ste_fraction=float(config.ste_fraction), ste_lr=float(config.ste_lr),
                         temperature=tuple(config.temperature), noise=tuple(config.noise),
                         clip_norm=float(config.clip_norm), seed=int(config.seed),
                         latent_lr_scale=float(config.get("latent_lr_scale", fit.FitConfig.latent_lr_scale)),
                         latent_gain=float(config.get("latent_gain", fit.FitConfig.latent_gain)))


def code_image(image: np.ndarray, lmbda: float, model: str, arch: coolchic.CoolChicConfig, fc: fit.FitConfig,
               progress: bool = False, desc: str = "fit") -> tuple[bytes, dict[str, Any]]:
    """Fit + quantize + encode one image; returns the file bytes and a record (estimates, times, steps)."""
    cpu0, t0 = time.process_time(), time.perf_counter()
    fitted = fit.fit_image(image, lmbda, arch, fc, progress=progress, desc=desc)
    q, qlog = weights.quantize_fitted(fitted, image)
    data = codec.encode(q, model)
    n = image.shape[0] * image.shape[1]
    rec = {
        "lambda": float(lmbda), "iterations": fc.iterations, "bytes": len(data), "bpp": len(data) * 8 / n,
        "bpp-estimated": (qlog["final"]["latent_bits"] + qlog["final"]["weight_bits"]) / n,
        "bpp-weights-estimated": qlog["final"]["weight_bits"] / n,
        "fit_seconds": fitted.log["fit_seconds"], "encoding_time": time.perf_counter() - t0,
        "encoding_cpu_seconds": time.process_time() - cpu0, "weight_steps": {k: v["step_exp"] for k, v in
                                                                            qlog.items() if k != "final"},
        "history": fitted.log["history"], "encoder_reconstruction_sha": _digest(codec.reconstruct(q)),
    }
    return data, rec


def _digest(img: np.ndarray) -> str:
    import hashlib

    return hashlib.sha256(np.ascontiguousarray(img).tobytes()).hexdigest()[:16]


def measure_decode(data: bytes, image: np.ndarray) -> dict[str, Any]:
    """Decode from bytes (once untimed, to compile), time a second decode, and measure the decoded image."""
    from jlic.evaluation.evaluate import image_metrics

    codec.decode(data)
    t0 = time.perf_counter()
    out = codec.decode(data)
    dt = time.perf_counter() - t0
    rec = {"decoding_time": dt, "decoded_sha": _digest(out)}
    rec.update({k: v for k, v in image_metrics(image, out).items() if v is not None})
    return rec




def run_sweep(config: Any, workdir: str | Path) -> dict[str, Any]:
    """Run the sweep `config` describes in `workdir` (resuming finished items); returns the written paths.

    Holds the workdir lock (`jlic.train.workdir.lock_workdir`) for the whole sweep, as the training sweep does:
    a second sweep on the same workdir stops with `WorkdirLockedError` naming the holder."""
    from jlic.train.workdir import lock_workdir

    lock = lock_workdir(workdir)
    try:
        return _run_sweep(config, makedirs(workdir))
    finally:
        if lock is not None:
            lock.release()


def _run_sweep(config: Any, workdir: Any) -> dict[str, Any]:
    from jlic.data.pipeline import eval_images
    from jlic.evaluation.plot import plot_rd
    from jlic.evaluation.report import references, write_report

    atomic_write(workdir / "config.json", (json.dumps(config.to_dict(), indent=2, default=str) + "\n").encode())
    ev = config.eval
    images = [center_crop(im, ev.get("crop")) for im in eval_images(ev.data, limit=ev.get("limit"),
                                                                     max_side=ev.get("max_side"))]
    arch = coolchic.get_config(config.model, **dict(config.get("model_kwargs") or {}))
    fc = fit_config(config)
    lambdas = [float(x) for x in config.lambdas]
    points, exports = [], {}
    for lmbda in lambdas:
        folder = makedirs(workdir / lambda_name(lmbda))
        exports[lmbda] = folder
        rows = []
        for i, img in enumerate(images):
            rec_path = folder / f"{i:02d}.json"
            if rec_path.exists():
                rows.append(json.loads(read_bytes(rec_path)))
                continue
            data, rec = code_image(img, lmbda, config.model, arch, fc,
                                   progress=bool(config.get("progress_bar")), desc=f"λ={lmbda:g} image {i}")
            atomic_write(folder / f"{i:02d}.jlic", data)
            rec.update(measure_decode(data, img))
            rec["bit_exact"] = rec["decoded_sha"] == rec["encoder_reconstruction_sha"]
            rec["image"], rec["shape"] = i, list(img.shape)
            atomic_write(rec_path, (json.dumps(rec, indent=1) + "\n").encode())
            print(f"λ={lmbda:g} image {i}: {rec['bpp']:.4f} bpp, {rec['psnr-rgb']:.2f} dB, fit "
                  f"{rec['fit_seconds']:.0f} s, decode {rec['decoding_time'] * 1e3:.0f} ms", flush=True)
            rows.append(rec)
        keys = ["bpp", "bpp-estimated", "psnr-rgb", "ms-ssim-rgb", "encoding_time", "decoding_time"]
        point = {"lambda": lmbda}
        for k in keys:
            if all(k in r for r in rows):
                point[k] = float(np.mean([r[k] for r in rows]))
        points.append(point)
    name = config.get("name") or f"jlic {config.model}"
    macs = coolchic.macs_per_pixel(arch, *images[0].shape[:2])
    crop = f", crop {ev.crop}" if ev.get("crop") else ""
    desc = (f"jlic {config.model} ({json.dumps(arch.to_dict())}), overfitted per image, {fc.iterations} "
            f"iterations, eval {ev.data} ({len(images)} images{crop}), decoder {macs['total']:.0f} MAC/pixel")
    curve = rdcurve.from_points(name, points, desc)
    out: dict[str, Any] = {"exports": exports, "rd.json": rdcurve.save(curve, workdir / "rd.json")}
    anchors, live, others = references(ev, images, workdir)
    out["rd.png"] = plot_rd([curve], workdir / "rd.png", title=name, anchors=others)
    out["report.md"] = write_report(workdir / "report.md", curve, anchors, live, desc + ".")
    return out
