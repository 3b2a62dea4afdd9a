"""CompressAI's published zoo weights in one call: download (resumable), hash check, cache, jlic checkpoint.

    from jlic.interop import pretrained
    pre = pretrained.load("bmshj2018-hyperprior", 3)        # metric="mse" | "ms-ssim"
    data = pre.codec().compress(image)                                    # real .jlic bytes
    python -m jlic pretrained bmshj2018-hyperprior --quality 3 --out ckpt/hyper-q3
    python -m jlic eval --checkpoint ckpt/hyper-q3 --data ../shared/data/kodak --convention compressai

Six models (Ballé et al. 2018, arXiv 1802.01436; Minnen et al. 2018, arXiv 1809.02736; Cheng et al. 2020,
arXiv 2001.01568), qualities 1-8 (1-6 for cheng2020), metrics mse and ms-ssim; and the three variable-rate
models (`bmshj2018-hyperprior-vbr`, `mbt2018-mean-vbr`, `mbt2018-vbr`, Kamisli et al. 2024, arXiv 2402.18930;
mse, one file: quality 1, the level chosen when coding). The file names, and the
SHA-256 prefix each one carries (`<stem>-<hash8>.pth.tar`), are those of CompressAI's `zoo/image.py`; as
torch.hub does, a download is accepted only if the SHA-256 of its bytes starts with that prefix.

Cache (`$JLIC_CACHE`, default `~/.cache/jlic`): `compressai/<file>.pth.tar` (the download; a cut download
stays as `<file>.part` and the next call resumes it with an HTTP Range request) and
`pretrained/<name>_<metric>_q<Q>/` (the converted jlic checkpoint: `model.json`, `params.npz` and
`coding_tables.npz`, CompressAI's own integer CDF tables, which `python -m jlic compress/eval` use as is).
A second call loads the converted checkpoint without touching the network or torch.

Where the files come from: `$JLIC_PRETRAINED_URL` (or `base_url=`) replaces CompressAI's URL base (a
mirror with the same file names); `$JLIC_PRETRAINED_INDEX` (or `index=`) names a JSON file
`{"<name>": {"<metric>": {"<quality>": "<url>"}}}` of other weights, whose file names must carry their own
hash prefix. Without network the error names the URL that failed and the path to put the file at by hand.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jlic.codec.export import TABLES_FILE, load_model, save_model

COMPRESSAI_URL = "https://compressai.s3.amazonaws.com/models/v1"
METRICS = ("mse", "ms-ssim")

# (model, metric) -> (file-name stem with {q}, hash prefix of quality 1, 2, ...): CompressAI zoo/image.py.
_FILES: dict[tuple[str, str], tuple[str, tuple[str, ...]]] = {
    ("bmshj2018-factorized", "mse"): ("bmshj2018-factorized-prior-{q}", (
        "446d5c7f", "87279a02", "5c6f152b", "1ed4405a", "866ba797", "9b02ea3a", "6dfd6734", "5232faa3")),
    ("bmshj2018-factorized", "ms-ssim"): ("bmshj2018-factorized-ms-ssim-{q}", (
        "9781d705", "4a584386", "5352f123", "4f91b847", "b3a88897", "ee028763", "8c265a29", "8811bd14")),
    ("bmshj2018-hyperprior", "mse"): ("bmshj2018-hyperprior-{q}", (
        "7eb97409", "93677231", "6d87be32", "de1b779c", "f8b614e1", "1ab9c41e", "3804dcbd", "a583f0cf")),
    ("bmshj2018-hyperprior", "ms-ssim"): ("bmshj2018-hyperprior-ms-ssim-{q}", (
        "5cf249be", "1ff60d1f", "92dd7878", "4377354e", "c34afc8d", "3a6d8229", "8747d3bc", "cc15b5f3")),
    ("mbt2018-mean", "mse"): ("mbt2018-mean-{q}", (
        "e522738d", "e54a039d", "723404a8", "6dba02a3", "d504e8eb", "a19628ab", "d5d441d1", "8089ae3e")),
    ("mbt2018-mean", "ms-ssim"): ("mbt2018-mean-ms-ssim-{q}", (
        "5bf9c0b6", "e2a1bf3f", "640ce819", "12626c13", "1be7f059", "b83bf379", "ddf9644c", "0cc7b94f")),
    ("mbt2018", "mse"): ("mbt2018-{q}", (
        "3f36cd77", "43b70cdd", "22901978", "456e2af9", "b4a046dd", "7052e5ea", "8ba2bf82", "dd0097aa")),
    ("mbt2018", "ms-ssim"): ("mbt2018-ms-ssim-{q}", (
        "2878436b", "c41cb208", "d0dd64e8", "a120e037", "9b30e3b7", "f8b3626f", "16e6ff50", "0cb49d43")),
    ("cheng2020-anchor", "mse"): ("cheng2020-anchor-{q}", (
        "dad2ebff", "a29008eb", "e49be189", "98b0b468", "23852949", "4c052b1a")),
    ("cheng2020-anchor", "ms-ssim"): ("cheng2020_anchor-ms-ssim-{q}", (
        "20f521db", "c7ff5812", "c23e22d5", "0e658304", "c0a95e77", "f2dc1913")),
    ("cheng2020-attn", "mse"): ("cheng2020_attn-mse-{q}", (
        "465f2b64", "e0805385", "2d07bbdf", "f7b0ccf2", "26c8920e", "730501f2")),
    ("cheng2020-attn", "ms-ssim"): ("cheng2020_attn-ms-ssim-{q}", (
        "c5381d91", "5dad201d", "5c9be841", "8b2f647e", "5ca1f34c", "216423ec")),
    # CompressAI's variable-rate models (zoo/image_vbr.py, arXiv 2402.18930): one file for all rates, so one
    # "quality"; the rate level is chosen when coding (`model.at(level)`, `python -m jlic compress --level`).
    ("bmshj2018-hyperprior-vbr", "mse"): ("bmshj2018-hyperprior-mse-vbr", ("cddd26be",)),
    ("mbt2018-mean-vbr", "mse"): ("mbt2018-mean-mse-vbr", ("45d095e9",)),
    ("mbt2018-vbr", "mse"): ("mbt2018-mse-vbr", ("f12581a1",)),
}
MODELS = tuple(dict.fromkeys(name for name, _ in _FILES))
_HASH = re.compile(r"-([0-9a-f]{6,64})\.")
_CHUNK = 1 << 16


class PretrainedError(RuntimeError):
    """A pretrained model cannot be provided (network, hash, unknown name); the message says what to do."""


@dataclass(frozen=True)
class Pretrained:
    """A converted zoo model: `model` + `params` (what `jlic.codec.codec` and the train step take),
    CompressAI's coding `tables`, and `checkpoint`, the jlic checkpoint directory in the cache (what
    `python -m jlic compress/eval --checkpoint` and the sweep's `init_from` take)."""

    model: Any
    params: Any
    tables: Any | None
    checkpoint: Path
    metric: str
    url: str

    def codec(self, convention: str = "compressai", jit: bool = True) -> Any:
        """A `jlic.codec.codec.Codec` coding with CompressAI's own tables, padding as `convention`
        (`jlic.codec.conventions`; default CompressAI's zeros)."""
        from jlic.codec.conventions import make_codec

        return make_codec(self.model, self.params, self.tables, convention, jit=jit)


