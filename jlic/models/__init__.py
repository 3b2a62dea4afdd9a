"""Published learned-image-compression models, looked up by name: `jlic.models.get(name, quality)`."""

from jlic.models.base import CompressionModel, ModelOutput
from jlic.models.registry import LAMBDAS_MSE, LAMBDAS_MSSSIM, get, names, qualities, register

__all__ = ["CompressionModel", "ModelOutput", "LAMBDAS_MSE", "LAMBDAS_MSSSIM", "get", "names", "qualities",
           "register"]
