"""jlic.layers blocks equal their CompressAI counterparts with the same (perturbed) weights."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jlic.layers import AttentionBlock, ConvStack, ResidualBottleneckBlock, channel_ramp
from tests.layers.torch_weights import params_from_torch, perturb, torch_key

torch = pytest.importorskip("torch", reason="needs the peers extra (torch)")
layers = pytest.importorskip("compressai.layers", reason="needs the peers extra (compressai)")


def _compare(block, net, channels: int, hw=(9, 12), atol=1e-5):
    x = np.random.default_rng(1).standard_normal((2, *hw, channels)).astype(np.float32)
    shapes = jax.eval_shape(lambda k: block.init(k, jnp.asarray(x)), jax.random.PRNGKey(0))["params"]
    perturb(net)
    params = params_from_torch(shapes, net)
    with torch.no_grad():
        ref = net(torch.from_numpy(x.transpose(0, 3, 1, 2))).numpy().transpose(0, 2, 3, 1)
    out = np.asarray(jax.jit(block.apply)({"params": params}, x))
    assert out.shape == ref.shape
    scale = max(1.0, float(np.abs(ref).max()))
    np.testing.assert_allclose(out, ref, rtol=0, atol=atol * scale)
    return params


def test_torch_key_rule():
    assert torch_key(("conv_a_2", "layer_4", "kernel")) == "conv_a.2.conv.4.weight"
    assert torch_key(("conv_b_3", "bias")) == "conv_b.3.bias"
    assert torch_key(("layer_2", "kernel")) == "2.weight"


@pytest.mark.parametrize("cin,cout", [(16, 16), (12, 20)])
def test_residual_bottleneck_block_matches_compressai(cin, cout):
    from compressai.models.sensetime import ResidualBottleneckBlock as Ref

    params = _compare(ResidualBottleneckBlock(cout), Ref(cin, cout), cin)
    assert params["conv1"]["kernel"].shape == (1, 1, cin, min(cin, cout) // 2)
    assert ("skip" in params) == (cin != cout)


def test_attention_block_matches_compressai():
    params = _compare(AttentionBlock(16), layers.AttentionBlock(16), 16)
    assert params["conv_b_3"]["kernel"].shape == (1, 1, 16, 16)
    with pytest.raises(ValueError, match="input channels"):
        AttentionBlock(8).init(jax.random.PRNGKey(0), jnp.zeros((1, 4, 4, 16)))


@pytest.mark.parametrize("k", [1, 5])
def test_conv_stack_matches_a_sequential(k):
    nn = torch.nn
    widths = (11, 7, 6)
    net = nn.Sequential(nn.Conv2d(5, 11, k, padding=k // 2), nn.ReLU(), nn.Conv2d(11, 7, k, padding=k // 2),
                        nn.ReLU(), nn.Conv2d(7, 6, k, padding=k // 2))
    _compare(ConvStack(widths, k), net, 5)


@pytest.mark.parametrize("cin,cout,min_ch", [(416, 32, 384), (448, 32, 384), (512, 64, 384), (640, 128, 384),
                                             (1152, 384, 384), (60, 8, 48), (100, 24, 48), (7, 30, 0)])
def test_channel_ramp_matches_compressai(cin, cout, min_ch):
    seq = layers.sequential_channel_ramp(cin, cout, min_ch=min_ch, num_layers=3, make_layer=torch.nn.Conv2d,
                                         make_act=torch.nn.ReLU, kernel_size=1)
    widths = tuple(m.out_channels for m in seq if hasattr(m, "out_channels"))
    assert channel_ramp(cin, cout, 3, min_ch) == widths


def test_channel_ramp_examples():
    assert channel_ramp(640, 128, 3, 384) == (469, 384, 128)
    assert channel_ramp(1152, 384, 3, 384) == (896, 640, 384)
    assert channel_ramp(10, 4, 1) == (4,)
    with pytest.raises(ValueError):
        channel_ramp(10, 4, 0)