def cache_dir(cache: str | Path | None = None) -> Path:
    """`cache`, else `$JLIC_CACHE`, else `~/.cache/jlic`."""
    return Path(cache or os.environ.get("JLIC_CACHE") or Path.home() / ".cache" / "jlic").expanduser()


def qualities(name: str, metric: str = "mse") -> list[int]:
    """The published qualities of zoo model `name`."""
    return list(range(1, len(_FILES[_key(name, metric)][1]) + 1))


def _key(name: str, metric: str) -> tuple[str, str]:
    if name not in MODELS:
        raise PretrainedError(f"no pretrained weights for {name!r}; available: {', '.join(MODELS)}")
    if metric not in METRICS:
        raise PretrainedError(f"metric must be one of {METRICS}, not {metric!r}")
    if (name, metric) not in _FILES:
        published = [m for n, m in _FILES if n == name]
        raise PretrainedError(f"{name} is published for {published} only, not {metric!r}")
    return name, metric


def url_for(name: str, quality: int, metric: str = "mse", base_url: str | None = None,
            index: str | Path | None = None) -> str:
    """The download URL of (`name`, `quality`, `metric`): from `index` / `$JLIC_PRETRAINED_INDEX` if given,
    else CompressAI's file name under `base_url` / `$JLIC_PRETRAINED_URL` / CompressAI's bucket."""
    key = _key(name, metric)
    index = index or os.environ.get("JLIC_PRETRAINED_INDEX")
    if index:
        try:
            table = json.loads(Path(index).read_text())
            return str(table[name][metric][str(quality)])
        except (OSError, ValueError) as e:
            raise PretrainedError(f"cannot read the pretrained index {index}: {e}") from None
        except KeyError:
            raise PretrainedError(f"the pretrained index {index} has no {name} {metric} q{quality}") from None
    stem, hashes = _FILES[key]
    if not 1 <= quality <= len(hashes):
        raise PretrainedError(f"{name} ({metric}) has qualities 1..{len(hashes)}, not {quality}")
    base = (base_url or os.environ.get("JLIC_PRETRAINED_URL") or COMPRESSAI_URL).rstrip("/")
    return f"{base}/{stem.format(q=quality)}-{hashes[quality - 1]}.pth.tar"


