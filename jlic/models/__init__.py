"""Published learned-image-compression models, looked up by name: `jlic.models.get(name, quality)`.

Every model file registers itself when imported; this package imports each of them explicitly (a new model
file adds one line below), so `jlic.models.registry` always sees all of them.
"""

# One line per model file (order: as registered in the zoo listing).
from jlic.models import (
           channelwise,  # noqa: E402,F401
           checkerboard,  # noqa: E402,F401
           cheng2020,  # noqa: E402,F401
           dcae,  # noqa: E402,F401
           elic2022,  # noqa: E402,F401
           entroformer,  # noqa: E402,F401
           hpcm,  # noqa: E402,F401
           kamisli2024,  # noqa: E402,F401
           mbt2018,  # noqa: E402,F401
           mlic,  # noqa: E402,F401
           mlicpp,  # noqa: E402,F401
           stf,  # noqa: E402,F401
           tcm,  # noqa: E402,F401
           variable_rate,  # noqa: E402,F401
           zoo,  # noqa: E402,F401,I001  (bmshj2018 factorized/hyperprior, mbt2018-mean)
)
from jlic.models.base import CompressionModel, ModelOutput
from jlic.models.registry import LAMBDAS_MSE, LAMBDAS_MSSSIM, get, names, qualities, register

__all__ = ["CompressionModel", "ModelOutput", "LAMBDAS_MSE", "LAMBDAS_MSSSIM", "get", "names", "qualities",
           "register"]
