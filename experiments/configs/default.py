"""Default sweep: a small bmshj2018-hyperprior (N=32, M=48) at 3 λ on scikit-image's sample images.

Runs in a few minutes on a 2-core CPU; its purpose is to exercise the whole pipeline (train all λ in one
vmapped program, checkpoints, export, real-bytes evaluation, RD plot and report), not to compress well.

    python -m experiments.sweep                                    # this config, workdir runs/default
    python -m experiments.sweep --config experiments/configs/default.py --workdir runs/default \\
        --config.lambdas="(0.001,0.01,0.1)" --config.num_steps=400

Measured 2026-12-01 on the 2-core CPU dev box (AMD EPYC), this config as is, from a clean clone (README
command 1: 8 min 52 s wall including venv and `pip install -e .`, with the test suite running beside it; a
quiet machine took 5 min 30 s on 2026-11-30). Eval on astronaut + coffee (scikit-image, 256 px), real bytes
(each .jlic file's one stream now ends on a 4-byte-at-most check word):

    λ       bpp     bpp (est.)  PSNR-RGB  MS-SSIM
    0.0001  0.047   0.037       18.61     0.718
    0.0006  0.139   0.132       21.00     0.840
    0.004   0.401   0.385       21.97     0.875

(2026-11-30, before the latent codecs: 18.58 / 21.14 / 22.07 dB at 0.048 / 0.153 / 0.394 bpp; before the
kernel-gradient change: 18.52 / 20.97 / 21.96 dB. The cause of the latest move was not isolated; the same
code and seed reproduce a run exactly.)

Rate and quality grow with λ. Above λ ≈ 0.004 more λ buys rate but no quality at this length: the models
are limited by optimization, not by rate: λ 0.0005 / 0.005 / 0.05 gave 20.80 / 21.35 / 22.18 dB, and
20.51 / 22.25 / 22.19 dB after a change that only altered float rounding in the convolutions, so the upper
points move by 0.5-1 dB with rounding (the same code and seed reproduce a run exactly). Quality is far below
JPEG: it is a pipeline check, not a model. Early training is slow for the reference too: CompressAI's
ScaleHyperprior(32, 48) on the same batches, λ 0.2, Adam 1e-3, reached 17.7 dB training PSNR after 300
steps, jlic 18.6 dB.
"""

from __future__ import annotations

import ml_collections


