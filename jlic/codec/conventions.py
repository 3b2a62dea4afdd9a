"""Evaluation conventions: how an image is padded to the model's stride and which bytes count as its rate.

* ``"jlic"`` (default): edge replication, centred; bpp counts the whole ``.jlic`` file (header included).
* ``"compressai"``: zeros, centred, as CompressAI's ``utils/eval_model`` (``F.pad(x, pad, value=0)`` with
  ``compressai.ops.compute_padding``); bpp counts the entropy-coded streams only, as CompressAI's bpp does.
  Use it to compare imported CompressAI weights with CompressAI's published numbers: on images whose sides
  are not multiples of the stride, edge padding codes an easier image (``benchmarks/eval_conventions.py``).

The decoder only needs the padding amounts, which the container records, so files of either convention
decode alike.
"""

from __future__ import annotations

from typing import Any

from jlic.codec.codec import Codec

CONVENTIONS = {"jlic": "edge", "compressai": "zeros"}  # convention -> padding (jlic.models.base.pad_image)


class ZeroPaddedCodec(Codec):
    """A :class:`Codec` that pads with zeros (CompressAI's convention) instead of edge replication."""

    convention = "compressai"
    pad_mode = "constant"  # zeros, centred (Codec.pads) as compute_padding


def check(convention: str) -> str:
    if convention not in CONVENTIONS:
        raise ValueError(f"convention must be one of {tuple(CONVENTIONS)}, not {convention!r}")
    return convention


def of(codec: Any) -> str:
    """The convention a codec pads by (``"jlic"`` for a plain :class:`Codec`)."""
    return getattr(codec, "convention", "jlic")


def make_codec(model: Any, params: Any, tables: Any = None, convention: str = "jlic", **kwargs: Any) -> Codec:
    """The :class:`Codec` of ``convention``."""
    cls = ZeroPaddedCodec if check(convention) == "compressai" else Codec
    return cls(model, params, tables, **kwargs)


def rate_bytes(data: bytes, convention: str = "jlic") -> int:
    """Bytes that count as the rate of a ``.jlic`` file: all of it, or its streams (``"compressai"``)."""
    if check(convention) == "jlic":
        return len(data)
    from jlic.entropy.bitstream import unpack

    return sum(len(s) for s in unpack(data).streams)
