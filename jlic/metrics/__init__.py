"""Image-quality metrics and rate-distortion comparisons: PSNR, MS-SSIM, Bjøntegaard deltas."""

from jlic.metrics.bdrate import bd_psnr, bd_rate
from jlic.metrics.msssim import MS_SSIM_WEIGHTS, ms_ssim, ms_ssim_db, ssim
from jlic.metrics.psnr import mse, psnr, psnr_8bit, to_8bit

__all__ = [
    "MS_SSIM_WEIGHTS", "bd_psnr", "bd_rate", "ms_ssim", "ms_ssim_db",
    "mse", "psnr", "psnr_8bit", "ssim", "to_8bit",
]
