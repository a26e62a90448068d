"""Image-quality metrics of the paper's tables, computed as the official evaluation computes them."""

from .psnr_ssim import METRICS, all_metrics, psnr, psnr_l, psnr_mu, ssim, ssim_l, ssim_mu

__all__ = ["METRICS", "all_metrics", "psnr", "psnr_l", "psnr_mu", "ssim", "ssim_l", "ssim_mu"]