def hash_prefix(url_or_name: str) -> str:
    """The SHA-256 prefix in a zoo file name (`...-<hex>.pth.tar`)."""
    m = _HASH.search(url_or_name.rsplit("/", 1)[-1])
    if not m:
        raise PretrainedError(f"file name {url_or_name!r} carries no '-<sha256 prefix>.' to verify it by")
    return m.group(1)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _by_hand(url: str, dest: Path) -> str:
    return (f"Without network: download {url} elsewhere (e.g. `curl -L -O {url}`) and put it at {dest} "
            f"(its sha256 must start with {hash_prefix(url)}), or set JLIC_CACHE to a folder holding "
            f"compressai/{dest.name}.")


def _verify(path: Path, url: str) -> None:
    prefix = hash_prefix(url)
    digest = _sha256(path)
    if not digest.startswith(prefix):
        path.unlink(missing_ok=True)
        raise PretrainedError(f"{path.name}: sha256 {digest[:16]}... does not start with {prefix} (the file "
                              f"of {url} is corrupt or not that file); deleted it, rerun to download again")


def download(url: str, dest: str | Path, timeout: float = 60.0, quiet: bool = True) -> Path:
    """Download `url` to `dest` with urllib, resuming a previous cut download (`dest.part`, HTTP Range),
    and verify the SHA-256 prefix of the file name. An existing `dest` is only verified."""
    dest = Path(dest)
    if dest.exists():
        _verify(dest, url)
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    start = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": "jlic", **({"Range": f"bytes={start}-"} if start else {})}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout) as r:
            if start and r.status != 206:  # the server ignored the range: start over
                start = 0
            elif start and not str(r.headers.get("Content-Range", "")).startswith(f"bytes {start}-"):
                raise PretrainedError(f"{url}: the server resumed at {r.headers.get('Content-Range')!r}, "
                                      f"not at byte {start}; delete {part} and retry")
            length = r.headers.get("Content-Length")
            expected = start + int(length) if length is not None else None
            done = start
            with open(part, "ab" if start else "wb") as f:
                while block := r.read(_CHUNK):
                    f.write(block)
                    done += len(block)
                    if not quiet and expected:
                        print(f"\r{dest.name}: {done / 1e6:.1f} / {expected / 1e6:.1f} MB", end="",
                              file=sys.stderr)
            if not quiet:
                print(file=sys.stderr)
    except urllib.error.HTTPError as e:
        if e.code == 416 and start:  # the part file is already complete
            pass
        else:
            raise PretrainedError(f"downloading {url} failed: HTTP {e.code} {e.reason}. "
                                  + _by_hand(url, dest)) from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as e:
        reason = getattr(e, "reason", None) or e
        kept = f" ({part.stat().st_size} bytes kept in {part}, the next call resumes)" if part.exists() else ""
        raise PretrainedError(f"downloading {url} failed: {reason}{kept}. " + _by_hand(url, dest)) from None
    else:
        if expected is not None and done < expected:
            raise PretrainedError(f"downloading {url} was cut after {done} of {expected} bytes; {part} is kept "
                                  "and the next call resumes it. " + _by_hand(url, dest))
    _verify(part, url)
    os.replace(part, dest)
    return dest


