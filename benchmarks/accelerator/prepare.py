"""Before a device call, here: download the wheels and write the data that travels with it.

    python -m benchmarks.accelerator.prepare                 # .whl/ (wheels) and .accel/ (images), size check
    python -m benchmarks.accelerator.prepare --no-wheels --crops 2 --crop-size 64 --eval-images 0 \\
        --train-images 4 --data /tmp/accel                   # the tiny data of the CPU dry run

Both folders are ignored by git (.gitignore) and named in the `run` tool's `carry`. `.accel/` holds:

- `kodak-crops/`: `--crops` crops of Kodak images (PNG, lossless), for the encode/decode sync stage;
- `kodak/`: the first `--eval-images` Kodak images, whole (PNG bytes copied), for the training stage's
  real-bytes evaluation (0: it uses the crops);
- `train/`: `--train-images` BSDS300 training images as JPEG quality 95 (PNG would not fit the carry limit);
- `anchors/`: CompressAI's published Kodak curve of bmshj2018-hyperprior (MSE), for the RD gap;
- `manifest.json`: what was written, from where.

The Kodak and BSDS images are read from `../shared/data/` (never copied into the repository). The size
check adds git's tracked and untracked-not-ignored files to both folders and compares with the 64 MiB a
call may carry.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from benchmarks.accelerator import wheels

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"
KODAK = SHARED / "data" / "kodak"
BSDS = SHARED / "data" / "bsds200"
ANCHORS = SHARED / "reference" / "kodak-rd"
ANCHOR_FILES = ("compressai-bmshj2018-hyperprior_mse_cuda.json",)
WHEEL_DIR = ROOT / ".whl"
DATA_DIR = ROOT / ".accel"


def crop_boxes(count: int, size: int) -> list[tuple[int, int, int, int]]:
    """(top, left, height, width) of `count` crops; every fourth is not square and not a multiple of 64
    (exercises the codec's padding; the sync stage takes the first 3, of one shape, one compile)."""
    boxes = []
    for i in range(count):
        h, w = (size, size) if i % 4 != 3 else (size - size // 4, size + size // 4)
        boxes.append(((37 * i) % 64, (53 * i) % 96, h, w))
    return boxes


def write_data(folder: Path, crops: int, crop_size: int, eval_images: int, train_images: int,
               kodak: Path = KODAK, bsds: Path = BSDS) -> dict[str, Any]:
    """Write the image folders of `.accel/` (see the module docstring); returns the manifest."""
    from PIL import Image

    kodak_paths = sorted(kodak.glob("*.png"))
    bsds_paths = sorted(bsds.glob("*.png"))
    if len(kodak_paths) < max(crops, eval_images) or len(bsds_paths) < train_images:
        raise FileNotFoundError(f"need {max(crops, eval_images)} Kodak images in {kodak} and {train_images} "
                                f"BSDS images in {bsds}; found {len(kodak_paths)} and {len(bsds_paths)}")
    for sub in ("kodak-crops", "kodak", "train", "anchors"):
        shutil.rmtree(folder / sub, ignore_errors=True)
        (folder / sub).mkdir(parents=True)
    manifest: dict[str, Any] = {"kodak-crops": [], "kodak": [], "train": [], "anchors": []}
    for p, (top, left, h, w) in zip(kodak_paths, crop_boxes(crops, crop_size), strict=False):
        with Image.open(p) as im:
            a = im.convert("RGB")
            if a.height < a.width and h > w:  # keep the crop inside landscape and portrait images alike
                h, w = w, h
            out = folder / "kodak-crops" / f"{p.stem}-{h}x{w}.png"
            a.crop((left, top, left + w, top + h)).save(out)
        manifest["kodak-crops"].append({"file": out.name, "source": p.name, "box": [top, left, h, w]})
    for p in kodak_paths[:eval_images]:
        shutil.copyfile(p, folder / "kodak" / p.name)
        manifest["kodak"].append(p.name)
    for p in bsds_paths[:train_images]:
        with Image.open(p) as im:
            im.convert("RGB").save(folder / "train" / f"{p.stem}.jpg", quality=95)
        manifest["train"].append(p.name)
    for name in ANCHOR_FILES:
        if (ANCHORS / name).exists():
            shutil.copyfile(ANCHORS / name, folder / "anchors" / name)
            manifest["anchors"].append(name)
    manifest["sources"] = {"kodak": str(kodak), "bsds": str(bsds)}
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest


def folder_bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) if folder.exists() else 0


def repo_bytes(root: Path = ROOT) -> int | None:
    """Bytes of the files that travel from the checkout itself (tracked + untracked-not-ignored)."""
    try:
        out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=root,
                             capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    return sum((root / n).stat().st_size for n in out.decode().split("\0") if n and (root / n).is_file())


def size_report(wheel_dir: Path, data_dir: Path) -> dict[str, Any]:
    r = {"repo_bytes": repo_bytes(), "wheels_bytes": folder_bytes(wheel_dir),
         "data_bytes": folder_bytes(data_dir)}
    r["total_bytes"] = sum(v for v in r.values() if v)
    r["limit_bytes"] = wheels.CARRY_LIMIT_BYTES
    r["fits"] = r["total_bytes"] <= r["limit_bytes"]
    return r


def download_wheels(dest: Path) -> dict[str, Any]:
    """Run `wheels.download_commands` (network: the package registry); then check the folder."""
    dest.mkdir(parents=True, exist_ok=True)
    failed = []
    for cmd in wheels.download_commands(dest):
        print("$ " + " ".join(cmd[2:]), flush=True)
        if subprocess.run(cmd).returncode != 0:
            failed.append(cmd[-1])
    res = wheels.check_folder(dest)
    res["download_failed"] = failed
    return res


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.accelerator.prepare",
                                description=__doc__.splitlines()[0])
    p.add_argument("--wheels", type=Path, default=WHEEL_DIR)
    p.add_argument("--data", type=Path, default=DATA_DIR)
    p.add_argument("--no-wheels", action="store_true", help="skip the download (data only)")
    p.add_argument("--crops", type=int, default=4)
    p.add_argument("--crop-size", type=int, default=256)
    p.add_argument("--eval-images", type=int, default=24, help="whole Kodak images for the RD point")
    p.add_argument("--train-images", type=int, default=200)
    args = p.parse_args(argv)
    report: dict[str, Any] = {}
    if not args.no_wheels:
        report["wheels"] = w = download_wheels(args.wheels)
        for e in w["errors"]:
            print(f"wheel error: {e}", file=sys.stderr)
    report["data"] = write_data(args.data, args.crops, args.crop_size, args.eval_images, args.train_images)
    report["size"] = s = size_report(args.wheels, args.data)
    mib = lambda b: f"{(b or 0) / 2**20:.1f} MiB"
    print(f"wheels {mib(s['wheels_bytes'])}, data {mib(s['data_bytes'])}, repository {mib(s['repo_bytes'])}: "
          f"{mib(s['total_bytes'])} of {mib(s['limit_bytes'])} -> {'fits' if s['fits'] else 'TOO LARGE'}")
    ok = s["fits"] and (args.no_wheels or report["wheels"]["ok"])
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
