#!/usr/bin/env python3
"""Goldens for media::shots (issue #31): PySceneDetect 0.5.1's own SceneManager + StatsManager +
ContentDetector (as run_pipeline.py's scene_detect sets them up) on synthetic clips with cuts,
short shots and slow motion. Writes tests/golden/shots.json.

    pip install --no-deps --target SD scenedetect==0.5.1 click tqdm
    PYTHONPATH=SD .venv/bin/python scripts/goldens/shots.py > tests/golden/shots.json

Frames come from a formula the Rust test computes too; they are subsampled as VideoManager does
with its automatic downscale factor (`frame[::k, ::k, :]`, k from the frame width) and handed to
`detect_scenes` through a stand-in for the video file. OpenCV 4 returns a tuple from cv2.split,
which scenedetect 0.5.1 assigns into; the stand-in returns a list, nothing else changes.
"""
import hashlib
import json
import sys

import cv2
import numpy as np
import scenedetect
from scenedetect.frame_timecode import FrameTimecode
from scenedetect.scene_manager import SceneManager, get_scenes_from_cuts
from scenedetect.stats_manager import StatsManager
from scenedetect.detectors import ContentDetector
from scenedetect.video_manager import compute_downscale_factor
import scenedetect.detectors.content_detector as content_detector

_split = cv2.split
content_detector.cv2 = type("cv2", (), {"split": staticmethod(lambda m: list(_split(m))),
                                        "cvtColor": staticmethod(cv2.cvtColor),
                                        "COLOR_BGR2HSV": cv2.COLOR_BGR2HSV})


def frame(scene, f, w, h):
    """BGR frame f of a scene: smooth gradients that drift a little per frame, each scene its own
    colours (the Rust test computes the same bytes)."""
    y, x = np.meshgrid(np.arange(h, dtype=np.int64), np.arange(w, dtype=np.int64), indexing="ij")
    b = (x * 3 // 5 + 2 * f + 70 * scene) % 256
    g = (y * 2 // 3 + 41 * scene) % 256
    r = ((x + y) // 4 + f + 101 * scene) % 256
    return np.stack([b, g, r], axis=2).astype(np.uint8)


class Source:
    """What detect_scenes reads from a VideoManager: frames, downscaled, then the end."""
    def __init__(self, scenes, w, h):
        self.frames = [(s, f) for s, n in scenes for f in range(n)]
        self.w, self.h, self.k, self.i = w, h, compute_downscale_factor(w), 0

    def get(self, prop):
        return len(self.frames) if prop == cv2.CAP_PROP_FRAME_COUNT else 0

    def read(self):
        if self.i >= len(self.frames):
            return False, None
        s, f = self.frames[self.i]
        self.i += 1
        img = frame(s, f, self.w, self.h)
        return True, img[::self.k, ::self.k, :] if self.k > 1 else img

    def grab(self):
        return self.read()[0]


CLIPS = [
    {"name": "three shots, one too short to cut", "width": 640, "height": 360, "scenes": [40, 8, 50]},
    {"name": "no cut", "width": 320, "height": 240, "scenes": [30]},
    {"name": "1280 wide, a cut every 20 frames", "width": 1280, "height": 720, "scenes": [20, 20, 20, 20]},
]


def main():
    out = []
    for clip in CLIPS:
        scenes = [(i, n) for i, n in enumerate(clip["scenes"])]
        src = Source(scenes, clip["width"], clip["height"])
        stats = StatsManager()
        manager = SceneManager(stats)
        manager.add_detector(ContentDetector())
        manager.detect_scenes(frame_source=src, show_progress=False)
        base = FrameTimecode(0, fps=25.0)
        shots = manager.get_scene_list(base)
        keys = ["content_val", "delta_hue", "delta_sat", "delta_lum"]
        n = len(src.frames)
        metrics = [stats.get_metrics(i, keys) if stats.metrics_exist(i, keys) else None for i in range(n)]
        out.append({**clip, "downscale": src.k, "frames": n,
                    "cuts": [c.frame_num for c in manager.get_cut_list(base)],
                    "shots": [[a.frame_num, b.frame_num] for a, b in shots],
                    "metrics": metrics})
    # cv2.cvtColor(COLOR_BGR2HSV) of every 8-bit colour, pixel i = (b, g, r) = (i & 255, i >> 8 & 255, i >> 16).
    i = np.arange(1 << 24, dtype=np.uint32)
    every = np.stack([i & 255, (i >> 8) & 255, i >> 16], axis=1).astype(np.uint8).reshape(4096, 4096, 3)
    hsv = hashlib.sha256(cv2.cvtColor(every, cv2.COLOR_BGR2HSV).tobytes()).hexdigest()
    json.dump({"reference": f"PySceneDetect {scenedetect.__version__} ContentDetector()",
               "opencv": cv2.__version__, "hsv_every_colour_sha256": hsv, "clips": out}, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