def _converted_ok(directory: Path, prefix: str) -> bool:
    try:
        meta = json.loads((directory / "model.json").read_text())
    except (OSError, ValueError):
        return False
    sha = str(meta.get("source", {}).get("sha256", ""))
    return sha.startswith(prefix) and (directory / "params.npz").exists()


def fetch(name: str, quality: int, metric: str = "mse", *, cache: str | Path | None = None,
          base_url: str | None = None, index: str | Path | None = None, timeout: float = 60.0,
          quiet: bool = True) -> Path:
    """The converted jlic checkpoint directory of a zoo model, downloading and converting it if needed."""
    url = url_for(name, quality, metric, base_url, index)
    prefix = hash_prefix(url)
    root = cache_dir(cache)
    out = root / "pretrained" / f"{name}_{metric}_q{quality}"
    if _converted_ok(out, prefix):
        return out
    weights = download(url, root / "compressai" / url.rsplit("/", 1)[-1], timeout=timeout, quiet=quiet)
    from jlic.interop.compressai import import_compressai

    try:
        imp = import_compressai(name, weights, quality)
    except (KeyError, ValueError, TypeError) as e:
        raise PretrainedError(f"{weights} does not convert to jlic {name}: {e}") from None
    source = {"compressai": url, "sha256": _sha256(weights), "metric": metric, "quality": quality}
    # CompressAI's integer tables, when present: the published codec's probabilities
    files = {TABLES_FILE: imp.tables.to_bytes()} if imp.tables is not None else None
    save_model(out, imp.model, imp.params, extra={"source": source, "pretrained": True}, files=files)
    return out


def load(name: str, quality: int, metric: str = "mse", **kwargs: Any) -> Pretrained:
    """`fetch` then load: the model, params and CompressAI tables (see `Pretrained`)."""
    from jlic.codec.codec import ModelTables

    directory = fetch(name, quality, metric, **kwargs)
    model, params = load_model(directory)
    tables_file = directory / TABLES_FILE
    tables = ModelTables.from_bytes(tables_file.read_bytes()) if tables_file.exists() else None
    url = json.loads((directory / "model.json").read_text())["source"]["compressai"]
    return Pretrained(model, params, tables, directory, metric, url)


def parse_init(spec: str) -> tuple[str, int, str]:
    """`pretrained:NAME:Q[:METRIC]` (the sweep's `init_from`) -> (name, quality, metric)."""
    parts = spec.split(":")
    if len(parts) not in (3, 4) or parts[0] != "pretrained" or not parts[2].isdigit():
        raise ValueError(f"init_from must look like pretrained:NAME:QUALITY[:METRIC], not {spec!r}")
    return parts[1], int(parts[2]), parts[3] if len(parts) == 4 else "mse"
