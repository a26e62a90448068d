"""The mu-law tone map of the paper (Sec. 3.4): tau(x) = log(1 + mu x) / log(1 + mu), mu = 5000.

Works on NumPy arrays and torch tensors alike (losses, metrics and figures share it).
"""

import numpy as np

MU = 5000.0
LOG_1P_MU = float(np.log(1.0 + MU))


def mu_law(x):
    """tau(x) for an array or tensor of linear HDR values; float32 stays float32."""
    y = 1.0 + MU * x
    return (y.log() if hasattr(y, "log") else np.log(y)) / np.float32(LOG_1P_MU)


def mu_law_8bit(hdr: np.ndarray) -> np.ndarray:
    """(H, W, 3) linear HDR -> tone-mapped values in [0, 1] for an 8-bit display image."""
    return np.clip(mu_law(np.clip(hdr, 0, None)), 0, 1)
