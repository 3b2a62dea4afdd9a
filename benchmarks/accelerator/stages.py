"""The stages of `benchmarks.accelerator.run`, a subprocess each: `python -m benchmarks.accelerator.stages CFG`.

`CFG` is a JSON file written by the orchestrator: `stage`, `out` (folder), `data` (the `.accel/` folder of
`benchmarks.accelerator.prepare`), `tiny`, `deadline` (epoch seconds the stage should end by; the
orchestrator kills it a little later), `params` (the stage's part of the run plan), `accel` (what the env
stage found), `tmp`. Each stage rewrites `out/<stage>.json` whenever it has a new result, so what it had
survives a kill; `summary` holds the short lines the orchestrator prints.

Only public jlic APIs are used (`jlic.models.get/names`, `jlic.codec.codec` `Codec` or
`compress`/`decompress`, `jlic.train.loop.train`, `jlic.codec.export.load_model`,
`experiments.configs`), so the stages survive rewrites of the models' coding internals.
"""

from __future__ import annotations

import inspect
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


class Record:
    """The stage's JSON record, saved atomically on every `save()`."""

    def __init__(self, path: Path, stage: str):
        self.path = path
        self.data: dict[str, Any] = {"stage": stage, "summary": []}

    def __getitem__(self, k: str) -> Any:
        return self.data[k]

    def __setitem__(self, k: str, v: Any) -> None:
        self.data[k] = v

    def say(self, line: str) -> None:
        self.data["summary"].append(line)
        print(f"[stage] {line}", flush=True)
        self.save()

    def save(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, indent=1, default=_json_default) + "\n")
        tmp.replace(self.path)


def _json_default(x: Any) -> Any:
    import numpy as np

    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    return str(x)


def _error(e: BaseException) -> str:
    return f"{type(e).__name__}: {str(e).strip().splitlines()[0][:300] if str(e).strip() else ''}"


def _left(cfg: dict[str, Any]) -> float:
    return cfg["deadline"] - time.monotonic()


