"""Overfitted per-image codecs (Cool-chic, arXiv 2212.05458; C3, arXiv 2312.02753): fit, quantize, code.

- `fit.fit_image(image, lmbda, ...)`: fit latents + networks to one image (soft-round / noise annealing, then a
  straight-through phase), then quantize the network weights (`weights`);
- `codec.encode(fitted) -> bytes` / `codec.decode(bytes) -> image`: a self-contained `.jlic` file (latents and
  weights entropy-coded with ANS over jlic's integer CDF tables);
- `cli`: `python -m jlic compress --overfit ...` and the matching `decompress`; `sweep`: the λ x image runner
  behind `python -m experiments.sweep --config experiments/configs/coolchic.py`.
"""
