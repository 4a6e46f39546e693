#!/usr/bin/env python3
"""Goldens for media::resize::opencv_linear_fx (issue #31): sha256 of
`cv2.resize(img, (0, 0), fx=0.25, fy=0.25)` (INTER_LINEAR, S3FD's input scaling in run_pipeline)
on synthetic frames of several sizes; the values are pasted into tests/tests/resize_fx.rs.

    .venv/bin/python scripts/goldens/resize_fx.py
"""
import hashlib

import cv2
import numpy as np


def frame(w, h):
    y, x, c = np.meshgrid(np.arange(h, dtype=np.uint64), np.arange(w, dtype=np.uint64),
                          np.arange(3, dtype=np.uint64), indexing="ij")
    v = (x * np.uint64(2654435761)) ^ (y * np.uint64(40503)) ^ (c * np.uint64(97))
    return ((v >> np.uint64(3)) & np.uint64(255)).astype(np.uint8)


for w, h in [(1920, 1080), (1080, 1920), (1280, 720), (642, 362), (333, 250)]:
    r = cv2.resize(frame(w, h), dsize=(0, 0), fx=0.25, fy=0.25, interpolation=cv2.INTER_LINEAR)
    print(f"({w}, {h}, {r.shape[1]}, {r.shape[0]}, \"{hashlib.sha256(r.tobytes()).hexdigest()}\"),")