# --------------------------------------------------------------------------------------------------- env


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def stage_env(cfg: dict[str, Any], rec: Record) -> None:
    """Machine, devices, versions; the carried wheels imported and their needs checked."""
    from importlib import metadata

    from benchmarks.accelerator import wheels

    rec["platform"] = {"machine": platform.machine(), "python": platform.python_version(),
                       "executable": sys.executable, "libc": "-".join(platform.libc_ver()),
                       "cpus": os.cpu_count(), "cpu_model": _cpu_model(), "loadavg": os.getloadavg()}
    if shutil.which("nvidia-smi"):
        q = subprocess.run(["nvidia-smi", "--query-gpu=name,memory.total,driver_version,clocks.max.sm",
                            "--format=csv,noheader"], capture_output=True, text=True, timeout=30)
        rec["nvidia_smi"] = q.stdout.strip() or q.stderr.strip()
    versions = {}
    for name in ("jax", "jaxlib", "jax-cuda13-plugin", "flax", "optax", "orbax-checkpoint", "numpy", "scipy",
                 "pillow", "scikit-image", "torch", "torchvision", "torch-geometric", "protobuf", "etils",
                 "pytest", "pytest-timeout"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    rec["versions"] = versions
    rec.save()
    rec["wheels"] = w = wheels.check_installed()
    rec.say("carried packages: " + ("all import, needs met" if w["ok"] else
                                    f"PROBLEMS: {(w['import_errors'] + w['unmet'])[:4]}"))
    import jax

    devs = jax.devices()
    rec["jax"] = {"version": jax.__version__, "backend": jax.default_backend(),
                  "devices": [f"{d.platform}:{d.device_kind}" for d in devs],
                  "cpu_devices": len(jax.devices("cpu"))}
    accel: dict[str, Any] = {"jax_backend": jax.default_backend(), "jax_device": devs[0].device_kind,
                             "on_accelerator": jax.default_backend() != "cpu", "torch_device": "cpu"}
    try:
        import torch

        rec["torch"] = {"version": torch.__version__, "cuda": torch.cuda.is_available(),
                        "cuda_version": torch.version.cuda, "cudnn": torch.backends.cudnn.version(),
                        "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
                        "cudnn_allow_tf32": torch.backends.cudnn.allow_tf32,
                        "matmul_allow_tf32": torch.backends.cuda.matmul.allow_tf32}
        accel["torch_device"] = "cuda" if torch.cuda.is_available() else "cpu"
    except Exception as e:
        rec["torch"] = {"error": _error(e)}
    rec["accelerator"] = accel
    if accel["on_accelerator"]:
        where = (f"on the accelerator: jax {jax.default_backend()} {devs[0].device_kind}, "
                 f"torch {accel['torch_device']}")
    else:
        where = f"ran on CPU: no accelerator found (jax backend cpu, torch {accel['torch_device']})"
    rec.say(f"{where}; jax {jax.__version__}, torch {rec['torch'].get('version')}, python "
            f"{platform.python_version()}, {os.cpu_count()} CPUs ({_cpu_model()})")


# ------------------------------------------------------------------------------------------------- tests


class _PytestRecorder:
    """pytest plugin: one row per test (outcome, seconds, the failure's last line), saved as it goes."""

    def __init__(self, rec: Record):
        self.rec = rec
        rec["counts"] = {"passed": 0, "failed": 0, "skipped": 0, "error": 0}
        rec["failures"] = []
        rec["tests"] = []

    def pytest_runtest_logreport(self, report: Any) -> None:
        if report.when == "call" or (report.when == "setup" and not report.passed):
            outcome = report.outcome if report.when == "call" or report.skipped else "error"
            self.rec["counts"][outcome] = self.rec["counts"].get(outcome, 0) + 1
            self.rec["tests"].append([report.nodeid, outcome, round(report.duration, 2)])
            if outcome in ("failed", "error"):
                text = str(report.longrepr).strip().splitlines()
                self.rec["failures"].append({"test": report.nodeid,
                                             "message": (text[-1] if text else "")[:400]})
            self.rec.save()


def stage_tests(cfg: dict[str, Any], rec: Record) -> None:
    """The pytest subset of the plan (paths that exist), with a per-test timeout."""
    import pytest

    p = cfg["params"]
    paths = [x for x in p["paths"] if (ROOT / x).exists()]
    rec["paths"], rec["missing_paths"] = paths, [x for x in p["paths"] if x not in paths]
    args = ["-q", "-p", "no:cacheprovider", *paths]
    try:
        import pytest_timeout  # noqa: F401

        args.insert(0, f"--timeout={int(p['per_test_timeout_s'])}")
    except ImportError:
        rec["note"] = "pytest-timeout not installed: no per-test timeout"
    rec["argv"] = args
    rc = pytest.main(list(args), plugins=[_PytestRecorder(rec)])  # pytest prepends addopts in place
    rec["exit_code"] = int(rc)
    c = rec["counts"]
    rec.say(f"{c['passed']} passed, {c['failed']} failed, {c['error']} errors, {c['skipped']} skipped "
            f"({', '.join(paths)})")
    for f in rec["failures"][:5]:
        rec.say(f"FAILED {f['test']}: {f['message'][:160]}")
    if int(rc) not in (0, 1):  # 1: some tests failed (recorded); other codes: pytest itself failed
        raise SystemExit(int(rc))


# -------------------------------------------------------------------------------------------------- sync


def load_images(folder: Path, limit: int | None = None) -> list[tuple[str, Any]]:
    import numpy as np
    from PIL import Image

    out = []
    for p in sorted(folder.glob("*.png"))[:limit]:
        with Image.open(p) as im:
            out.append((p.name, np.asarray(im.convert("RGB"))))
    return out


def deterministic_options(codec_mod: Any, model: Any) -> list[dict[str, str]]:
    """Any deterministic (integer / cross-platform) coding mode the codec API offers: keyword parameters of
    `Codec`, `compress`, `decompress` named like one, and model attributes; [] when there is none."""
    hits = []
    for name in ("Codec", "compress", "decompress"):
        obj = getattr(codec_mod, name, None)
        if obj is None:
            continue
        try:
            params = inspect.signature(obj).parameters
        except (TypeError, ValueError):
            continue
        for pname in params:
            if re.search(r"determin|integer|bit_?exact", pname, re.I):
                hits.append({"where": f"jlic.codec.codec.{name}", "option": pname})
    for attr in dir(model):
        if re.search(r"determin", attr, re.I) and not attr.startswith("_"):
            hits.append({"where": f"model.{attr}"})
    return hits


def make_coder(codec_mod: Any, model: Any, params: Any, opts: dict[str, Any]) -> Any:
    """(compress(img) -> bytes, decompress(bytes) -> img, coder object or None) through the public API."""
    cls = getattr(codec_mod, "Codec", None)
    if cls is not None:
        try:
            c = cls(model, params, **opts)
            return c.compress, c.decompress, c
        except TypeError:  # another constructor: the one-shot functions below
            pass
    return (lambda img: codec_mod.compress(model, params, img, **opts),
            lambda data: codec_mod.decompress(model, params, data, **opts), None)


def _tables_digest(coder: Any) -> str | None:
    try:
        return coder.tables.digest()
    except Exception:
        return None


def _sides() -> list[tuple[str, Any]]:
    import jax

    cpu = jax.devices("cpu")[0]
    if jax.default_backend() != "cpu":
        return [(jax.default_backend(), jax.devices()[0]), ("cpu", cpu)]
    return [("cpu", cpu), ("cpu-2", cpu)]  # no accelerator: two separate coders on the one CPU device


def _model(name: str, quality: int, kwargs: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    from jlic import models

    try:
        return models.get(name, quality, **kwargs), kwargs
    except (TypeError, ValueError, KeyError):  # a model whose constructor lacks these arguments
        if not kwargs:
            raise
        return models.get(name, quality), {}


def sync_model(codec_mod: Any, model: Any, params_host: Any, images: list[tuple[str, Any]],
               opts: dict[str, Any]) -> dict[str, Any]:
    """Encode every image on each side, decode on every side; in sync when the cross decode equals the
    encoder side's own decode within 1 grey level (synthesis floats differ across devices; a desynchronized
    entropy decoder gives garbage or an error)."""
    import jax
    import numpy as np

    sides = _sides()
    coders = {}
    for side, dev in sides:
        with jax.default_device(dev):
            p = jax.device_put(params_host, dev)
            coders[side] = make_coder(codec_mod, model, p, opts)
    digests = {s: _tables_digest(c[2]) for s, c in coders.items()}
    equal = len(set(digests.values())) == 1 if None not in digests.values() else None
    res: dict[str, Any] = {"sides": [s for s, _ in sides], "tables_digest": digests, "tables_equal": equal,
                           "files": [], "by_direction": {}}
    dev_of = dict(sides)
    for img_name, img in images:
        encoded = {}
        for enc, _ in sides:
            with jax.default_device(dev_of[enc]):
                t0 = time.perf_counter()
                encoded[enc] = coders[enc][0](img)
                enc_s = time.perf_counter() - t0
                own = coders[enc][1](encoded[enc])
            for dec, _ in sides:
                if dec == enc:
                    continue
                row: dict[str, Any] = {"image": img_name, "encode": enc, "decode": dec,
                                       "bytes": len(encoded[enc]), "encode_s": enc_s}
                try:
                    with jax.default_device(dev_of[dec]):
                        t0 = time.perf_counter()
                        out = coders[dec][1](encoded[enc])
                        row["decode_s"] = time.perf_counter() - t0
                    diff = np.abs(out.astype(np.int16) - own.astype(np.int16))
                    row["max_abs_diff"] = int(diff.max())
                    row["identical"] = bool(diff.max() == 0)
                    row["in_sync"] = bool(out.shape == own.shape and diff.max() <= 1)
                except Exception as e:  # the finding: a desynchronized or refused decode
                    row["in_sync"], row["error"] = False, _error(e)
                res["files"].append(row)
                d = res["by_direction"].setdefault(f"{enc}->{dec}", {"files": 0, "in_sync": 0, "identical": 0})
                d["files"] += 1
                d["in_sync"] += int(row["in_sync"])
                d["identical"] += int(row.get("identical", False))
        first, second = (s for s, _ in sides)
        res.setdefault("bytes_equal_across_sides", 0)
        res["bytes_equal_across_sides"] += int(encoded[first] == encoded[second])
    res["files_total"] = len(res["files"])
    res["in_sync_total"] = sum(r["in_sync"] for r in res["files"])
    return res


def _sync_line(name: str, entry: dict[str, Any], n_images: int) -> str:
    f = entry.get("float", {})
    if "error" in entry or "error" in f:
        return f"{name}: ERROR {entry.get('error') or f['error']}"
    dirs = ", ".join(f"{k} {v['in_sync']}/{v['files']}" for k, v in f["by_direction"].items())
    det = entry["deterministic"]
    if not isinstance(det, str):
        det = det.get("error") or f"{det['in_sync_total']}/{det['files_total']} in sync"
    return (f"{name}: float {f['in_sync_total']}/{f['files_total']} in sync ({dirs}); same bytes on both "
            f"sides {f['bytes_equal_across_sides']}/{n_images}, tables equal {f['tables_equal']}; "
            f"deterministic mode: {det} [{entry['seconds']:.0f} s]")


def stage_sync(cfg: dict[str, Any], rec: Record) -> None:
    import jax

    from jlic import models
    from jlic.codec import codec as codec_mod

    p = cfg["params"]
    images = load_images(Path(cfg["data"]) / "kodak-crops", p.get("max_crops"))
    if not images:
        raise FileNotFoundError(f"no crops in {cfg['data']}/kodak-crops: run benchmarks.accelerator.prepare")
    # slow context models last, so a time cap costs them rather than the others
    names = p.get("models") or sorted(models.names(), key=lambda n: (n.startswith("cheng2020"), n))
    rec["images"] = [[n, list(a.shape)] for n, a in images]
    rec["sides"] = [s for s, _ in _sides()]
    rec["cross_device"] = jax.default_backend() != "cpu"
    rec["planned"] = list(names)  # a model missing from "models" was cut by the stage's cap mid-way
    rec["models"] = {}
    rec.save()
    for name in names:
        if _left(cfg) < 5:
            rec["models"][name] = {"status": "not run: stage time cap"}
            rec.say(f"{name}: not run (stage time cap)")
            continue
        t0 = time.perf_counter()
        entry: dict[str, Any] = {}
        rec["models"][name] = entry
        try:
            model, used = _model(name, int(p["quality"]), dict(p.get("kwargs") or {}))
            entry["kwargs"] = used
            with jax.default_device(jax.devices("cpu")[0]):  # the same params on both sides
                params_host = jax.device_get(model.init(jax.random.PRNGKey(0), (1, 64, 64, 3)))
            det = deterministic_options(codec_mod, model)
            modes: list[tuple[str, dict[str, Any]]] = [("float", {})]
            entry["deterministic_mode"] = det or "absent"
            for h in det:
                if "option" in h and h["where"].rsplit(".", 1)[-1] in ("Codec", "compress"):
                    modes.append(("deterministic", {h["option"]: True}))
                    break
            for mode, opts in modes:
                try:
                    entry[mode] = sync_model(codec_mod, model, params_host, images, opts)
                except Exception as e:
                    entry[mode] = {"error": _error(e)}
            if "deterministic" not in entry:
                entry["deterministic"] = "absent" if not det else f"present ({det}), not exercised"
        except Exception as e:
            entry["error"] = _error(e)
        entry["seconds"] = time.perf_counter() - t0
        rec.say(_sync_line(name, entry, len(images)))


# -------------------------------------------------------------------------------------------- train_step


def _train_step_line(tag: str, model: str, m: dict[str, Any]) -> str:
    j, c = m.get("jlic", {}), m.get("compressai", {})
    if "ratio_jlic_over_compressai" in m:
        line = (f"{tag} {model}: jlic {1e3 * j['step_s']:.1f} ms vs CompressAI {1e3 * c['step_s']:.1f} ms "
                f"({m['ratio_jlic_over_compressai']:.2f}x; last loss {j['loss_last']:.4g} vs "
                f"{c['loss_last']:.4g})")
    else:
        line = (f"{tag} {model}: jlic {(j.get('error') or 'ok').strip()[-100:]} / CompressAI "
                f"{(c.get('error') or 'ok').strip()[-100:]}")
    if "vmap_vs_sequential" in j:
        line += (f"; vmap {j['vmap_n']} λ {1e3 * j['vmap_step_s']:.1f} ms/step = "
                 f"{j['vmap_vs_sequential']:.2f}x of {j['vmap_n']} sequential steps")
    return line


def stage_train_step(cfg: dict[str, Any], rec: Record) -> None:
    """`benchmarks.train_step` once per (batch, dtype) of the plan and model, most valuable first, so a time
    cap costs only the last ones; the 4-λ vmap figure comes with the first model of a config that asks."""
    from benchmarks import train_step

    p = cfg["params"]
    device = (cfg.get("accel") or {}).get("torch_device") or _torch_device()
    rec["device"] = device
    rec["runs"] = []
    for i, conf in enumerate(p["configs"]):
        tag = f"batch {conf['batch']} {conf['dtype']} ({device})"
        for k, model in enumerate(p["models"]):
            run: dict[str, Any] = {"config": conf, "model": model}
            rec["runs"].append(run)
            if _left(cfg) < 10:
                run["status"] = "not run: stage time cap"
                rec.say(f"{tag} {model}: not run (stage time cap)")
                continue
            out = Path(cfg["tmp"]) / f"train_step-{i}-{k}.json"
            run["argv"] = argv = [
                "--models", model, "--batch", str(conf["batch"]), "--size", str(p["size"]),
                "--steps", str(p["steps"]), "--quality", str(p["quality"]),
                "--threads", str(os.cpu_count() or 1), "--vmap", str(conf.get("vmap", 0) if k == 0 else 0),
                "--vmap-models", model, "--device", device,
                "--dtype", conf["dtype"], "--out", str(out),
                "--worker-timeout", str(int(min(p["worker_timeout_s"], max(5.0, _left(cfg)))))]
            try:
                train_step.main(argv)
                run["record"] = r = json.loads(out.read_text())[-1]
                run["status"] = "ok"
            except Exception as e:
                run["status"] = "error"
                run["error"] = _error(e)
                rec.say(f"{tag} {model}: ERROR {run['error']}")
                continue
            rec.say(_train_step_line(tag, model, r["results"][model]))


def _torch_device() -> str:
    try:
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    except ImportError:
        return "cpu"


# ---------------------------------------------------------------------------------------------- training


def _steady_step_s(timing: Path, skip_first: int) -> tuple[float | None, float | None]:
    """Median s/step and data-wait s/step over `timing.jsonl` windows, after the first `skip_first` rows."""
    import numpy as np

    rows = [json.loads(x) for x in timing.read_text().splitlines() if x.strip()] if timing.exists() else []
    rows = rows[skip_first:] or rows[-1:]
    if not rows:
        return None, None
    return float(np.median([r["step_s"] for r in rows])), float(np.median([r["data_wait_s"] for r in rows]))


def evaluate_point(model: Any, params: Any, images: list[tuple[str, Any]], rec: Record, deadline: float
                   ) -> dict[str, Any]:
    """Real bytes (`.jlic` files through the public codec API), PSNR-RGB and MS-SSIM of the decoded 8-bit
    images, and the estimated bpp of the same model (if its `apply` gives likelihoods); saved after every
    image. Coding times: medians over the images that are not the first of their shape (compilation)."""
    import jax
    import numpy as np

    from jlic.codec import codec as codec_mod

    compress, decompress, _ = make_coder(codec_mod, model, params, {})
    est = jax.jit(lambda p, x: sum(-jnp_log2_sum(v)
                                   for v in model.apply(p, x, train=False).likelihoods.values()))
    shapes: set[tuple[int, ...]] = set()
    try:
        from jlic.metrics.msssim import min_size, ms_ssim
    except ImportError:
        ms_ssim, min_size = None, None
    rows: list[dict[str, Any]] = []
    point: dict[str, Any] = {"images": 0, "rows": rows}
    rec["eval"] = point
    for name, img in images:
        if rows and time.monotonic() > deadline:
            point["stopped"] = "stage deadline"
            break
        h, w = img.shape[:2]
        t0 = time.perf_counter()
        data = compress(img)
        t1 = time.perf_counter()
        out = decompress(data)
        t2 = time.perf_counter()
        mse = float(np.mean((out.astype(np.float64) - img.astype(np.float64)) ** 2))
        row = {"image": name, "bpp": len(data) * 8 / (h * w),
               "psnr-rgb": 10 * np.log10(255**2 / max(mse, 1e-12)),
               "encode_s": t1 - t0, "decode_s": t2 - t1, "first_of_shape": img.shape not in shapes}
        shapes.add(img.shape)
        if est is not None:
            try:
                row["bpp-estimated"] = float(est(params, np.asarray(img, np.float32)[None] / 255.0)) / (h * w)
            except Exception as e:  # another model interface: the real-bytes point stands without it
                point["estimate_error"], est = _error(e), None
        if ms_ssim is not None and min(h, w) >= min_size():
            row["ms-ssim-rgb"] = float(ms_ssim(img / 255.0, out / 255.0))
        rows.append(row)
        for k in ("bpp", "bpp-estimated", "psnr-rgb", "ms-ssim-rgb"):
            vals = [r[k] for r in rows if k in r]
            if vals:
                point[k] = float(np.mean(vals))
        for k in ("encode_s", "decode_s"):
            vals = [r[k] for r in rows if not r["first_of_shape"]] or [r[k] for r in rows]
            point[k] = float(np.median(vals))
        point["images"] = len(rows)
        rec.save()
    return point


def jnp_log2_sum(v: Any) -> Any:
    import jax.numpy as jnp

    return jnp.sum(jnp.log2(v))


def _anchor_gap(data: Path, model: str, quality: int, point: dict[str, Any]) -> dict[str, Any] | None:
    """CompressAI's published q`quality` point of `model` and its PSNR at our bpp (log-bpp interpolation)."""
    import numpy as np

    files = sorted((data / "anchors").glob(f"compressai-{model}_mse*.json"))
    if not files or "bpp" not in point:
        return None
    a = json.loads(files[0].read_text())["results"]
    bpp, psnr = np.asarray(a["bpp"]), np.asarray(a["psnr-rgb"])
    order = np.argsort(bpp)
    at = float(np.interp(np.log(point["bpp"]), np.log(bpp[order]), psnr[order]))
    published = {"bpp": float(bpp[quality - 1]), "psnr-rgb": float(psnr[quality - 1])}
    return {"anchor": files[0].name, f"q{quality}": published,
            "anchor_psnr_at_our_bpp": at, "psnr_gap_db": point["psnr-rgb"] - at,
            "extrapolated": not (bpp.min() <= point["bpp"] <= bpp.max())}


def stage_training(cfg: dict[str, Any], rec: Record) -> None:
    """bmshj2018-hyperprior q3 at 256² for the time left (a calibration chunk, then one chunk sized to the
    measured s/step; the loop resumes from its checkpoint), then the real-bytes RD point."""
    import jax

    if not os.environ.get("JAX_COMPILATION_CACHE_DIR"):  # the second chunk reloads the first one's programs
        jax.config.update("jax_compilation_cache_dir", str(Path(cfg["tmp"]) / "jax-cache"))
    import ml_collections

    from experiments.configs import bmshj2018_hyperprior
    from jlic.codec.export import load_model
    from jlic.train.loop import train

    p = cfg["params"]
    t_start = time.monotonic()
    deadline = cfg["deadline"] if not p.get("max_s") else min(cfg["deadline"], t_start + p["max_s"])
    train_until = deadline - p["eval_reserve_s"]
    data = Path(cfg["data"])
    c = bmshj2018_hyperprior.get_config()
    c.model, c.quality, c.lambdas = p["model"], int(p["quality"]), (float(p["lmbda"]),)
    c.sweep_mode = "sequential"
    if p.get("model_kwargs"):
        c.model_kwargs = ml_collections.ConfigDict(dict(p["model_kwargs"]))
    c.batch_size, c.crop, c.lr = int(p["batch"]), int(p["crop"]), float(p["lr"])
    c.log_every, c.checkpoint_every = int(p["log_every"]), 10**9
    c.progress_bar, c.async_checkpoints = False, False
    c.tensorboard = bool(p.get("tensorboard", True))
    c.data.train = f"folder:{data / 'train'}"
    c.data.num_threads = int(p["num_threads"])
    workdir = Path(cfg["tmp"]) / "training"
    rec["config"] = {k: c[k] for k in ("model", "quality", "lambdas", "batch_size", "crop", "lr", "log_every")}
    rec["config"].update(model_kwargs=dict(c.model_kwargs), train_images=len(list((data / "train").glob("*"))),
                         backend=jax.default_backend(), device=jax.devices()[0].device_kind)
    rec["chunks"] = []
    steps = int(p["calib_steps"])
    t0 = time.monotonic()
    c.num_steps = steps
    exports = train(c, workdir)
    chunk_s = time.monotonic() - t0
    step_s, _ = _steady_step_s(workdir / "timing.jsonl", skip_first=1)
    step_s = step_s or chunk_s / steps
    rec["chunks"].append({"steps": steps, "wall_s": chunk_s, "steady_step_s": step_s})
    rec.say(f"calibration: {steps} steps in {chunk_s:.1f} s (steady {1e3 * step_s:.1f} ms/step, overhead "
            f"{chunk_s - steps * step_s:.1f} s incl. compile)")
    overhead = max(0.0, chunk_s - steps * step_s)
    more = int((train_until - time.monotonic() - 0.5 * overhead) / step_s * 0.85)
    if p.get("fixed_more_steps") is not None:  # the dry run: fixed work, whatever the machine's load
        more = int(p["fixed_more_steps"])
    if more >= max(1, steps // 4):
        timing = workdir / "timing.jsonl"
        n_rows = len(timing.read_text().splitlines()) if timing.exists() else 0
        c.num_steps = steps + more
        t1 = time.monotonic()
        try:
            exports = train(c, workdir)  # resumes from the calibration chunk's checkpoint
            s2, wait2 = _steady_step_s(workdir / "timing.jsonl", skip_first=n_rows + 1)
            rec["chunks"].append({"steps": more, "wall_s": time.monotonic() - t1, "steady_step_s": s2,
                                  "data_wait_s": wait2})
            steps += more
            step_s = s2 or step_s
        except Exception as e:  # keep the calibration chunk's model and still measure its RD point
            rec["chunks"].append({"steps": more, "error": _error(e)})
            rec.say(f"main chunk FAILED ({_error(e)}); evaluating the calibration chunk's model")
    rec["steps"] = steps
    rec["train_wall_s"] = time.monotonic() - t0
    rec["steps_per_s"] = 1.0 / step_s
    rec["images_per_s"] = int(p["batch"]) / step_s
    rec["hours_per_1m_steps"] = 1e6 * step_s / 3600  # derived from the measured steady s/step
    metrics = [json.loads(x) for x in (workdir / "metrics.jsonl").read_text().splitlines() if x.strip()]
    train_rows = [m for m in metrics if m.get("tag", "train") == "train" and "loss" in m]
    if train_rows:
        rec["last_train_metrics"] = {k: v for k, v in train_rows[-1].items() if isinstance(v, int | float)}
    rec.say(f"trained {steps} steps of batch {p['batch']}x{p['crop']}² in {rec['train_wall_s']:.0f} s: "
            f"{rec['steps_per_s']:.1f} steps/s steady ({rec['images_per_s']:.0f} images/s); "
            f"1M steps would take {rec['hours_per_1m_steps']:.1f} h at this rate")
    eval_dir = data / "kodak" if any((data / "kodak").glob("*.png")) else data / "kodak-crops"
    images = load_images(eval_dir)
    rec["eval_set"] = {"folder": eval_dir.name, "images": len(images),
                       "whole_kodak": eval_dir.name == "kodak" and len(images) == 24}
    model, params = load_model(next(iter(exports.values())))
    point = evaluate_point(model, params, images, rec, cfg["deadline"] - 2)
    gap = _anchor_gap(data, p["model"], int(p["quality"]), point)
    if gap:
        rec["anchor"] = gap
    nan = float("nan")
    rec.say(f"RD point on {point['images']} {eval_dir.name} images: {point.get('bpp', nan):.3f} bpp "
            f"(estimated {point.get('bpp-estimated', nan):.3f}), {point.get('psnr-rgb', nan):.2f} dB PSNR"
            + (f", MS-SSIM {point['ms-ssim-rgb']:.4f}" if "ms-ssim-rgb" in point else "")
            + f", encode {point.get('encode_s', nan):.3f} s / decode {point.get('decode_s', nan):.3f} s"
            + (f"; CompressAI's trained model {gap['anchor_psnr_at_our_bpp']:.2f} dB at that bpp "
               f"({gap['psnr_gap_db']:+.2f} dB)" if gap else ""))


STAGES: dict[str, Callable[[dict[str, Any], Record], None]] = {
    "env": stage_env, "tests": stage_tests, "sync": stage_sync, "train_step": stage_train_step,
    "training": stage_training,
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m benchmarks.accelerator.stages CONFIG.json", file=sys.stderr)
        return 2
    cfg = json.loads(Path(argv[0]).read_text())
    rec = Record(Path(cfg["out"]) / f"{cfg['stage']}.json", cfg["stage"])
    rec["started"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    rec.save()
    try:
        STAGES[cfg["stage"]](cfg, rec)
    except Exception as e:
        rec["error"] = _error(e)
        rec.say(f"ERROR {rec['error']}")
        raise
    finally:
        rec.save()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
