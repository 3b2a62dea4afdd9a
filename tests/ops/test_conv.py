"""Tests for jlic.ops.conv: fast convolutions equal the plain `lax` ops (values and gradients)."""

from __future__ import annotations

import functools
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jlic.ops import conv as C

# (kernel, stride, spatial size, batch): both kernel sizes, strides 1/2/4, odd and even sizes, batch 1 and 2.
CASES = [(3, 1, (5, 6), 1), (3, 2, (4, 7), 2), (3, 4, (5, 5), 1), (5, 1, (4, 7), 2), (5, 2, (5, 6), 1),
         (5, 2, (4, 4), 2), (5, 4, (3, 5), 1)]


def _rand(key: int, shape: tuple[int, ...], dtype=jnp.float32) -> jax.Array:
    return jax.random.normal(jax.random.PRNGKey(key), shape, jnp.float32).astype(dtype)


def _close(a: jax.Array, b: jax.Array, rtol: float = 1e-5) -> None:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    assert a.shape == b.shape
    scale = max(1.0, float(np.abs(b).max()))
    np.testing.assert_allclose(a, b, rtol=0, atol=rtol * scale)


@functools.partial(jax.jit, static_argnums=(0, 1, 2))
def _values_and_grads(op, ref, s: int, x: jax.Array, w: jax.Array, g: jax.Array):
    """`op` and `ref` outputs and their VJPs with cotangent `g`, in one compiled program per shape."""
    y, vjp = jax.vjp(lambda x, w: op(x, w, s), x, w)
    y_ref, vjp_ref = jax.vjp(lambda x, w: ref(x, w, s), x, w)
    return (y, *vjp(g.astype(y.dtype))), (y_ref, *vjp_ref(g.astype(y_ref.dtype)))


def _direct_conv_transpose(x: np.ndarray, w: np.ndarray, s: int) -> np.ndarray:
    """Definition of PyTorch's ConvTranspose2d(k, s, k//2, s-1): scatter `x[i] * w[t]` to `o = s*i + t - p`."""
    b, h, wd, _ = x.shape
    k, co = w.shape[0], w.shape[-1]
    p = k // 2
    out = np.zeros((b, h * s + 2 * p + k, wd * s + 2 * p + k, co))
    for t in range(k):
        for u in range(k):
            out[:, t:t + s * h:s, u:u + s * wd:s] += np.einsum("nijc,cd->nijd", x, w[t, u])
    return out[:, p:p + h * s, p:p + wd * s]


# (in, out) channels: few (overlap-add transposed conv, im2col kernel gradient) and many (polyphase, per-tap
# kernel gradient), on either side of jlic.ops.conv._FEW_CHANNELS.
CHANNELS = [(3, 4), (C._FEW_CHANNELS + 2, C._FEW_CHANNELS + 1)]


@pytest.mark.parametrize("ci,co", CHANNELS)
@pytest.mark.parametrize("k,s,hw,b", CASES)
def test_conv_transpose_forward_and_grads_match_reference(k: int, s: int, hw: tuple[int, int], b: int, ci: int,
                                                          co: int) -> None:
    x, w = _rand(0, (b, *hw, ci)), _rand(1, (k, k, ci, co))
    g = _rand(2, (b, hw[0] * s, hw[1] * s, co))
    got, want = _values_and_grads(C.conv_transpose2d, C.conv_transpose2d_reference, s, x, w, g)
    assert got[0].shape == g.shape
    _close(got[0], _direct_conv_transpose(np.asarray(x, np.float64), np.asarray(w, np.float64), s))
    for a, b_ in zip(got, want, strict=True):
        _close(a, b_)


