"""LF-Diff's diffusion in the latent space of the low-frequency prior [L129-L155]: the forward process
(Eq. 2, Eq. 12), the noise-prediction loss (Eq. 15's first term) and the deterministic DDIM reverse pass
of S steps used in training and inference [L149, L155, L172].

``[Lnn]`` is line nn of the paper's text; ``U#`` an open choice of ``models/lfdiff/README.md``.
"""

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .denoiser import DenoisingUNet

T = 200  # diffusion steps [L172]
BETAS = (5e-4, 0.1)  # U13: linear beta_1..beta_T (DDPM's 1e-4..0.02 scaled by 1000 / T), sqrt(alpha_bar_T) = 0.0055
S = 10  # DDIM steps in training and inference [L172]


def ddim_timesteps(steps: int = S, total: int = T) -> list[int]:
    """The steps the reverse chain visits, 0-based (U14): T-1, T-1-T/S, ...; for S = 10: 199, 179, ..., 19."""
    if not 1 <= steps <= total:
        raise ValueError(f"DDIM steps must be between 1 and {total}, got {steps}")
    return [total - 1 - i * (total // steps) for i in range(steps)]


def alpha_bar_schedule(total: int = T, betas: tuple[float, float] = BETAS) -> Tensor:
    """alpha_bar_t = prod_{i<=t} (1 - beta_i) [L51] for the linear beta schedule (U13), float64, (total,)."""
    return torch.cumprod(1 - torch.linspace(*betas, total, dtype=torch.float64), dim=0)


class LatentDiffusion(nn.Module):
    """The denoiser eps_theta with its noise schedule. z and D are (B, 3, h, w) latents (h, w = H/4, W/4)."""

    def __init__(self, total: int = T, betas: tuple[float, float] = BETAS) -> None:
        super().__init__()
        self.total = total
        self.register_buffer("alpha_bar", alpha_bar_schedule(total, betas), persistent=False)
        self.denoiser = DenoisingUNet()

    def _coefficients(self, t: Tensor | int, like: Tensor) -> tuple[Tensor, Tensor]:
        """(sqrt(alpha_bar_t), sqrt(1 - alpha_bar_t)) shaped to broadcast over ``like``'s (B, C, h, w)."""
        a = self.alpha_bar[t].reshape(-1, 1, 1, 1)
        return a.sqrt().to(like.dtype), (1 - a).sqrt().to(like.dtype)

    def q_sample(self, z: Tensor, t: Tensor | int, eps: Tensor) -> Tensor:
        """Eq. 2: z_t = sqrt(alpha_bar_t) z + sqrt(1 - alpha_bar_t) eps; t (B,) or one step for all."""
        a, b = self._coefficients(t, z)
        return a * z + b * eps

    def eps(self, z_t: Tensor, d: Tensor, t: int | Tensor) -> Tensor:
        """eps_theta(Concat(z_t, D), t) [L143]."""
        t = torch.full((z_t.shape[0],), t, device=z_t.device) if isinstance(t, int) else t
        return self.denoiser(torch.cat([z_t, d], dim=1), t)

    def noise_loss(self, z: Tensor, d: Tensor) -> Tensor:
        """Eq. 15's first term: mean (eps - eps_theta(z_t, D, t))^2, t uniform in 0..T-1 per sample (U16)."""
        t = torch.randint(0, self.total, (z.shape[0],), device=z.device)
        eps = torch.randn_like(z)
        return F.mse_loss(self.eps(self.q_sample(z, t, eps), d, t), eps)

    def sample(self, z_T: Tensor, d: Tensor, steps: int = S) -> Tensor:
        """Deterministic DDIM (eta = 0, U14) from z_T through ``steps`` steps to z_hat = the last z_hat_0;
        differentiable (the graph is kept through every step in training, U15). -> (B, 3, h, w)."""
        taus = ddim_timesteps(steps, self.total)
        z = z_T
        for tau, following in zip(taus, [*taus[1:], None]):
            eps = self.eps(z, d, tau)
            a, b = self._coefficients(tau, z)
            z_0 = (z - b * eps) / a
            if following is not None:
                a_next, b_next = self._coefficients(following, z)
                z = a_next * z_0 + b_next * eps
        return z_0
