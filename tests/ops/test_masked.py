import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jlic.latent_codecs.rasterscan import wavefronts
from jlic.ops.masked import MaskedConv, causal_mask, checkerboard_mask, make_mask, mask_taps, wavefront_slope


def test_type_a_mask_has_twelve_causal_taps():
    m = causal_mask(5, "A")
    assert m.sum() == 12
    assert m[:2].all() and m[2, :2].all() and not m[2, 2:].any() and not m[3:].any()
    assert causal_mask(5, "B").sum() == 13
    cb = checkerboard_mask(5)
    assert cb.sum() == 12 and cb[2, 1] == 1 and cb[1, 1] == 0 and cb[2, 2] == 0
    with pytest.raises(ValueError):
        make_mask(5, "C")


def test_wavefront_slope_of_5x5_is_3_and_steps_respect_every_dependency():
    mask = causal_mask(5, "A")
    assert wavefront_slope(mask) == 3
    assert wavefront_slope(causal_mask(3, "A")) == 2
    with pytest.raises(ValueError, match="causal"):
        wavefront_slope(causal_mask(5, "B"))
    h, w = 7, 9
    step_of = np.empty((h, w), int)
    fronts = wavefronts(h, w, 3)
    for t, (hs, ws) in enumerate(fronts):
        step_of[hs, ws] = t
    assert len(fronts) == 3 * (h - 1) + w
    assert sum(len(f[0]) for f in fronts) == h * w
    taps = [(i - 2, j - 2) for i, j in zip(*np.nonzero(mask), strict=True)]
    for y in range(h):
        for x in range(w):
            for dh, dw in taps:
                if 0 <= y + dh < h and 0 <= x + dw < w:
                    assert step_of[y + dh, x + dw] < step_of[y, x]
    # slope 2 would violate the (-1, +2) tap
    fronts2 = enumerate(wavefronts(h, w, 2))
    bad = {(int(a), int(b)): t for t, (hs, ws) in fronts2 for a, b in zip(hs, ws, strict=True)}
    assert bad[(0, 4)] == bad[(1, 2)]


def _init(mask_type, cin=3, cout=4):
    conv = MaskedConv(cin, cout, 5, mask_type)
    params = conv.init(jax.random.PRNGKey(0), jnp.zeros((1, 8, 8, cin)))
    return conv, params


def test_future_latents_never_change_past_outputs():
    conv, params = _init("A")
    x = jax.random.normal(jax.random.PRNGKey(1), (1, 8, 8, 3))
    base = np.asarray(conv.apply(params, x))
    for h, w in [(3, 4), (0, 0), (7, 7), (5, 1)]:
        x2 = x.at[0, h, w].add(10.0)
        out = np.asarray(conv.apply(params, x2))
        changed = np.abs(out - base).max(-1)[0] > 0
        for i in range(8):
            for j in range(8):
                if (i, j) <= (h, w):  # raster order: at or before the perturbed latent
                    assert not changed[i, j], (h, w, i, j)
        # the outputs the mask should see do change
        if w + 1 < 8:
            assert changed[h, w + 1]


def test_checkerboard_conv_only_sees_the_four_neighbourhood_parity():
    conv, params = _init("checkerboard")
    x = jax.random.normal(jax.random.PRNGKey(1), (1, 8, 8, 3))
    base = np.asarray(conv.apply(params, x))
    out = np.asarray(conv.apply(params, x.at[0, 4, 4].add(5.0)))
    changed = np.abs(out - base).max(-1)[0] > 0
    ii, jj = np.nonzero(changed)
    assert len(ii) > 0 and np.all((ii + jj) % 2 == 1)


def test_taps_equal_the_full_convolution():
    conv, params = _init("A", 6, 5)
    x = jax.random.normal(jax.random.PRNGKey(2), (1, 9, 11, 6))
    full = np.asarray(conv.apply(params, x))
    xp = np.pad(np.asarray(x[0]), ((2, 2), (2, 2), (0, 0)))
    pos = [(0, 0), (4, 7), (8, 10), (2, 3)]
    ii, jj = mask_taps(5, "A")
    assert len(ii) == 12
    taps = np.stack([xp[h:h + 5, w:w + 5][ii, jj] for h, w in pos])
    out = np.asarray(conv.apply(params, taps, method="taps"))
    np.testing.assert_allclose(out, np.stack([full[0, h, w] for h, w in pos]), rtol=1e-5, atol=1e-5)
