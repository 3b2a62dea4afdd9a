"""Rate-distortion curves in CompressAI's JSON shape: load, save (atomically), merge, select metrics.

A curve file looks like the anchors in ``shared/reference/kodak-rd/``::

    {"name": "JPEG", "description": "...", "meta": {...},            # description and meta optional
     "results": {"bpp": [...], "psnr-rgb": [...], "ms-ssim-rgb": [...],
                 "encoding_time": [...], "decoding_time": [...]}}      # one entry per RD point

``results`` may hold any other per-point lists (e.g. ``ms-ssim-db-rgb``, ``bpp-estimated``, ``lambda``);
they are kept through load/save/merge. Other top-level keys are kept in ``RDCurve.extra``.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from jlic.paths import as_path, atomic_write_text, read_bytes

METRICS: dict[str, str] = {"psnr": "psnr-rgb", "ms-ssim": "ms-ssim-rgb"}
WORKDIR_FILE = "rd.json"


class RDCurveError(ValueError):
    """A file or dict is not a valid RD curve (the message names the file and the problem)."""


@dataclass
class RDCurve:
    """One codec's or model's RD points: ``results[key]`` is a list with one value per point."""

    name: str
    results: dict[str, list[float]]
    description: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    source: str | None = None  # where it was loaded from; not saved

    def __post_init__(self) -> None:
        _validate(self.name, self.results, self.source or self.name)

    def __len__(self) -> int:
        return len(self.results["bpp"])

    @property
    def bpp(self) -> np.ndarray:
        return np.asarray(self.results["bpp"], dtype=np.float64)

    def has(self, metric: str) -> bool:
        """Whether the curve can give ``metric`` ("psnr" or "ms-ssim")."""
        if metric == "ms-ssim":
            return "ms-ssim-rgb" in self.results or "ms-ssim-db-rgb" in self.results
        return _key(metric) in self.results

    def quality_db(self, metric: str = "psnr") -> np.ndarray:
        """The quality axis in dB: PSNR-RGB, or MS-SSIM as ``-10 log10(1 - ms_ssim)`` (RD-plot convention)."""
        key = _key(metric)
        if key in self.results:
            values = np.asarray(self.results[key], dtype=np.float64)
            if metric == "ms-ssim":
                with np.errstate(divide="ignore"):
                    values = -10.0 * np.log10(1.0 - values)
            return values
        if metric == "ms-ssim" and "ms-ssim-db-rgb" in self.results:
            return np.asarray(self.results["ms-ssim-db-rgb"], dtype=np.float64)
        raise KeyError(f"curve {self.name!r} has no {metric} values")

    def sorted(self) -> RDCurve:
        """A copy with points in increasing bpp."""
        order = np.argsort(self.bpp, kind="stable")
        results = {k: [v[i] for i in order] for k, v in self.results.items()}
        return RDCurve(self.name, results, self.description, dict(self.extra), self.source)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "description": self.description}
        out.update(self.extra)
        out["results"] = {k: [float(x) for x in v] for k, v in self.results.items()}
        return out


def _key(metric: str) -> str:
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; choose one of {sorted(METRICS)}")
    return METRICS[metric]


def _validate(name: Any, results: Any, where: str) -> None:
    if not isinstance(name, str) or not name:
        raise RDCurveError(f"{where}: 'name' must be a non-empty string")
    if not isinstance(results, Mapping) or "bpp" not in results:
        raise RDCurveError(f"{where}: 'results' must be an object with a 'bpp' list")
    n = None
    for key, values in results.items():
        if not isinstance(values, list) or not all(isinstance(v, (int, float)) for v in values):
            raise RDCurveError(f"{where}: results[{key!r}] must be a list of numbers")
        if n is not None and len(values) != n:
            raise RDCurveError(f"{where}: results[{key!r}] has {len(values)} points, 'bpp' has {n}")
        n = len(values) if n is None else n
    if any(not (isinstance(b, (int, float)) and math.isfinite(b) and b > 0) for b in results["bpp"]):
        raise RDCurveError(f"{where}: bpp values must be finite and positive")


def from_json(data: Mapping[str, Any], source: str | None = None) -> RDCurve:
    """Build a curve from a parsed JSON object (raises RDCurveError when it is not one)."""
    where = source or "<json>"
    if not isinstance(data, Mapping):
        raise RDCurveError(f"{where}: expected a JSON object with 'name' and 'results'")
    if "results" not in data:
        raise RDCurveError(f"{where}: missing 'results'")
    results = {k: list(v) if isinstance(v, (list, tuple)) else v for k, v in dict(data["results"]).items()}
    extra = {k: v for k, v in data.items() if k not in ("name", "description", "results")}
    name = data.get("name") or (Path(source).stem if source else None)
    return RDCurve(name, results, str(data.get("description", "")), extra, source)


def from_points(
    name: str, points: Sequence[Mapping[str, float]], description: str = "", **extra: Any
) -> RDCurve:
    """A curve from per-point records (e.g. one dict per λ: ``{"bpp": .., "psnr-rgb": .., ...}``).

    Keys missing from some points are dropped; points are sorted by bpp.
    """
    if not points:
        raise RDCurveError(f"{name}: no RD points")
    keys = [k for k in points[0] if all(k in p for p in points)]
    results = {k: [float(p[k]) for p in points] for k in keys}
    return RDCurve(name, results, description, dict(extra)).sorted()


def load(path: str | os.PathLike[str]) -> RDCurve:
    """Read one RD JSON file, or a workdir holding ``rd.json`` (local or e.g. ``gs://``)."""
    path = as_path(path)
    if path.is_dir():
        path = path / WORKDIR_FILE
    try:
        data = json.loads(read_bytes(path))
    except FileNotFoundError:
        raise RDCurveError(f"{path}: no such file") from None
    except json.JSONDecodeError as e:
        raise RDCurveError(f"{path}: not valid JSON ({e})") from None
    return from_json(data, str(path))


def load_many(paths: Iterable[str | os.PathLike[str]], pattern: str = "*.json") -> list[RDCurve]:
    """Curves from files and folders: a folder with ``rd.json`` is one workdir; another folder contributes
    every file matching ``pattern`` (sorted by name)."""
    curves: list[RDCurve] = []
    for p in map(as_path, paths):
        if p.is_dir() and not (p / WORKDIR_FILE).exists():
            files = sorted(p.glob(pattern))
            if not files:
                raise RDCurveError(f"{p}: no RD JSON files ({pattern}) in this folder")
            curves.extend(load(f) for f in files)
        else:
            curves.append(load(p))
    return curves


def save(curve: RDCurve, path: str | os.PathLike[str]) -> Any:
    """Write ``curve`` as JSON atomically (:func:`jlic.paths.atomic_write`; local or e.g. ``gs://``)."""
    return atomic_write_text(path, json.dumps(curve.to_json(), indent=2) + "\n", make_parents=True)


def merge(curves: Sequence[RDCurve], name: str | None = None, description: str | None = None) -> RDCurve:
    """One curve holding the points of all ``curves`` (keys common to all of them), sorted by bpp.

    Use it to join partial results, e.g. the per-λ curves of a sweep, into one RD curve.
    """
    if not curves:
        raise RDCurveError("merge: no curves given")
    keys = [k for k in curves[0].results if all(k in c.results for c in curves)]
    results = {k: [v for c in curves for v in c.results[k]] for k in keys}
    desc = curves[0].description if description is None else description
    return RDCurve(name or curves[0].name, results, desc, dict(curves[0].extra)).sorted()
