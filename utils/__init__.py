"""Metrics, losses, I/O, checkpoints, logging and the training/evaluation loops."""

import os

# OpenCV 4.x reads OpenEXR only when this is set before cv2 is first imported.
os.environ.setdefault("OPENCV_IO_ENABLE_OPENEXR", "1")
