"""Time Cool-chic 5's own training iterations (run by `benchmarks/overfit_fit.py` inside the venv of
`benchmarks/coolchic_env.sh`; no Cool-chic code is copied here, its `cc_encode.py` runs as it is).

    <venv>/bin/python benchmarks/coolchic_peer.py SRC IMAGE ITERATIONS DEC_CFG LAMBDA WORKDIR

Two of Cool-chic's functions are wrapped at run time: its warm-up (two candidates x 600 iterations, a search
over initializations that jlic does not do) is skipped, keeping the first candidate, and its `train` is timed
(process CPU and wall seconds, iterations), its phases cut to ITERATIONS in all (its intra preset refuses
`--n_itr` < 2000, so it gets 2000 and the run stops after ITERATIONS): no quantization, no bitstream.
One JSON line goes to stdout, prefixed `COOLCHIC_PEER `.

torchvision: PyPI's wheels are built against PyPI's (CUDA) torch and do not load with a `+cpu` torch, so the
venv has none. Cool-chic imports it for PNG reading (`to_tensor`, HWC uint8 -> CHW float in [0, 1]) and for its
VGG / RAFT features (Wasserstein tuning and video only, unused here): `_torchvision_stand_in` provides those
names, `to_tensor` computed, the others raising if called.
"""

from __future__ import annotations

import dataclasses
import json
import os
import runpy
import sys
import time


class _Done(Exception):
    pass


def _torchvision_stand_in() -> None:
    import types

    import numpy as np
    import torch

    def to_tensor(pic):
        a = np.asarray(pic)
        a = a[:, :, None] if a.ndim == 2 else a
        return torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1))).float().div(255.0)

    def unused(*_, **__):
        raise RuntimeError("torchvision is not installed in this venv (see benchmarks/coolchic_peer.py)")

    mods = {n: types.ModuleType(n) for n in ("torchvision", "torchvision.transforms",
                                             "torchvision.transforms.functional", "torchvision.models",
                                             "torchvision.models.vgg", "torchvision.models.optical_flow")}
    mods["torchvision.transforms.functional"].to_tensor = to_tensor
    mods["torchvision.models"].vgg16 = unused
    mods["torchvision.models.vgg"].VGG16_Weights = types.SimpleNamespace(IMAGENET1K_V1=None)
    mods["torchvision.models.optical_flow"].Raft_Large_Weights = types.SimpleNamespace(DEFAULT=None)
    mods["torchvision.models.optical_flow"].raft_large = unused
    mods["torchvision"].transforms, mods["torchvision"].models = mods["torchvision.transforms"], mods[
        "torchvision.models"]
    mods["torchvision.transforms"].functional = mods["torchvision.transforms.functional"]
    mods["torchvision.models"].vgg = mods["torchvision.models.vgg"]
    mods["torchvision.models"].optical_flow = mods["torchvision.models.optical_flow"]
    sys.modules.update(mods)


def main() -> None:
    src, image, iterations, dec_cfg, lmbda, workdir = sys.argv[1:7]
    sys.path.insert(0, src)
    try:
        import torchvision  # noqa: F401
    except Exception:
        _torchvision_stand_in()
    import torch
    from coolchic.component import frame as frame_mod
    from coolchic.component import video

    log: dict = {"phases": [], "torch": torch.__version__, "threads": torch.get_num_threads()}
    real_train = video.train

    def skip_warmup(list_candidates, **_):
        return list_candidates[0]

    def timed_train(frame_encoder, frame, training_phase):
        log["mac_per_pixel"] = float(frame_encoder.get_total_mac_per_pixel())
        left = int(iterations) - sum(p["iterations"] for p in log["phases"])
        if training_phase.max_itr > left:  # its intra preset wants >= 2000: the first `left` of them
            training_phase = dataclasses.replace(training_phase, max_itr=left, patience=left)
        c0, t0 = time.process_time(), time.perf_counter()
        out = real_train(frame_encoder=frame_encoder, frame=frame, training_phase=training_phase)
        log["phases"].append({"iterations": int(training_phase.max_itr), "cpu_s": time.process_time() - c0,
                              "wall_s": time.perf_counter() - t0})
        if sum(p["iterations"] for p in log["phases"]) >= int(iterations):
            raise _Done
        return out

    video.warmup = skip_warmup
    video.train = timed_train
    assert frame_mod is not None
    os.makedirs(workdir, exist_ok=True)
    sys.argv = ["cc_encode.py", "-i", os.path.abspath(image), "-o", os.path.join(workdir, "out.cool"),
                "--workdir", workdir, "--n_itr", str(max(int(iterations), 2000)), "--lmbda", str(lmbda),
                "--dec_cfg_residue", os.path.join(src, dec_cfg), "--nobitstream"]
    try:
        runpy.run_path(os.path.join(src, "cc_encode.py"), run_name="__main__")
    except _Done:
        pass
    print("COOLCHIC_PEER " + json.dumps(log), flush=True)


if __name__ == "__main__":
    main()
