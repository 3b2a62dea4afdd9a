"""Composable latent codecs: each owns the training path and the coding steps of one way to code a latent.

A model's ``setup`` builds one composition from these and its own learned sub-networks, e.g. ELIC (He et
al. 2022, arXiv 2203.10886)::

    Hyperprior(
        y=ChannelGroups(
            groups=(16, 16, 32, 64, 192),
            codecs=tuple(Checkerboard(GaussianConditional(quantizer="ste"), spatial[k], aggregation[k])
                         for k in range(5)),
            channel_context=(None, *channel_nets)),
        z=EntropyBottleneck(self.entropy_bottleneck), h_a=self.h_a, h_s=self.h_s)

See :mod:`jlic.latent_codecs.base` for the interface (``forward`` / ``encode`` / ``decode``).
"""

from jlic.latent_codecs.base import CodingContext, ConditionalLeaf, LatentCodec, LatentOut, quantize_pair
from jlic.latent_codecs.channel_groups import ChannelGroups
from jlic.latent_codecs.checkerboard import Checkerboard, anchor_mask
from jlic.latent_codecs.entropy_bottleneck import EntropyBottleneck
from jlic.latent_codecs.gaussian_conditional import GaussianConditional
from jlic.latent_codecs.ggm_conditional import GGMConditional, LearnedPrior
from jlic.latent_codecs.hyperprior import Hyperprior
from jlic.latent_codecs.mixture_conditional import GaussianMixtureConditional, MixtureTables
from jlic.latent_codecs.rasterscan import RasterScan, wavefronts
from jlic.latent_codecs.schedule import Layout, Schedule, hpcm_layout

__all__ = [
    "ChannelGroups", "Checkerboard", "CodingContext", "ConditionalLeaf", "EntropyBottleneck", "GGMConditional",
    "GaussianConditional", "GaussianMixtureConditional", "Hyperprior", "LatentCodec", "LatentOut", "Layout",
    "LearnedPrior", "MixtureTables", "RasterScan", "Schedule", "anchor_mask", "hpcm_layout", "quantize_pair",
    "wavefronts",
]
