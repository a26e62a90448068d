"""LDRs + exposure times -> the 18-channel network input, as the official loader builds it."""

import numpy as np

GAMMA = 2.2  # camera response assumed by the official input mapping: H_i = L_i ** 2.2 / t_i
EPS_T = 1e-8  # the official loader divides by t_i + 1e-8


def ldr_to_linear(ldr: np.ndarray, t: float) -> np.ndarray:
    """H_i = L_i ** 2.2 / (t_i + 1e-8): an LDR exposure mapped to the linear HDR domain."""
    return (np.power(ldr, np.float32(GAMMA)) / np.float32(t + EPS_T)).astype(np.float32)


def make_input(ldrs: np.ndarray, exposure_times: np.ndarray) -> np.ndarray:
    """(3, H, W, 3) RGB LDRs (short, reference, long) + 3 times -> (18, H, W) float32:
    per exposure [H_i (3), L_i (3)], channels first."""
    parts = []
    for ldr, t in zip(ldrs, exposure_times):
        parts += [ldr_to_linear(ldr, float(t)), ldr]
    return np.ascontiguousarray(np.concatenate(parts, axis=-1).transpose(2, 0, 1))
