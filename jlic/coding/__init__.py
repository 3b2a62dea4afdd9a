"""Real entropy coding: integer CDF tables, the coder, the ``.jlic`` container, codec and CLI.

* :mod:`jlic.coding.cdf` -- quantized CDF tables (deterministic integer math, escape symbol).
* :mod:`jlic.coding.coder` -- vectorized ANS / range coding in ``constriction``'s format.
* :mod:`jlic.coding.rans` -- the numba ANS kernels behind the coder (bit-exact with ``constriction``).
* :mod:`jlic.coding.bitstream` -- the ``.jlic`` container and :class:`BitstreamError`.
* :mod:`jlic.coding.codec` -- ``compress`` / ``decompress`` of images with a registered model.
* :mod:`jlic.coding.cli` -- ``python -m jlic compress | decompress | eval``.

Submodules are imported explicitly (``from jlic.coding import codec``) so that importing the coder does not
pull in the models.
"""
