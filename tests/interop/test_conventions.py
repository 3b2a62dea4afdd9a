"""CompressAI's evaluation convention: with imported CompressAI weights, on an image whose sides are not
multiples of 64, jlic's `padding="zeros"` gives CompressAI's reconstruction (CompressAI's eval_model pads with
F.pad zeros, centred, by `compressai.ops.compute_padding`) and stream bytes within 2% of CompressAI's
`compress()`; jlic's default edge padding codes a different image."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.peers.compressai_models import compressai_eval, test_image
from jlic.interop import compressai as ci
from jlic.metrics.psnr import psnr_8bit

pytestmark = pytest.mark.peers


@pytest.mark.parametrize("name", ["bmshj2018-hyperprior", pytest.param("mbt2018-mean", marks=pytest.mark.slow)])
def test_compressai_convention_reproduces_compressai(name, compressai_model):
    from jlic.codec.codec import Codec
    from jlic.codec.conventions import make_codec, rate_bytes
    from jlic.entropy import bitstream

    net = compressai_model(name)
    imp = ci.import_compressai(name, net)
    image = test_image(256)[:150, :100]  # 150 x 100: padded to 192 x 128
    ref_bytes, ref = compressai_eval(net, image)
    x = image / 255.0
    codec = make_codec(imp.model, imp.params, imp.tables, "compressai")
    data = codec.compress(image)
    rec = codec.decompress(data)
    jlic_bytes = rate_bytes(data, "compressai")
    assert jlic_bytes == sum(len(s) for s in bitstream.unpack(data).streams) < len(data)
    assert abs(jlic_bytes - ref_bytes) <= 0.02 * ref_bytes + 8, (jlic_bytes, ref_bytes)
    d_psnr = float(psnr_8bit(x, rec / 255.0)) - float(psnr_8bit(x, ref / 255.0))
    assert abs(d_psnr) < 0.01, d_psnr
    assert np.abs(rec.astype(np.int16) - ref).max() <= 1

    edge = Codec(imp.model, imp.params, imp.tables).decompress(
        Codec(imp.model, imp.params, imp.tables).compress(image))
    assert np.abs(edge.astype(np.int16) - ref).max() > 1  # the convention is what makes them agree


def test_unknown_convention_is_refused():
    from jlic.codec.conventions import make_codec
    from jlic.models import registry
    from jlic.models.base import pad_image

    with pytest.raises(ValueError, match="zeros"):
        pad_image(np.zeros((1, 5, 5, 3), np.float32), 4, "reflect")
    with pytest.raises(ValueError, match="compressai"):
        make_codec(registry.get("bmshj2018-factorized", 1, N=8, M=8), None, convention="tfc")
    x = np.arange(2 * 3 * 3, dtype=np.float32).reshape(1, 2, 3, 3)
    padded, pads = pad_image(x, 4, "zeros")
    assert pads == ((1, 1), (0, 1)) and float(padded[0, 0].sum()) == 0 and float(padded[0, 1, :3].sum()) > 0
