"""The wheels jlic needs on the lent GPU machine beyond its image, and how they travel and install.

The device image (Python 3.12, jax 0.11 + CUDA 13, flax, optax, orbax-checkpoint, torch 2.11, torchvision,
numpy, scipy, scikit-image, pillow, matplotlib, pandas, einops, pybind11, torch-geometric, tqdm, pytest,
pytest-timeout, hypothesis, absl-py, etils, cloudpickle, protobuf, psutil, PyYAML, ...; the device README's
KINDS.md lists them) lacks the packages below. Each was worked out from `setup.cfg` (install_requires and
the `peers` extra), `scripts/install_peers.sh`, and the `Requires-Dist` lines of each wheel's METADATA
(skipping `extra ==` lines), keeping only the needs the image does not have:

- grain needs array-record and portpicker (absl-py, cloudpickle, etils, numpy, protobuf are there);
  array-record needs absl-py and etils[epath] (there; on 3.12 etils uses the standard importlib.resources);
  portpicker needs psutil (there).
- compressai is installed with --no-deps (it declares numpy<2; jax needs numpy>=2), as
  `scripts/install_peers.sh` does; of its needs only pytorch-msssim is missing (einops, matplotlib, pandas,
  pybind11, scipy, torch, torch-geometric, torchvision, tqdm, typing-extensions are there).
- ml-collections needs absl-py and PyYAML, tensorboardX numpy, packaging and protobuf, constriction numpy
  (all there).

`python -m benchmarks.accelerator.prepare` downloads them (`download_commands`); on the device,
`benchmarks.accelerator.run` installs them (`install_command`) into /tmp/site and checks the result
(`check_installed`). Standard library only.
"""

from __future__ import annotations

import dataclasses
import re
import sys
from pathlib import Path
from typing import Any

# The README's platform list, plus the manylinux_2_N tags pip needs to see for wheels built on newer glibc
# (pip matches N exactly); the device image is Ubuntu-based with glibc >= 2.35 (checked there by `env`).
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64",
             "manylinux1_x86_64", "manylinux_2_24_x86_64", "manylinux_2_31_x86_64", "manylinux_2_34_x86_64",
             "manylinux_2_35_x86_64")
PYTHON_VERSION = "3.12"
CARRY_LIMIT_BYTES = 64 * 2**20  # what travels with one device call, repository included
TARGET = "/tmp/site"


@dataclasses.dataclass(frozen=True)
class Wheel:
    name: str  # as on the package index
    version: str
    module: str  # what `import` it provides
    why: str


WHEELS: tuple[Wheel, ...] = (
    Wheel("constriction", "0.5.0", "constriction", "entropy coder of jlic.entropy (install_requires)"),
    Wheel("ml-collections", "1.1.0", "ml_collections", "experiment configs (install_requires)"),
    Wheel("grain", "0.2.18", "grain", "training data pipeline (install_requires)"),
    Wheel("array-record", "0.8.6", "array_record", "Requires-Dist of grain"),
    Wheel("portpicker", "1.6.0", "portpicker", "Requires-Dist of grain"),
    Wheel("tensorboardX", "2.6.5", "tensorboardX", "training logs (install_requires)"),
    Wheel("compressai", "1.2.8", "compressai", "the peer (extra `peers`), installed --no-deps as "
          "scripts/install_peers.sh does"),
    Wheel("pytorch-msssim", "1.0.0", "pytorch_msssim", "Requires-Dist of compressai"),
)

# Declared needs that are known not to hold and do not matter (why: see scripts/install_peers.sh).
KNOWN_UNMET = {("compressai", "numpy"): "compressai declares numpy<2 but runs on numpy 2",
               ("compressai", "setuptools"): "build-time need declared at run time",
               ("compressai", "wheel"): "build-time need declared at run time",
               ("compressai", "tomli"): "only read by compressai's build on Python < 3.11"}


def normalize(name: str) -> str:
    """PEP 503 name: lower case, runs of -_. as one dash."""
    return re.sub(r"[-_.]+", "-", name).lower()


def download_commands(dest: str | Path, python: str = sys.executable) -> list[list[str]]:
    """One `pip download` per wheel (so a missing one is named): binary only, no needs, for CPython 3.12 on
    manylinux x86-64, into `dest`."""
    base = [python, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--python-version",
            PYTHON_VERSION, "--implementation", "cp"]
    for p in PLATFORMS:
        base += ["--platform", p]
    return [base + ["-d", str(dest), f"{w.name}=={w.version}"] for w in WHEELS]


