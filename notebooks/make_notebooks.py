"""Writes the Colab-ready notebooks of this folder from the cell lists below (run: python notebooks/make_notebooks.py).

Keeping the source here makes notebook diffs reviewable; `tests/test_notebooks.py` executes the written files.
"""

from pathlib import Path

import nbformat

HERE = Path(__file__).parent

INSTALL = '''# On Colab (or any machine without jlic): install it from a checkout of this repository, e.g.
#   !git clone <this repository's URL> jlic && pip install -q -e jlic
import importlib.util
if importlib.util.find_spec("jlic") is None:
    raise SystemExit("jlic is not installed: clone the repository and `pip install -e .` first")
import jax, jax.numpy as jnp, numpy as np
print("jax", jax.__version__, "devices:", jax.devices())'''

QUICKSTART = [
    ("md", "# jlic quickstart\n\nTrain a small scale-hyperprior model (Ballé et al. 2018, arXiv 1802.01436) for a "
           "few hundred steps on images that ship with scikit-image, then compress an image into real bytes and "
           "decode it back. Everything is a pure function: params are a pytree, the train step is one `jax.jit`."),
    ("code", INSTALL),
    ("code", '''from jlic.data.embedded import EmbeddedSource
from jlic.data.pipeline import train_dataset
from jlic.models import get
from jlic.train.state import create_train_state
from jlic.train.step import make_train_step

model = get("bmshj2018-hyperprior", quality=1, N=32, M=48)   # published layer list, smaller widths for a CPU demo
config = {"lr": 1e-3, "aux_lr": 1e-3, "image_shape": (1, 64, 64, 3)}
state = create_train_state(model, jax.random.PRNGKey(0), config)
step = jax.jit(make_train_step(model, config))
batches = train_dataset(EmbeddedSource(max_side=256), crop=64, batch_size=8, seed=0)
lmbda = 0.01
key = jax.random.PRNGKey(1)
for i in range(200):
    key, sub = jax.random.split(key)
    state, metrics = step(state, jnp.asarray(batches[i]), lmbda, sub)
    if i % 50 == 0 or i == 199:
        print(f"step {i:4d}  loss {float(metrics['loss']):8.3f}  bpp {float(metrics['bpp']):.3f}  "
              f"psnr {float(metrics['psnr']):.2f} dB")'''),
    ("md", "## Real bytes\n\n`compress` pads the image to the model's stride, codes `z` with the factorized prior "
           "and `y` with Gaussian tables indexed by the hyper-synthesis scales, and wraps the streams in the "
           "`.jlic` container (magic, version, model hash, shape, CRC32)."),
    ("code", '''import skimage.data
from jlic.codec.codec import Codec
from jlic.metrics.psnr import psnr_8bit

image = skimage.data.astronaut()[:200, :300]          # any size: 200x300 is padded to 256x320 and cropped back
codec = Codec(model, state.params)
data = codec.compress(image)
decoded = codec.decompress(data)
bpp = len(data) * 8 / (image.shape[0] * image.shape[1])
print(f"{len(data)} bytes = {bpp:.3f} bpp, PSNR {float(psnr_8bit(image / 255.0, decoded / 255.0)):.2f} dB")
out = model.apply(state.params, jnp.asarray(image, jnp.float32)[None] / 255.0, train=False)
est = sum(float(-jnp.sum(jnp.log2(v))) for v in out.likelihoods.values()) / (image.shape[0] * image.shape[1])
print(f"estimated (−Σ log2 p) {est:.3f} bpp vs real {bpp:.3f} bpp")'''),
    ("code", '''import matplotlib.pyplot as plt
fig, ax = plt.subplots(1, 2, figsize=(8, 3))
ax[0].imshow(image); ax[0].set_title("original"); ax[1].imshow(decoded); ax[1].set_title(f"{bpp:.2f} bpp")
for a in ax: a.axis("off")
plt.show()'''),
]

