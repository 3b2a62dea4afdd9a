"""After a sweep: real-bytes evaluation of every λ model, `rd.json`, `rd.png` and `report.md`.

Each eval image is compressed to `.jlic` bytes and decoded again by the evaluator of `python -m jlic eval`
(`jlic.evaluation.evaluate`): bpp is
`bytes * 8 / (H * W)`, PSNR-RGB and MS-SSIM come from the decoded 8-bit image (means over images, as
CompressAI reports them). The estimated rate `-Σ log2 p / (H * W)` of the same model is kept beside it,
with the share of those estimated bits that comes from latents the model gives a likelihood below
`2**-precision` of the coding tables: the tables floor every probability at that value and code values past
their support by escape, so such latents cost the coder fewer bits than the estimate says. For an
undertrained model this tail makes real bytes *lower* than the estimate (measured: bmshj2018-hyperprior,
3000 CPU steps, λ 0.0932, kodim01: 15% of the y latents below 2**-16 made the estimate 23% above the real
1,440,080 bits, which matched the tables' own cost to 0.3%).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from jlic.evaluation import rdcurve
from jlic.paths import as_path, atomic_write_text, read_bytes


def evaluate_model(model: Any, params: Any, images: Sequence[np.ndarray], tables: Any = None,
                   convention: str = "jlic") -> dict[str, float]:
    """Means over uint8 RGB `images` of :func:`jlic.evaluation.evaluate.evaluate_images` (the evaluator of
    `python -m jlic eval`): real bpp, estimated bpp, estimated-tail-share, PSNR-RGB, MS-SSIM (if every image
    is >= 161 px a side), encode/decode seconds; with coding `tables` (default: built from `params`) and the
    padding / byte count of `convention` (`jlic.codec.conventions`)."""
    from jlic.codec.conventions import make_codec
    from jlic.evaluation.evaluate import evaluate_images, mean_row

    codec = make_codec(model, params, tables, convention)
    mean = mean_row(evaluate_images(codec, [(str(i), im) for i, im in enumerate(images)]))
    return {k: float(v) for k, v in mean.items() if k not in ("image", "bytes") and v is not None}


def evaluate_exports(exports: Mapping[float, str | Path], images: Sequence[np.ndarray],
                     name: str, description: str = "", convention: str = "jlic") -> rdcurve.RDCurve:
    """The RD curve (anchor JSON shape, plus `lambda` and `bpp-estimated`) of exported λ models; a model
    directory holding `coding_tables.npz` (e.g. imported CompressAI tables) is coded with those tables."""
    from jlic.codec.codec import ModelTables
    from jlic.codec.export import load_model

    points = []
    for lmbda, directory in sorted(exports.items()):
        model, params = load_model(directory)
        stored = as_path(directory) / "coding_tables.npz"
        tables = ModelTables.from_bytes(read_bytes(stored)) if stored.exists() else None
        level = {}
        if hasattr(model, "at_lambda"):  # one variable-rate model for every λ (jlic.models.variable_rate)
            model = model.at_lambda(lmbda)
            level = {"level": model.level}
        points.append({"lambda": float(lmbda), **level,
                       **evaluate_model(model, params, images, tables, convention)})
    return rdcurve.from_points(name, points, description)


def references(ev: Any, images: Sequence[np.ndarray], workdir: Path
               ) -> tuple[list[rdcurve.RDCurve], list[rdcurve.RDCurve], list[rdcurve.RDCurve]]:
    """(anchors, live codecs, both renamed for the plot) of an eval config; live curves saved under
    `workdir/baselines/`."""
    anchors = load_anchors(ev.get("anchors"), tuple(ev.get("anchor_names") or ()))
    settings = {k: tuple(v) for k, v in dict(ev.get("live_codec_settings") or {}).items()}
    live = live_codecs(tuple(ev.get("live_codecs") or ()), images, settings)
    for c in live:
        rdcurve.save(c, workdir / "baselines" / f"{c.name.lower().replace(' ', '-')}.json")
    others = [*(replace(c, name=f"{c.name} (anchor)") for c in anchors),
              *(replace(c, name=f"{c.name} (same images)") for c in live)]
    return anchors, live, others


def live_codecs(names: Sequence[str], images: Sequence[np.ndarray],
                settings: Mapping[str, Sequence[float]] | None = None) -> list[rdcurve.RDCurve]:
    """RD curves of classic codecs (`jlic.evaluation.classic`) on the eval images; unavailable ones skipped."""
    try:
        from jlic.evaluation import baselines, classic
    except ImportError:
        return []
    out = []
    for n in names:
        codec = classic.get(n)
        if codec.available():
            out.append(baselines.evaluate_codec(codec, images, (settings or {}).get(n)))
    return out


def load_anchors(directory: str | Path | None, names: Sequence[str]) -> list[rdcurve.RDCurve]:
    """Anchor curves `directory/NAME.json`; a missing directory or file is skipped with a warning."""
    if not directory:
        return []
    directory = as_path(directory)
    missing = [n for n in names if not (directory / f"{n}.json").exists()]
    if missing:
        where = "not found" if not directory.is_dir() else f"has no {', '.join(missing)}"
        shown = Path(directory).resolve() if "://" not in str(directory) else directory
        warnings.warn(f"anchors directory {shown} {where}: RD plot and report go without "
                      "those anchors (set --config.eval.anchors)", stacklevel=2)
    return [rdcurve.load(directory / f"{n}.json") for n in names if n not in missing]


def _bd(anchor: rdcurve.RDCurve, test: rdcurve.RDCurve, metric: str) -> str:
    """'BD-rate% (BD-quality dB)' of `test` against `anchor` (cubic fit from 4 points on, else pchip)."""
    from jlic.evaluation.plot import bd_value

    if not (anchor.has(metric) and test.has(metric)) or len(anchor) < 2 or len(test) < 2:
        return "n/a"
    method = "cubic" if min(len(anchor), len(test)) >= 4 else "pchip"
    a, t = anchor.sorted(), test.sorted()
    rate, dq = (bd_value(t, a, metric, method, q) for q in ("rate", "psnr"))
    if rate is None or dq is None:
        return "n/a (no overlap)"
    return f"{rate:+.1f}% ({dq:+.2f} dB)"


def write_report(path: str | Path, curve: rdcurve.RDCurve, anchors: Sequence[rdcurve.RDCurve],
                 live: Sequence[rdcurve.RDCurve], header: str = "") -> Any:
    """`report.md`: per-λ table and BD-rate (BD-PSNR) of this run against every anchor and live codec."""
    r = curve.results
    cols = [("λ", "lambda", "{:g}"), ("level", "level", "{:g}"), ("bpp (bytes)", "bpp", "{:.4f}"),
            ("bpp (estimated)", "bpp-estimated", "{:.4f}"),
            ("PSNR-RGB", "psnr-rgb", "{:.2f}"), ("MS-SSIM", "ms-ssim-rgb", "{:.4f}"),
            ("encode s", "encoding_time", "{:.3f}"), ("decode s", "decoding_time", "{:.3f}")]
    cols = [c for c in cols if c[1] in r]
    lines = [f"# {curve.name}", ""]
    if header:
        lines += [header, ""]
    lines += ["| " + " | ".join(c[0] for c in cols) + " |", "|" + "---|" * len(cols)]
    order = np.argsort(r["lambda"]) if "lambda" in r else range(len(curve))
    for i in order:
        lines.append("| " + " | ".join(fmt.format(r[key][i]) for _, key, fmt in cols) + " |")
    if "bpp-estimated" in r:
        gap = 100.0 * (np.sum(r["bpp"]) / np.sum(r["bpp-estimated"]) - 1.0)
        lines += ["", f"Real bytes vs estimated rate: {gap:+.2f}% (container header included)."]
        if "estimated-tail-share" in r:
            tail = ", ".join(f"{100 * r['estimated-tail-share'][i]:.0f}%" for i in order)
            lines += [f"Share of the estimated bits from latents less likely than the coding tables' floor "
                      f"(2^-precision), by λ: {tail}. The coder charges those fewer bits than the estimate "
                      "(table floor, escape codes), so a large share puts real bytes below the estimate."]
    rows = [("anchor", c) for c in anchors] + [("live, same images", c) for c in live]
    if rows:
        lines += ["", "BD-rate of this run against each reference (negative: this run needs fewer bits; "
                      "in brackets BD-PSNR). Anchors are measured on their own data set (Kodak); only live "
                      "codecs ran on the same images as this run.", "",
                  "| reference | kind | BD-rate PSNR | BD-rate MS-SSIM |", "|---|---|---|---|"]
        for kind, c in rows:
            lines.append(f"| {c.name} | {kind} | {_bd(c, curve, 'psnr')} | {_bd(c, curve, 'ms-ssim')} |")
    return atomic_write_text(path, "\n".join(lines) + "\n")


def evaluate_sweep(config: Any, workdir: str | Path, exports: Mapping[float, str | Path]) -> dict[str, Path]:
    """Evaluate a finished sweep as `config.eval` says; writes rd.json, rd.png, report.md, baselines."""
    from jlic.data.pipeline import eval_images
    from jlic.evaluation.plot import plot_rd

    workdir = as_path(workdir)
    ev = config.eval
    images = eval_images(ev.data, limit=ev.get("limit"), max_side=ev.get("max_side"),
                         tfds_data_dir=config.data.get("tfds_data_dir"))
    name = config.get("name") or f"jlic {config.model}"
    desc = (f"jlic {config.model} ({json.dumps(dict(config.get('model_kwargs') or {}))}), {config.metric}, "
            f"{config.num_steps} steps, batch {config.batch_size}x{config.crop}², train {config.data.train}, "
            f"eval {ev.data} ({len(images)} images)")
    convention = str(ev.get("convention") or "jlic")
    origin = (f"fine-tuned here from {config.init_from} (imported weights)" if config.get("init_from")
              else "trained here from scratch")
    curve = evaluate_exports(exports, images, name, desc, convention)
    curve = replace(curve, extra={**curve.extra, "convention": convention, "origin": origin})
    rd = rdcurve.save(curve, workdir / "rd.json")
    anchors, live, others = references(ev, images, workdir)
    png = plot_rd([curve], workdir / "rd.png", title=name, anchors=others)
    if curve.has("ms-ssim"):
        plot_rd([curve], workdir / "rd-ms-ssim.png", metric="ms-ssim", title=name, anchors=others)
    header = "\n\n".join([desc + ".", convention_note(convention),
                           curve_origins(curve.name, origin, anchors, live),
                           *([short] if (short := short_run_note(config)) else [])])
    report = write_report(workdir / "report.md", curve, anchors, live, header)
    return {"rd.json": rd, "rd.png": png, "report.md": report}


def convention_note(convention: str) -> str:
    """One line for a report: how images were padded and bytes counted."""
    if convention == "compressai":
        return ("Convention: compressai (images zero-padded, centred, to the model's stride as CompressAI's "
                "eval_model does; bpp counts the entropy-coded streams only, as CompressAI's bpp).")
    return ("Convention: jlic (images edge-padded, centred, to the model's stride; bpp counts the whole .jlic "
            "file, header included). CompressAI's published numbers use zero padding: evaluate with "
            "`--config.eval.convention=compressai` to compare with them on images whose sides are not "
            "multiples of the stride.")


def curve_origins(name: str, origin: str, anchors: Sequence[rdcurve.RDCurve],
                  live: Sequence[rdcurve.RDCurve]) -> str:
    """A report paragraph that marks every curve as trained here, run here or imported."""
    parts = [f"`{name}`: {origin}"]
    parts += [f"`{c.name}`: imported (published numbers, not run here)" for c in anchors]
    parts += [f"`{c.name}`: run here on the same images" for c in live]
    return "Curves: " + "; ".join(parts) + "."


# Training signal after which a hyperprior reaches JPEG's curve (shared/reference/cpu-training-facts.md §7).
JPEG_PARITY_GPX = 15.0


def short_run_note(config: Any) -> str | None:
    """For a from-scratch run far too short to compress well, one sentence on what it can and cannot show."""
    if config.get("init_from"):
        return None
    gpx = float(config.num_steps) * float(config.batch_size) * float(config.crop) ** 2 / 1e9
    if gpx >= JPEG_PARITY_GPX:
        return None
    return (f"What this run can show: it trained on {gpx:.3g} Gpx ({config.num_steps} steps of "
            f"{config.batch_size}x{config.crop}² crops), and a hyperprior reaches JPEG's curve only after "
            f"roughly 15-26 Gpx (25-40 CPU-hours per λ on a 2-core CPU), so it checks that the pipeline works "
            "(real bytes that decode, rate growing with λ) but says nothing about how well jlic's models "
            "compress; for that, evaluate CompressAI's published weights with jlic (`python -m jlic reproduce "
            "bmshj2018-hyperprior --data ../shared/data/kodak`) and see the training-equivalence check "
            "(`benchmarks/train_equivalence.py`, README).")
