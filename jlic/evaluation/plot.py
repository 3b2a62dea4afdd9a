"""`python -m jlic plot`: RD curves (bpp vs PSNR-RGB or MS-SSIM in dB) and a markdown BD-rate table.

Reads any number of RD JSONs in the anchor shape (files, workdirs holding ``rd.json``, or folders of JSONs),
draws them with matplotlib's Agg backend (classic codecs dashed, as CompressAI's plots do), and writes a
BD-rate table (each curve against each anchor, or against one ``--reference``) to ``report.md`` and stdout.

Example::

    python -m jlic plot runs/hyper --anchors ../shared/reference/kodak-rd --out runs/hyper/rd.png
    python -m jlic plot benchmarks/results/kodak-baselines --reference JPEG --metric ms-ssim

The library functions ``plot_rd``, ``bd_table`` and ``report`` are what the sweep runner calls.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from jlic.evaluation import rdcurve
from jlic.evaluation.rdcurve import RDCurve
from jlic.metrics.bdrate import METHODS, bd_psnr, bd_rate
from jlic.paths import as_path, atomic_write

CLASSIC_CODEC = re.compile(r"jpe?g|webp|j2k|avif|jxl|bpg|x26[45]|hevc|\bhm\b|vtm|vvc|av1", re.IGNORECASE)
YLABEL = {"psnr": "PSNR-RGB [dB]", "ms-ssim": "MS-SSIM-RGB [dB]  (-10 log10(1 - MS-SSIM))"}
# Anchors plotted by default from a folder shaped like shared/reference/kodak-rd ({m}: mse or ms-ssim).
DEFAULT_ANCHORS = (
    "jpeg.json", "webp.json", "jpeg2000.json", "bpg_444_x265_ycbcr.json", "vtm.json",
    "compressai-bmshj2018-factorized_{m}_cpu.json", "compressai-bmshj2018-hyperprior_{m}_cpu.json",
    "compressai-mbt2018-mean_{m}_cpu.json", "compressai-mbt2018_{m}_cpu.json",
)


def is_classic(curve: RDCurve) -> bool:
    """Whether a curve is a classic (non-learned) codec, by its name or file name; drawn dashed."""
    stem = Path(curve.source).stem if curve.source else ""
    return bool(CLASSIC_CODEC.search(curve.name) or CLASSIC_CODEC.search(stem)) and "compressai" not in stem


def labels(curves: Sequence[RDCurve]) -> list[str]:
    """Display names: each curve's name, plus its file name (or folder, if the file names match too) where
    two curves share a name."""
    names = [c.name for c in curves]
    stems = [_stem(c) for c in curves]
    out = []
    for c, stem in zip(curves, stems, strict=True):
        if names.count(c.name) > 1 and c.source:
            same_stem = sum(1 for n, s in zip(names, stems, strict=True) if n == c.name and s == stem) > 1
            out.append(f"{c.name} ({Path(c.source).parent.name if same_stem else stem})")
        else:
            out.append(c.name)
    return out


def _stem(c: RDCurve) -> str:
    if not c.source:
        return c.name
    p = Path(c.source)
    return p.parent.name if p.name == rdcurve.WORKDIR_FILE else p.stem


def _colors(n: int) -> list:
    """Distinct colours: tab10, then Dark2 (tab20's light/dark pairs are too alike for neighbouring curves)."""
    from matplotlib import colormaps

    palette = [colormaps["tab10"](i) for i in range(10)] + [colormaps["Dark2"](i) for i in range(8)]
    return [palette[i % len(palette)] for i in range(n)]


def plot_rd(
    curves: Sequence[RDCurve],
    path: str | os.PathLike[str],
    metric: str = "psnr",
    title: str | None = None,
    anchors: Sequence[RDCurve] = (),
    xmax: float | None = None,
) -> Path:
    """Draw bpp vs quality (PSNR-RGB, or MS-SSIM in dB) for every curve that has ``metric``; write a PNG.

    ``curves`` are drawn bold, ``anchors`` thinner behind them; classic codecs are dashed. With anchors and
    no ``xmax``, the x range follows the bold curves (anchors often reach far higher rates). The file is
    written atomically; returns its path.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    every = list(curves) + list(anchors)
    shown = [(c, lab, i < len(curves)) for i, (c, lab) in enumerate(zip(every, labels(every), strict=True))
             if c.has(metric)]
    if not shown:
        raise ValueError(f"no curve has {metric} values to plot")
    if xmax is None and anchors and any(bold for _, _, bold in shown):
        xmax = max(1.0, 1.15 * max(float(c.bpp.max()) for c, _, bold in shown if bold))
    fig = Figure(figsize=(9, 6.5), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ys = []
    for (curve, label, bold), color in zip(shown, _colors(len(shown)), strict=True):
        c = curve.sorted()
        x, y = c.bpp, c.quality_db(metric)
        ax.plot(x, y, linestyle="--" if is_classic(curve) else "-", marker="o" if bold else ".",
                markersize=4 if bold else 3, linewidth=2.2 if bold else 1.1, alpha=1.0 if bold else 0.8,
                color=color, label=label, zorder=3 if bold else 2)
        ys.append(y[x <= xmax] if xmax else y)
    ax.set_xlabel("bits per pixel (bpp)")
    ax.set_ylabel(YLABEL[metric])
    ax.set_title(title or f"Rate-distortion ({'PSNR-RGB' if metric == 'psnr' else 'MS-SSIM'})")
    ax.grid(True, alpha=0.3)
    ax.set_xlim(0, xmax)
    visible = np.concatenate(ys)
    visible = visible[np.isfinite(visible)]
    if xmax and visible.size:
        pad = 0.03 * (visible.max() - visible.min() + 1e-9)
        ax.set_ylim(visible.min() - pad, visible.max() + pad)
    ax.legend(fontsize=8, loc="lower right", ncol=1 if len(shown) <= 12 else 2, framealpha=0.85)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return atomic_write(path, buf.getvalue(), make_parents=True)


def bd_value(test: RDCurve, anchor: RDCurve, metric: str = "psnr", method: str = "pchip",
             quantity: str = "rate") -> float | None:
    """BD-rate in percent (``quantity="rate"``) or BD-quality in dB (``"psnr"``) of ``test`` against
    ``anchor``; None where either lacks ``metric`` or the curves do not overlap."""
    if not (test.has(metric) and anchor.has(metric)):
        return None
    args = (anchor.bpp, anchor.quality_db(metric), test.bpp, test.quality_db(metric))
    try:
        return bd_rate(*args, method=method) if quantity == "rate" else bd_psnr(*args, method=method)
    except ValueError:  # no overlap, too few points, duplicate points
        return None


def bd_table(
    curves: Sequence[RDCurve],
    anchors: Sequence[RDCurve],
    metric: str = "psnr",
    method: str = "pchip",
    quantity: str = "rate",
) -> str:
    """A markdown table: one row per curve, one column per anchor; cells are BD-rate in percent
    (``quantity="rate"``, negative = fewer bits than the anchor) or BD-PSNR / BD-quality in dB
    (``quantity="psnr"``). "n/a" where a curve lacks the metric or the two curves do not overlap."""
    if method not in METHODS:
        raise ValueError(f"unknown BD method {method!r}; choose one of {METHODS}")
    unit = "%" if quantity == "rate" else " dB"
    names = labels(list(curves) + list(anchors))  # disambiguated across rows and columns together
    row_names, col_names = names[: len(curves)], names[len(curves) :]
    rows = ["| curve | " + " | ".join(col_names) + " |", "|---|" + "---:|" * len(anchors)]
    for curve, label in zip(curves, row_names, strict=True):
        cells = []
        for anchor in anchors:
            v = bd_value(curve, anchor, metric, method, quantity)
            cells.append("n/a" if v is None else f"{v:+.2f}{unit}")
        rows.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def report(curves: Sequence[RDCurve], anchors: Sequence[RDCurve], metric: str = "psnr",
           method: str = "pchip", image: str | None = None) -> str:
    """The markdown report: BD-rate and BD-quality tables of ``curves`` against ``anchors``."""
    what = "PSNR-RGB" if metric == "psnr" else "MS-SSIM (dB)"
    kind = "VCEG-M33 cubic fit" if method == "cubic" else "piecewise cubic (PCHIP) interpolation"
    lines = [f"# Rate-distortion report ({what})", ""]
    if image:
        lines += [f"![RD curves]({image})", ""]
    lines += [f"BD-rate (%, negative = fewer bits than the column's anchor at equal {what}), {kind}:", "",
              bd_table(curves, anchors, metric, method, "rate"), "",
              f"BD-{'PSNR' if metric == 'psnr' else 'MS-SSIM'} (dB, positive = better than the anchor):", "",
              bd_table(curves, anchors, metric, method, "psnr"), ""]
    return "\n".join(lines)


def select_anchors(paths: Sequence[str], metric: str, patterns: Sequence[str] = ()) -> list[RDCurve]:
    """Anchor curves from files and folders. In a folder, ``patterns`` (globs) choose files; without them,
    ``DEFAULT_ANCHORS`` where present (classic codecs and CompressAI's pretrained models for ``metric``),
    else every ``*.json``."""
    m = "mse" if metric == "psnr" else "ms-ssim"
    out: list[RDCurve] = []
    for p in map(as_path, paths):
        if p.is_dir() and not (p / rdcurve.WORKDIR_FILE).exists():
            if patterns:
                files = sorted({f for pat in patterns for f in p.glob(pat)})
            else:
                files = [p / n.format(m=m) for n in DEFAULT_ANCHORS if (p / n.format(m=m)).exists()]
                files = files or sorted(p.glob("*.json"))
            if not files:
                raise rdcurve.RDCurveError(f"{p}: no anchor JSON files match {list(patterns) or '*.json'}")
            out.extend(rdcurve.load(f) for f in files)
        else:
            out.append(rdcurve.load(p))
    return out


def _find(curves: Sequence[RDCurve], key: str) -> RDCurve:
    for c in curves:
        if key in (c.name, _stem(c), c.source):
            return c
    names = ", ".join(repr(c.name) for c in curves)
    raise ValueError(f"--reference {key!r} matches no curve (names: {names})")


__all__ = ["bd_table", "is_classic", "labels", "plot_rd", "report", "select_anchors"]
