"""Aligning hand-held exposures to the reference: a feature homography (ORB, RANSAC) refined by ECC, or
a translation (phase correlation), each checked for sanity; the reference is never moved.

Frames are compared after exposure equalisation: each LDR frame is brought to the reference's exposure
in the linear domain, clipped and gamma-encoded again, so that features and intensities correspond.
"""

from dataclasses import dataclass

import cv2
import numpy as np

MODES = ("auto", "homography", "translation", "none")
MIN_INLIERS, MIN_INLIER_RATIO = 25, 0.2
MAX_SCALE_CHANGE, MAX_SHIFT = 0.1, 0.1  # relative to 1 and to the image diagonal
MAX_PERSPECTIVE = 1e-3
MAX_SIDE = 1280  # motion is estimated on frames at most this large, then scaled to the full size


@dataclass
class Alignment:
    """A 3x3 homography from the frame to the reference, how it was found, and a line for the report."""

    matrix: np.ndarray
    method: str
    note: str = ""

    def describe(self, size: tuple[int, int]) -> str:
        """Shift, scale and rotation at the image centre, in words."""
        (dx, dy), a = at_centre(self.matrix, size)
        scale = float(np.sqrt(abs(np.linalg.det(a))))
        angle = float(np.degrees(np.arctan2(a[1, 0] - a[0, 1], a[0, 0] + a[1, 1])))
        text = f"{self.method}: shift ({dx:+.1f}, {dy:+.1f}) px, scale {scale:.4f}, rotation {angle:+.2f} deg"
        return text + (f" ({self.note})" if self.note else "")


def at_centre(matrix: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(shift of the image centre, 2x2 Jacobian there) of a homography: its local translation and linear part."""
    h, w = size
    centre = np.array([w / 2, h / 2, 1.0])
    q = matrix @ centre
    jacobian = (matrix[:2, :2] * q[2] - np.outer(q[:2], matrix[2, :2])) / q[2] ** 2
    return q[:2] / q[2] - centre[:2], jacobian


def equalise(ldr: np.ndarray, ratio: float, gamma: float) -> np.ndarray:
    """An LDR frame (H, W, 3) in [0, 1] seen at ``ratio`` times its exposure, as 8-bit grey."""
    linear = np.power(np.clip(ldr, 0, 1), gamma) * ratio
    grey = cv2.cvtColor(np.power(np.clip(linear, 0, 1), 1 / gamma).astype(np.float32), cv2.COLOR_RGB2GRAY)
    return np.round(grey * 255).astype(np.uint8)


def sane(matrix: np.ndarray, size: tuple[int, int]) -> str | None:
    """None for a plausible hand-held motion, else why not."""
    shift, jacobian = at_centre(matrix, size)
    scale = np.sqrt(abs(np.linalg.det(jacobian)))
    if abs(scale - 1) > MAX_SCALE_CHANGE:
        return f"scale {scale:.3f}"
    if np.abs(matrix[2, :2] / matrix[2, 2]).max() > MAX_PERSPECTIVE:
        return "strong perspective"
    if np.hypot(*shift) > MAX_SHIFT * np.hypot(*size):
        return "shift over 10% of the diagonal"
    return None


def feature_homography(moving: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray | None, str]:
    """ORB features, ratio-tested matches, RANSAC: (moving -> reference homography or None, note)."""
    orb = cv2.ORB_create(nfeatures=4000)
    k1, d1 = orb.detectAndCompute(moving, None)
    k2, d2 = orb.detectAndCompute(reference, None)
    if d1 is None or d2 is None or len(k1) < MIN_INLIERS or len(k2) < MIN_INLIERS:
        return None, "too few features"
    pairs = cv2.BFMatcher(cv2.NORM_HAMMING).knnMatch(d1, d2, k=2)
    good = [m for m, *rest in pairs if rest and m.distance < 0.75 * rest[0].distance]
    if len(good) < MIN_INLIERS:
        return None, f"{len(good)} matches"
    src = np.float32([k1[m.queryIdx].pt for m in good])
    dst = np.float32([k2[m.trainIdx].pt for m in good])
    matrix, inliers = cv2.findHomography(src, dst, cv2.RANSAC, 3.0)
    count = int(inliers.sum()) if inliers is not None else 0
    if matrix is None or count < MIN_INLIERS or count < MIN_INLIER_RATIO * len(good):
        return None, f"{count} of {len(good)} matches agree"
    return matrix, f"{count} of {len(good)} matches agree"


def refine_ecc(moving: np.ndarray, reference: np.ndarray, matrix: np.ndarray) -> np.ndarray | None:
    """ECC refinement of a homography (None when ECC does not converge)."""
    warp = np.linalg.inv(matrix).astype(np.float32)  # ECC maps reference coordinates into the frame
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 100, 1e-6)
    try:
        _, warp = cv2.findTransformECC(reference.astype(np.float32), moving.astype(np.float32), warp,
                                       cv2.MOTION_HOMOGRAPHY, criteria, None, 5)  # fmt: skip
    except cv2.error:
        return None
    refined = np.linalg.inv(warp.astype(np.float64))
    return refined / refined[2, 2]


def translation(moving: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Phase correlation: the translation that moves the frame onto the reference."""
    window = cv2.createHanningWindow(reference.shape[::-1], cv2.CV_32F)
    (dx, dy), _ = cv2.phaseCorrelate(reference.astype(np.float32), moving.astype(np.float32), window)
    return np.array([[1, 0, -dx], [0, 1, -dy], [0, 0, 1]], dtype=np.float64)


def estimate(moving: np.ndarray, reference: np.ndarray, mode: str = "auto") -> Alignment:
    """The motion of an exposure-equalised grey frame relative to the reference's, by ``mode``; 'auto'
    tries the homography, then the translation, then none, keeping the first that passes the checks.
    Large frames are measured at most MAX_SIDE pixels wide and the result is scaled back."""
    s = min(1.0, MAX_SIDE / max(reference.shape))
    if s < 1:
        size = (round(reference.shape[1] * s), round(reference.shape[0] * s))
        moving, reference = (cv2.resize(img, size, interpolation=cv2.INTER_AREA) for img in (moving, reference))
    found = _estimate(moving, reference, mode)
    scale = np.diag([s, s, 1.0])
    found.matrix = np.linalg.inv(scale) @ found.matrix @ scale
    return found


def _estimate(moving: np.ndarray, reference: np.ndarray, mode: str) -> Alignment:
    size = reference.shape[:2]
    notes = []
    if mode in ("auto", "homography"):
        matrix, note = feature_homography(moving, reference)
        problem = sane(matrix, size) if matrix is not None else note
        if problem is None:
            refined = refine_ecc(moving, reference, matrix)
            if refined is not None and sane(refined, size) is None:
                return Alignment(refined, "homography", f"{note}, ECC-refined")
            return Alignment(matrix, "homography", f"{note}, ECC did not converge")
        notes.append(f"homography rejected: {problem}")
        if mode == "homography":
            return Alignment(np.eye(3), "none", "; ".join(notes))
    if mode in ("auto", "translation"):
        matrix = translation(moving, reference)
        problem = sane(matrix, size)
        if problem is None:
            return Alignment(matrix, "translation", "; ".join(notes))
        notes.append(f"translation rejected: {problem}")
    return Alignment(np.eye(3), "none", "; ".join(notes))


def warp(frame: np.ndarray, alignment: Alignment) -> np.ndarray:
    """The frame resampled into the reference's geometry (edges replicated where it has no pixels)."""
    if alignment.method == "none":
        return frame
    h, w = frame.shape[:2]
    return cv2.warpPerspective(frame, alignment.matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
