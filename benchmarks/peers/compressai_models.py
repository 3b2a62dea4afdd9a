"""Peers for the interop tests and benchmarks: a test image and small, briefly trained CompressAI models.

CompressAI models are built in the test (pretrained weights cannot be downloaded here) with small N/M for
speed. Fresh CompressAI parameters are degenerate for an import test (constant entropy-bottleneck matrices,
zero factors, GDN gamma = 0.1 I: a transposed matrix would go unnoticed), so every parameter is first perturbed
with seeded noise, then the model takes a few Adam steps on the rate-distortion loss and its aux loss, and
`update(force=True)` builds its CDF tables.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

DATA = Path(__file__).parents[2] / ".." / "shared" / "data"
SMALL = {"N": 16, "M": 24}  # M divisible by 3 keeps mbt2018's 10M/3, 8M/3 widths exact
# Models whose small size is not SMALL: ELIC's groups keep the paper's proportions 1:1:2:4:12.
# The MLIC family: 4 slices of 2 channels (CompressAI's keyword is slice_num, jlic's slices).
SMALL_BY_MODEL = {"cheng2020-anchor": {"N": 16}, "cheng2020-attn": {"N": 16},
                  "elic2022": {"N": 16, "M": 40, "groups": (2, 2, 4, 8, 24)},
                  **{n: {"N": 16, "M": 8, "slice_num": 4} for n in ("mlic", "mlic-plus", "mlicpp")},
                  "stf-wacnn": {"N": 16, "M": 16, "num_slices": 4, "max_support_slices": 2},
                  "stf": {"embed_dim": 8, "depths": (2, 2, 2, 2), "num_heads": (1, 2, 4, 8), "num_slices": 4,
                          "max_support_slices": 2}}


def jlic_kwargs(name: str) -> dict:
    """The jlic constructor arguments of `SMALL_BY_MODEL[name]` for the development line's models (whose
    keywords differ: slice_num, num_heads; STF's N and M follow from its embedding width)."""
    small = dict(SMALL_BY_MODEL[name])
    renames = {"slice_num": "slices", "num_heads": "heads", "window_size": "window"}
    out = {renames.get(k, k): tuple(v) if isinstance(v, list) else v for k, v in small.items()}
    if name == "stf":
        out["M"] = out["embed_dim"] * 2 ** (len(out["depths"]) - 1)
        out["N"] = out["M"] // 2
    if name == "mlicpp":
        out["inter_head_width"] = 32  # CompressAI's head rule
    return out


def test_image(size: int = 128) -> np.ndarray:
    """A `size` x `size` uint8 RGB crop of kodim01 (or a smooth seeded image when the data is absent)."""
    path = DATA / "kodak" / "kodim01.png"
    if path.exists():
        from PIL import Image

        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"))[:size, :size].copy()
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:size, 0:size] / size
    base = np.stack([np.sin(6 * xx + c) * np.cos(4 * yy - c) for c in range(3)], -1)
    img = 0.5 + 0.35 * base + 0.05 * rng.standard_normal((size, size, 3))
    return np.clip(np.round(img * 255), 0, 255).astype(np.uint8)


test_image.__test__ = False  # not a test


def to_torch(image: np.ndarray):
    import torch

    return torch.from_numpy(image.astype(np.float32) / 255.0).permute(2, 0, 1)[None].contiguous()


def make_compressai_model(name: str, seed: int = 0, steps: int = 3, relative_noise: float | None = None,
                          lr: float = 1e-3, **kwargs):
    """A small CompressAI zoo model `name`, perturbed, trained `steps` steps, updated, in eval mode.

    `relative_noise`: perturb each tensor by that fraction of its mean magnitude instead (deep full-size
    models: the default absolute noise is several times their 5x5 weights and blows the latents up);
    `lr`: Adam's learning rate (1e-3 moves a full-size model's 5x5 weights by several times their size)."""
    import importlib

    import torch

    from jlic.interop.compressai import COMPRESSAI_CLASSES

    torch.manual_seed(seed)
    module, _, cls_name = COMPRESSAI_CLASSES[name].rpartition(".")  # "mlic.MLIC": compressai.models.mlic
    cls = getattr(importlib.import_module(".".join(filter(None, ("compressai.models", module)))), cls_name)
    kwargs = kwargs or SMALL_BY_MODEL.get(name, SMALL)
    net = cls(**{k: list(v) if isinstance(v, tuple) else v for k, v in kwargs.items()})
    with torch.no_grad():
        for p in net.parameters():
            if relative_noise is None:
                p.add_(0.05 * torch.randn_like(p) * (1.0 + p.abs().mean()))
            else:
                p.add_(relative_noise * torch.randn_like(p) * p.abs().mean().clamp(1e-3))
    aux = [p for n, p in net.named_parameters() if n.endswith("quantiles")]
    main = [p for n, p in net.named_parameters() if not n.endswith("quantiles")]
    opt, aux_opt = torch.optim.Adam(main, lr), torch.optim.Adam(aux, 0.5)
    x = to_torch(test_image(64))
    net.train()
    for _ in range(steps):
        out = net(x)
        bits = sum(-torch.log2(v).sum() for v in out["likelihoods"].values())
        loss = 0.01 * 255**2 * torch.mean((out["x_hat"] - x) ** 2) + bits / x[0, 0].numel()
        opt.zero_grad()
        loss.backward()
        opt.step()
        aux_loss = net.aux_loss()
        aux_opt.zero_grad()
        aux_loss.backward()
        aux_opt.step()
    net.update(force=True)
    return net.eval()


def compressai_eval(net, image: np.ndarray) -> tuple[int, np.ndarray]:
    """CompressAI's eval_model inference: stream bytes and the 8-bit reconstruction."""
    import torch
    import torch.nn.functional as F
    from compressai.ops import compute_padding

    x = to_torch(image)
    pad, unpad = compute_padding(x.shape[2], x.shape[3], min_div=64)
    with torch.no_grad():
        out = net.compress(F.pad(x, pad, mode="constant", value=0))
        rec = F.pad(net.decompress(out["strings"], out["shape"])["x_hat"], unpad)
    rec = (rec * 255).clamp(0, 255).round()[0].permute(1, 2, 0).numpy().astype(np.uint8)
    return sum(len(s[0]) for s in out["strings"]), rec
