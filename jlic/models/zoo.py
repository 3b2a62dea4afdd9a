"""Registration of the published models with CompressAI's (N, M) per quality (compressai zoo `cfgs`)."""

from jlic.models.bmshj2018 import FactorizedPrior, ScaleHyperprior
from jlic.models.mbt2018_mean import MeanScaleHyperprior
from jlic.models.registry import register


def _nm(small: tuple[int, int], large: tuple[int, int], first_large: int) -> dict[int, dict[str, int]]:
    return {q: dict(zip(("N", "M"), small if q < first_large else large, strict=True)) for q in range(1, 9)}


register("bmshj2018-factorized", FactorizedPrior, _nm((128, 192), (192, 320), 6), stride=16)
register("bmshj2018-hyperprior", ScaleHyperprior, _nm((128, 192), (192, 320), 6), stride=64)
register("mbt2018-mean", MeanScaleHyperprior, _nm((128, 192), (192, 320), 5), stride=64)