def get_config() -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.name = "jlic bmshj2018-hyperprior (small, default)"  # curve name in rd.json and plots
    c.workdir = "runs/default"  # used when --workdir is not given
    # model: jlic.models.registry.get(model, quality, **model_kwargs)
    c.model = "bmshj2018-hyperprior"
    c.quality = 1
    c.model_kwargs = ml_collections.ConfigDict({"N": 32, "M": 48})
    # fine-tune from: "pretrained:NAME:QUALITY[:METRIC]" (CompressAI's zoo weights) or an exported model
    # directory; its architecture replaces model/quality/model_kwargs. "": train from scratch.
    c.init_from = ""
    # kwargs replacing those of the init_from architecture; only options no parameter depends on (checked),
    # e.g. {"token_mask_ratio": 0.0} to fine-tune Entroformer after its token-mask pre-training
    c.init_from_kwargs = ml_collections.ConfigDict()
    c.metric = "mse"  # or "ms-ssim"
    # λ sweep: one model per λ; "vmap" trains all of them at once, "sequential" one after the other.
    # benchmarks/sweep.py on a 2-core CPU, this model, 3 λ: vmap 79.6 vs sequential 92.0 ms/step/model
    # (1.16x, with jlic.ops.conv's grouped-conv-free vmap rule; 0.56x before it).
    c.lambdas = (0.0001, 0.0006, 0.004)
    c.sweep_mode = "vmap"
    c.seed = 0
    # optimization
    c.num_steps = 1500
    c.batch_size = 8
    c.crop = 64
    c.lr = 1e-3
    # network lr schedule (jlic.train.state.lr_schedule; the aux lr stays constant): "constant", or "step":
    # lr times lr_decay (one factor for all boundaries, or one per boundary) from each of lr_boundaries on
    # (increasing fractions of num_steps; Entroformer's fine-tuning: (0.2, 0.4, 0.6, 0.8), (0.5,)).
    # lr_warmup: a fraction of num_steps of linear warm-up ((count + 1) / W; 0: none), with any schedule.
    c.lr_schedule = "constant"
    c.lr_boundaries = ()
    c.lr_decay = (0.1,)
    c.lr_warmup = 0.0
    c.aux_lr = 1e-3
    c.clip_norm = 1.0
    # optimizer-state layout (jlic.train.state): "tree" (per-leaf Adam moments) or "flat" (one raveled vector
    # per label: fewer HLO ops, compile gain not established); checkpoints of either resume under either
    c.opt_layout = "tree"
    # bookkeeping
    c.log_every = 25
    c.checkpoint_every = 100
    c.keep_checkpoints = 2
    c.async_checkpoints = True
    c.tensorboard = True
    c.progress_bar = True
    # devices: (λ, data) mesh shape; None picks it from the device count; distributed: multi-host init
    c.mesh_shape = ml_collections.config_dict.placeholder(tuple)
    c.distributed = False
    # jax.distributed.initialize arguments; None: detected (TPU VMs, SLURM) or JAX_COORDINATOR_ADDRESS
    c.coordinator_address = ml_collections.config_dict.placeholder(str)  # "host:port" of process 0
    c.num_processes = ml_collections.config_dict.placeholder(int)
    c.process_id = ml_collections.config_dict.placeholder(int)
    # persistent compilation cache (experiments/jax_settings.py): None = $JAX_COMPILATION_CACHE_DIR or
    # $JLIC_CACHE/jax-cache (~/.cache/jlic/jax-cache), "none" = off; programs compiled in under
    # jax_cache_min_compile_s are not kept
    c.jax_cache_dir = ml_collections.config_dict.placeholder(str)
    c.jax_cache_min_compile_s = 1.0
    c.jax_cache_max_bytes = 4 << 30  # least recently used entries dropped above this
    c.xla_flags = ""  # appended to $XLA_FLAGS, e.g. "--xla_backend_optimization_level=1" (jax_settings.py)
    # data: "embedded", "folder:/path", "tfds:NAME[:SPLIT]"
    c.data = ml_collections.ConfigDict()
    c.data.train = "embedded"
    c.data.embedded_max_side = 256
    c.data.flip = True
    c.data.small = "upscale"  # images smaller than the crop: "upscale" or "pad"
    c.data.num_threads = 2
    c.data.tfds_data_dir = ml_collections.config_dict.placeholder(str)
    # evaluation after training (real bytes through jlic.codec.codec)
    c.eval = ml_collections.ConfigDict()
    c.eval.enabled = True
    c.eval.data = "embedded:astronaut,coffee"
    c.eval.limit = 2
    c.eval.max_side = 256
    # padding convention: "jlic" (edge replication) or "compressai" (zeros, as CompressAI's eval_model)
    c.eval.convention = "jlic"
    c.eval.anchors = "../shared/reference/kodak-rd"  # RD anchors (JSON); skipped if absent
    c.eval.anchor_names = ("compressai-bmshj2018-hyperprior_mse_cpu", "jpeg", "jpeg2000")
    # classic codecs run on the same eval images (jlic.evaluation.classic names; settings: codec -> sweep)
    c.eval.live_codecs = ("jpeg", "webp")
    c.eval.live_codec_settings = ml_collections.ConfigDict({"jpeg": (5, 10, 20, 40, 60, 80, 95),
                                                            "webp": (5, 10, 20, 40, 60, 80, 95)})
    return c


def for_model(c: ml_collections.ConfigDict, model: str, anchors: tuple[str, ...], quality: int | None = None,
              model_kwargs: dict | None = None, name: str | None = None, **overrides: object
              ) -> ml_collections.ConfigDict:
    """``c`` set up for registered ``model``: curve name ``jlic MODEL`` and workdir ``runs/MODEL`` (unless
    ``name`` is given: then ``jlic NAME`` and ``runs/NAME``), ``quality`` and ``model_kwargs`` when given, RD
    anchors ``anchors`` (names of ``../shared/reference/kodak-rd`` files), and any other top-level field in
    ``overrides`` (``lambdas=..., sweep_mode=...``). What a model's config changes, on one screen."""
    c.name = f"jlic {name or model}"
    c.workdir = f"runs/{(name or model).replace(' ', '-')}"
    c.model = model
    if quality is not None:
        c.quality = quality
    if model_kwargs is not None:
        c.model_kwargs = ml_collections.ConfigDict(model_kwargs)
    for key, value in overrides.items():
        setattr(c, key, value)
    c.eval.anchor_names = tuple(anchors)
    return c


def cpu_sized(c: ml_collections.ConfigDict, model: str, model_kwargs: dict, anchor: str
              ) -> ml_collections.ConfigDict:
    """The settings the `*_cpu.py` pipeline checks share: `model` at quality 3 with `model_kwargs`, curve
    name ``jlic MODEL (CPU-sized)`` in ``runs/MODEL-cpu``, three of CompressAI's MSE λ trained one after the
    other, 400 steps of batch 4 at 64x64 crops, Adam 1e-3, and RD anchors `anchor`, JPEG and WebP."""
    for_model(c, model, (anchor, "jpeg", "webp"), quality=3, model_kwargs=model_kwargs,
              lambdas=(0.0018, 0.0067, 0.025), sweep_mode="sequential", num_steps=400, batch_size=4, crop=64,
              lr=1e-3)
    c.name = f"jlic {model} (CPU-sized)"
    c.workdir = f"runs/{model}-cpu"
    return c
