"""merge.py's clip guard: where even the shortest exposure clipped, no photo measured the radiance, and the
honest answer is "at least what that exposure implies". The network's answer is raised to that floor there,
blended over a few pixels outside such a region so that no edge shows. (Not used by test.py, whose
protocol is the paper's.)"""

import cv2
import numpy as np

from datasets.inputs import GAMMA

CLIPPED = 0.99  # an LDR channel at or above this is clipped (codes / 256 or / 65536)
FEATHER = 4  # pixels outside a clipped region over which the floor fades out


def clip_floor(short_ldr: np.ndarray, short_time: float) -> tuple[np.ndarray, np.ndarray]:
    """The lower bound that the (aligned) shortest exposure implies and the weight it holds with.

    short_ldr: (H, W, 3) in [0, 1) in the network's LDR domain; short_time: its exposure in the output's
    units (1 when the shortest exposure is the unit, as merge.py writes). -> (floor, weight), (H, W, 3):
    floor = short_ldr**GAMMA / short_time, weight 1 on each channel's clipped pixels, falling linearly to 0
    over FEATHER pixels outside them.
    """
    floor = np.power(short_ldr.astype(np.float32), np.float32(GAMMA)) / np.float32(short_time)
    weight = np.empty_like(floor)
    for c in range(short_ldr.shape[2]):
        unclipped = (short_ldr[:, :, c] < CLIPPED).astype(np.uint8)
        distance = cv2.distanceTransform(unclipped, cv2.DIST_L2, 5)  # 0 on clipped pixels
        weight[:, :, c] = np.clip(1 - distance / (FEATHER + 1), 0, 1)
    return floor, weight


def clipped_fraction(ldr: np.ndarray) -> float:
    """Share of the pixels of an (H, W, 3) LDR image with a clipped channel."""
    return float((ldr.max(axis=2) >= CLIPPED).mean())


def guard_clipped(hdr: np.ndarray, short_ldr: np.ndarray, short_time: float = 1.0) -> np.ndarray:
    """hdr (H, W, 3) raised towards the shortest exposure's floor where that exposure clipped:
    hdr + weight * max(floor - hdr, 0)."""
    floor, weight = clip_floor(short_ldr, short_time)
    return (hdr + weight * np.maximum(floor - hdr, 0)).astype(hdr.dtype)