def wheel_files(folder: str | Path) -> list[Path]:
    return sorted(Path(folder).glob("*.whl"))


def parse_wheel_name(path: str | Path) -> tuple[str, str, str]:
    """(normalized name, version, platform tag) of a wheel file name `name-version(-build)?-py-abi-plat.whl`."""
    parts = Path(path).name[: -len(".whl")].split("-")
    if len(parts) < 5:
        raise ValueError(f"not a wheel file name: {Path(path).name}")
    return normalize(parts[0]), parts[1], parts[-1]


def check_folder(folder: str | Path) -> dict[str, Any]:
    """Compare the wheels in `folder` with `WHEELS`: every one present once at its version, nothing else.
    Returns {"ok", "errors", "files", "bytes"}."""
    want = {normalize(w.name): w.version for w in WHEELS}
    seen: dict[str, list[str]] = {}
    errors: list[str] = []
    files = wheel_files(folder)
    for f in files:
        try:
            name, version, _ = parse_wheel_name(f)
        except ValueError as e:
            errors.append(str(e))
            continue
        seen.setdefault(name, []).append(version)
        if name not in want:
            errors.append(f"{f.name}: not in the wheel list (benchmarks/accelerator/wheels.py)")
        elif version != want[name]:
            errors.append(f"{f.name}: version {version}, the list pins {want[name]}")
    for name, versions in seen.items():
        if len(versions) > 1:
            errors.append(f"{name}: {len(versions)} versions {versions} (two stop the whole install)")
    for name in want:
        if name not in seen:
            errors.append(f"{name}=={want[name]}: missing from {folder}")
    return {"ok": not errors, "errors": errors, "files": [f.name for f in files],
            "bytes": sum(f.stat().st_size for f in files)}


def install_command(folder: str | Path, target: str = TARGET, python: str = sys.executable) -> list[str]:
    """The device README's install: no index, no needs, no bytecode, into `target` (then on PYTHONPATH)."""
    files = [str(f) for f in wheel_files(folder)] or [f"{folder}/*.whl"]
    return [python, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--no-compile", "--no-cache-dir",
            "--upgrade", "--target", target, *files]


def _req_name(requirement: str) -> str:
    from packaging.requirements import Requirement

    return Requirement(requirement).name


def _satisfied(requirement: str) -> tuple[bool, str] | None:
    """Whether one `Requires-Dist` line holds in this environment; None if its marker excludes it here."""
    from importlib import metadata

    from packaging.requirements import Requirement

    req = Requirement(requirement)
    if req.marker is not None and not req.marker.evaluate({"extra": ""}):
        return None
    try:
        have = metadata.version(req.name)
    except metadata.PackageNotFoundError:
        return False, "not installed"
    return (req.specifier.contains(have, prereleases=True), have)


def check_installed() -> dict[str, Any]:
    """In the running environment: each listed wheel's version and import, and every non-extra
    `Requires-Dist` of it satisfied (known exceptions in `KNOWN_UNMET` are reported, not counted)."""
    import importlib
    from importlib import metadata

    out: dict[str, Any] = {"packages": {}, "unmet": [], "known_unmet": [], "import_errors": []}
    for w in WHEELS:
        row: dict[str, Any] = {"want": w.version}
        try:
            row["have"] = metadata.version(w.name)
            row["location"] = str(metadata.distribution(w.name).locate_file(""))
        except metadata.PackageNotFoundError:
            row["have"] = None
        try:
            importlib.import_module(w.module)
            row["import"] = "ok"
        except Exception as e:  # any import failure is the finding
            row["import"] = f"{type(e).__name__}: {e}"
            out["import_errors"].append(f"{w.module}: {row['import']}")
        for r in (metadata.requires(w.name) or []) if row["have"] else []:
            res = _satisfied(r)
            if res is None or res[0]:
                continue
            entry = f"{w.name} needs {r} (have: {res[1]})"
            key = (normalize(w.name), normalize(_req_name(r)))
            (out["known_unmet"] if key in KNOWN_UNMET else out["unmet"]).append(entry)
        out["packages"][w.name] = row
    out["ok"] = (not out["unmet"] and not out["import_errors"]
                 and all(r["have"] == r["want"] for r in out["packages"].values()))
    return out