CUSTOM = [
    ("md", "# A custom entropy model in a few lines\n\nAn entropy model in jlic is a function of its parameters that "
           "returns the probability of each quantized value. Here we write a conditional **Laplace** model (a "
           "common alternative to the Gaussian of Ballé et al. 2018, arXiv 1802.01436), check it is normalized, and "
           "compare the bits it assigns to a model's latents with the built-in Gaussian, using the same scales."),
    ("code", INSTALL),
    ("code", '''from jlic.entropy import gaussian
from jlic.ops.lower_bound import lower_bound

def laplace_likelihood(y_hat, scale, mean=0.0, scale_bound=0.11, bound=1e-9):
    """Mass of the unit bin centred on y_hat under Laplace(mean, scale)."""
    scale = lower_bound(scale, scale_bound)
    v = jnp.abs(y_hat - mean)
    upper = 0.5 * jnp.exp(-(v - 0.5).clip(0) / scale) * jnp.where(v > 0.5, 1.0, 0.0) + jnp.where(
        v > 0.5, 0.0, 1.0 - 0.5 * jnp.exp(-(0.5 - v) / scale))
    lower = 0.5 * jnp.exp(-(v + 0.5) / scale)
    return lower_bound(upper - lower, bound)

grid = jnp.arange(-200, 201, dtype=jnp.float32)
for s in (0.3, 2.0, 10.0):
    print(f"scale {s:5.1f}: total mass {float(jnp.sum(laplace_likelihood(grid, s, bound=0.0))):.6f}")'''),
    ("code", '''from jlic.entropy import factorized
from jlic.models import get

model = get("mbt2018-mean", quality=1, N=32, M=48)
params = model.init(jax.random.PRNGKey(0), (1, 64, 64, 3))
x = jax.random.uniform(jax.random.PRNGKey(1), (1, 128, 128, 3))
y = model.analysis(params, x) * 20.0                 # spread the untrained latents so the rates differ
z = model.hyper_analysis(params, y)
z_hat = jnp.round(z - factorized.medians(params["entropy_bottleneck"])) + factorized.medians(params["entropy_bottleneck"])
scales, means = model.hyper_synthesis(params, z_hat)
scales = jnp.abs(scales) + 1.0
y_hat = jnp.round(y - means) + means
bits_gauss = float(-jnp.sum(jnp.log2(gaussian.likelihood(y_hat, scales, means))))
bits_laplace = float(-jnp.sum(jnp.log2(laplace_likelihood(y_hat, scales, means))))
print(f"Gaussian: {bits_gauss:.0f} bits, Laplace: {bits_laplace:.0f} bits for {y.size} latents")
grads = jax.grad(lambda s: -jnp.sum(jnp.log2(laplace_likelihood(y_hat, s, means))))(scales)
print("gradient finite:", bool(jnp.all(jnp.isfinite(grads))))'''),
    ("md", "To train and code with it, wrap it in a leaf latent codec as "
           "`jlic/latent_codecs/gaussian_conditional.py` does (its `likelihood` for training; its pmf table per "
           "scale, built as `jlic.entropy.gaussian.pmf_table` does, becomes integer CDFs with `jlic.entropy.cdf`) "
           "and use that leaf in a model's composition (README: \"Add an entropy model / latent codec\")."),
]

RD_SWEEP = [
    ("md", "# A rate-distortion sweep\n\nTrain one model per λ (here all λ at once in one vmapped program), "
           "evaluate each with real bytes and plot the RD curve against published anchors. This is what "
           "`python -m experiments.sweep` does; here it runs with tiny settings so the notebook finishes quickly."),
    ("code", INSTALL),
    ("code", '''import json, pathlib, tempfile
from experiments.configs import default
from jlic.train.loop import train_and_evaluate

config = default.get_config()
config.num_steps = 60
config.log_every = 20
config.checkpoint_every = 60
config.progress_bar = False
config.eval.limit = 1
config.eval.live_codecs = ("jpeg",)
workdir = pathlib.Path(tempfile.mkdtemp()) / "sweep"
result = train_and_evaluate(config, workdir)
print(sorted(p.name for p in workdir.iterdir()))'''),
    ("code", '''rd = json.loads((workdir / "rd.json").read_text())
for bpp, psnr in zip(rd["results"]["bpp"], rd["results"]["psnr-rgb"]):
    print(f"{bpp:.3f} bpp  {psnr:.2f} dB")
print((workdir / "report.md").read_text()[:1500])'''),
    ("code", '''from IPython.display import Image, display
display(Image(filename=str(workdir / "rd.png")))'''),
]


def write(name: str, cells: list[tuple[str, str]]) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["colab"] = {"provenance": []}
    nb.cells = [nbformat.v4.new_markdown_cell(s) if kind == "md" else nbformat.v4.new_code_cell(s)
                for kind, s in cells]
    nbformat.write(nb, HERE / name)


if __name__ == "__main__":
    write("quickstart.ipynb", QUICKSTART)
    write("custom_entropy_model.ipynb", CUSTOM)
    write("rd_sweep.ipynb", RD_SWEEP)
