"""Reproduce a published CompressAI curve with jlic's real bitstreams:

    python -m jlic reproduce bmshj2018-hyperprior --data ../shared/data/kodak --workdir runs/zoo/hyperprior

fetches CompressAI's weights for every quality (`jlic.interop.pretrained`: cached, hash-checked), codes
every image into `.jlic` bytes and back with CompressAI's own coding tables, and writes `rd.json` (one point
per quality), `rd.png` and `report.md` with BD-rate against the `compressai-<model>_<metric>_*` anchors
(CompressAI's published Kodak numbers). The default convention is CompressAI's (zero padding, stream bytes),
so on Kodak the curves should coincide; `--convention jlic` gives jlic's own (edge padding, whole file).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from jlic.interop import pretrained
from jlic.paths import makedirs


def anchor_names(name: str, metric: str, anchors: Path) -> list[str]:
    """CompressAI's published curve of `name` (CPU file preferred, else CUDA), then JPEG."""
    found = [f"compressai-{name}_{metric}_{dev}" for dev in ("cpu", "cuda")
             if (anchors / f"compressai-{name}_{metric}_{dev}.json").exists()]
    return found[:1] + ["jpeg"]


def reproduce(name: str, data: str | Path, workdir: str | Path, metric: str = "mse",
              qualities: list[int] | None = None, anchors: str | Path | None = "../shared/reference/kodak-rd",
              convention: str = "compressai", limit: int | None = None, **fetch_kwargs) -> dict[str, Path]:
    """Evaluate the zoo model `name` at `qualities` (default all) on the images in `data`; returns the files."""
    from jlic.data.pipeline import eval_images
    from jlic.evaluation.plot import plot_rd
    from jlic.evaluation.rdcurve import save
    from jlic.evaluation.report import (
        convention_note,
        curve_origins,
        evaluate_exports,
        load_anchors,
        write_report,
    )
    from jlic.models.registry import LAMBDAS_MSE, LAMBDAS_MSSSIM

    workdir = makedirs(workdir)  # local or e.g. gs:// (jlic.paths)
    qs = qualities or pretrained.qualities(name, metric)
    lambdas = LAMBDAS_MSE if metric == "mse" else LAMBDAS_MSSSIM
    exports = {lambdas[q]: pretrained.fetch(name, q, metric, **fetch_kwargs) for q in qs}
    images = eval_images(str(data), limit=limit)
    title = f"jlic: CompressAI zoo {name} ({metric})"
    desc = (f"CompressAI's published {name} weights ({metric}, qualities {','.join(map(str, qs))}) imported "
            f"into jlic, coded with jlic's entropy coder and CompressAI's integer tables; eval {data} "
            f"({len(images)} images)")
    curve = evaluate_exports(exports, images, title, desc, convention)
    origin = "imported weights (CompressAI zoo), coded and decoded here by jlic"
    curve = replace(curve, extra={**curve.extra, "convention": convention, "origin": origin,
                                  "qualities": list(qs)})
    rd = save(curve, workdir / "rd.json")
    refs = load_anchors(anchors, anchor_names(name, metric, Path(anchors))) if anchors else []
    png = plot_rd([curve], workdir / "rd.png", metric="psnr" if metric == "mse" else "ms-ssim", title=title,
                  anchors=[replace(c, name=f"{c.name} (anchor)") for c in refs])
    header = "\n\n".join([desc + ".", convention_note(convention), curve_origins(curve.name, origin, refs, [])])
    report = write_report(workdir / "report.md", curve, refs, [], header)
    return {"rd.json": rd, "rd.png": png, "report.md": report}