@pytest.mark.parametrize("ci,co", CHANNELS)
@pytest.mark.parametrize("k,s,hw,b", CASES)
def test_conv_forward_and_grads_match_reference(k: int, s: int, hw: tuple[int, int], b: int, ci: int,
                                                co: int) -> None:
    x, w = _rand(3, (b, *hw, ci)), _rand(4, (k, k, ci, co))
    g = _rand(5, (b, -(-hw[0] // s), -(-hw[1] // s), co))
    got, want = _values_and_grads(C.conv2d, C.conv2d_reference, s, x, w, g)
    for a, b_ in zip(got, want, strict=True):
        _close(a, b_)


@pytest.mark.parametrize("module", ["Conv", "ConvTranspose"])
def test_module_grads_including_bias_match_reference(module: str) -> None:
    x = _rand(6, (2, 6, 5, 3))
    mod = getattr(C, module)(4, kernel_size=5, stride=2)
    params = mod.init(jax.random.PRNGKey(0), x)
    ref_op = C.conv2d_reference if module == "Conv" else C.conv_transpose2d_reference

    def loss(params, x):
        return jnp.sum(jnp.sin(mod.apply(params, x)))

    def loss_ref(params, x):
        p = params["params"]
        return jnp.sum(jnp.sin(ref_op(x, p["kernel"], 2) + p["bias"]))

    g = jax.jit(jax.grad(loss, (0, 1)))(params, x)
    g_ref = jax.grad(loss_ref, (0, 1))(params, x)
    for a, b in zip(jax.tree.leaves(g), jax.tree.leaves(g_ref), strict=True):
        _close(a, b)


def test_vmap_over_stacked_kernels_and_inputs() -> None:
    """The λ sweep vmaps whole train steps over stacked params: the custom VJPs must batch."""
    def f(op):
        return lambda x, w: jnp.sum(jnp.tanh(op(x, w, 2)))

    for (ci, co), (op, ref), (x_axis, w_axis) in itertools.product(
            CHANNELS, ((C.conv_transpose2d, C.conv_transpose2d_reference), (C.conv2d, C.conv2d_reference)),
            ((0, 0), (None, 0), (0, None))):  # the vmap rule's three cases
        xs, ws = _rand(7, (3, 2, 5, 6, ci)), _rand(8, (3, 5, 5, ci, co))
        x_in = xs if x_axis == 0 else xs[0]
        w_in = ws if w_axis == 0 else ws[0]
        g = jax.jit(jax.vmap(jax.grad(f(op), (0, 1)), (x_axis, w_axis)))(x_in, w_in)
        g_ref = jax.vmap(jax.grad(f(ref), (0, 1)), (x_axis, w_axis))(x_in, w_in)
        for a, b in zip(g, g_ref, strict=True):
            _close(a, b)


def test_bfloat16_inputs() -> None:
    x, w = _rand(9, (2, 6, 6, 8), jnp.bfloat16), _rand(10, (5, 5, 8, 8), jnp.bfloat16)

    def ref32(ref):
        return lambda x, w, s: ref(x.astype(jnp.float32), w.astype(jnp.float32), s)

    for op, ref, hw in ((C.conv_transpose2d, C.conv_transpose2d_reference, 12),
                        (C.conv2d, C.conv2d_reference, 3)):
        got, want = _values_and_grads(op, ref32(ref), 2, x, w, _rand(15, (2, hw, hw, 8)))
        assert all(a.dtype == jnp.bfloat16 for a in got)
        for a, b in zip(got, want, strict=True):
            _close(a, b, rtol=3e-2)


def test_jit_of_grad_is_repeatable_and_equals_the_eager_reference_grad() -> None:
    """jit(grad) of the custom-VJP transposed conv: the same bits on every call, and the kernel gradient of
    the plain `lax` reference computed without jit (second-order derivatives are not required anywhere)."""
    x, w = _rand(11, (1, 4, 4, 2)), _rand(12, (3, 3, 2, 2))
    f = jax.jit(jax.grad(lambda w: jnp.sum(C.conv_transpose2d(x, w, 2) ** 2)))
    got = np.asarray(f(w))
    np.testing.assert_array_equal(got, np.asarray(f(w)))
    with jax.disable_jit():
        want = jax.grad(lambda w: jnp.sum(C.conv_transpose2d_reference(x, w, 2) ** 2))(w)
    _close(got, want)
    assert np.abs(got).max() > 0


def test_pixel_shuffle_layout() -> None:
    x = jnp.arange(2 * 3 * 3 * 8, dtype=jnp.float32).reshape(2, 3, 3, 8)
    y = C.pixel_shuffle(x, 2)
    assert y.shape == (2, 6, 6, 2)
    for c, i, j in itertools.product(range(2), range(2), range(2)):
        np.testing.assert_array_equal(y[:, i::2, j::2, c], x[..., c * 4 + i * 2 + j])


# ------------------------------------------------------------------------------------------ PyTorch parity


def _torch():
    return pytest.importorskip("torch")


@pytest.mark.peers
@pytest.mark.parametrize("k,s", [(5, 2), (3, 2), (3, 1)])
def test_matches_torch_conv_transpose_and_conv(k: int, s: int) -> None:
    torch = _torch()
    x = _rand(13, (2, 5, 6, 3))
    tconv_t = torch.nn.ConvTranspose2d(3, 4, k, s, padding=k // 2, output_padding=s - 1).double()
    tconv = torch.nn.Conv2d(3, 4, k, s, padding=k // 2).double()
    xt = torch.from_numpy(np.asarray(x, np.float64).transpose(0, 3, 1, 2))
    for mod, tm, wmap in ((C.ConvTranspose, tconv_t, (2, 3, 0, 1)), (C.Conv, tconv, (2, 3, 1, 0))):
        params = {"params": {"kernel": jnp.asarray(tm.weight.detach().numpy().transpose(wmap), jnp.float32),
                             "bias": jnp.asarray(tm.bias.detach().numpy(), jnp.float32)}}
        y = mod(4, kernel_size=k, stride=s).apply(params, x)
        with torch.no_grad():
            y_t = tm(xt).numpy().transpose(0, 2, 3, 1)
        _close(y, y_t)


@pytest.mark.peers
def test_subpel_conv_matches_torch() -> None:
    torch = _torch()
    x = _rand(14, (1, 4, 5, 3))
    tconv = torch.nn.Conv2d(3, 2 * 4, 3, 1, padding=1).double()
    params = {"params": {"conv": {"kernel": jnp.asarray(tconv.weight.detach().numpy().transpose(2, 3, 1, 0),
                                                         jnp.float32),
                                  "bias": jnp.asarray(tconv.bias.detach().numpy(), jnp.float32)}}}
    y = C.SubpelConv(2, r=2).apply(params, x)
    with torch.no_grad():
        y_t = torch.nn.PixelShuffle(2)(tconv(torch.from_numpy(np.asarray(x, np.float64).transpose(0, 3, 1, 2))))
    _close(y, y_t.numpy().transpose(0, 2, 3, 1))


def test_kernel_grad_rule_is_scoped_and_every_rule_gives_the_same_gradient() -> None:
    """`kernel_grad_rule` changes the traced kernel gradient inside its block only (another program: more or
    fewer HLO ops), every rule gives the reference gradient, and an unknown rule is refused."""
    x = jax.random.normal(jax.random.key(0), (2, 12, 12, 4))
    w = jax.random.normal(jax.random.key(1), (3, 3, 4, 6)) * 0.1

    def grad_w():  # a new function each time: jax caches traces per function object
        return jax.jit(lambda x, w: jax.grad(lambda w: jnp.sum(C.conv2d(x, w, 2) ** 2))(w))

    ref = jax.grad(lambda w: jnp.sum(C.conv2d_reference(x, w, 2) ** 2))(w)
    texts = {}
    for rule in C.KERNEL_GRAD_RULES:
        with C.kernel_grad_rule(rule):
            lowered = grad_w().lower(x, w)
        texts[rule] = lowered.as_text()
        np.testing.assert_allclose(np.asarray(lowered.compile()(x, w)), np.asarray(ref), rtol=1e-4, atol=1e-5)
    assert texts["taps"] != texts["lax"]  # the rule is read while tracing...
    assert grad_w().lower(x, w).as_text() == texts[C.DEFAULT_KERNEL_GRAD_RULE]  # ...only in the block
    with pytest.raises(ValueError, match="kernel gradient rule"), C.kernel_grad_rule("fast"):
        pass
