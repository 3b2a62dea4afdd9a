"""The decoder's memory bound and its cap: a formula of the header, checked before any decoding."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jlic.codec import codec, limits
from jlic.entropy import bitstream
from jlic.entropy.bitstream import BitstreamError


def test_peak_live_bytes_frees_after_last_use():
    def f(x):  # four 4 KiB arrays in a chain, each dead once the next exists
        a = x * 2.0
        b = a + 1.0
        return jnp.sin(b)

    jaxpr = jax.make_jaxpr(f)(jnp.zeros(1024, jnp.float32)).jaxpr
    assert limits.peak_live_bytes(jaxpr) == 2 * 4096  # never more than two alive at once


def test_bound_grows_with_the_header_size_and_the_cap_refuses(small_model, monkeypatch):
    model, params = small_model("bmshj2018-hyperprior")
    small = limits.decode_memory_bound(model, params, 64, 64)
    big = limits.decode_memory_bound(model, params, 4096, 4096)
    a, y = limits.per_pixel(model, params)
    assert a > 0 and y > 0
    assert big - small == pytest.approx((a + limits.LATENT_BYTES_PER_ELEMENT * y) * (4096**2 - 64**2), rel=1e-6)
    c = codec.Codec(model, params)
    img = np.full((30, 40, 3), 128, np.uint8)
    data = c.compress(img)
    monkeypatch.setenv(limits.MAX_DECODE_BYTES_ENV, str(small - 1))
    with pytest.raises(BitstreamError, match=r"may need .* GiB, over the cap .* raise \$JLIC_MAX_DECODE_BYTES"):
        c.decompress(data)
    monkeypatch.setenv(limits.MAX_DECODE_BYTES_ENV, str(small + (1 << 20)))
    assert c.decompress(data).shape == (30, 40, 3)
    header = bitstream.unpack(data)
    huge = bitstream.pack(bitstream.Container(header.model_name, header.config_hash, 65536, 4096, 3, 8,
                                              (0, 0, 0, 0), header.streams))
    with pytest.raises(BitstreamError, match="65536x4096 image .* over the cap"):
        c.decompress(huge)
