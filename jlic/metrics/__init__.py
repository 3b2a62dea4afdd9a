"""Image-quality metrics and rate-distortion comparisons: PSNR, MS-SSIM, Bjøntegaard deltas."""

from jlic.metrics.bdrate import bd_psnr, bd_rate
from jlic.metrics.msssim import ms_ssim, ssim
from jlic.metrics.psnr import mse, psnr, psnr_8bit, to_8bit

__all__ = ["bd_psnr", "bd_rate", "ms_ssim", "mse", "psnr", "psnr_8bit", "ssim", "to_8bit"]
