#!/usr/bin/env python3
"""Goldens for media::tracks (issue #31): run_pipeline.py's own `track_shot` and `crop_video`,
executed from a checkout of joonson/syncnet_python (not copied here), on seeded synthetic
detections and synthetic frames. Writes tests/golden/face_tracks.json.

    .venv/bin/python scripts/goldens/face_tracks.py /path/to/syncnet_python > tests/golden/face_tracks.json

Needs numpy, scipy and opencv-python. The functions are taken from run_pipeline.py with `ast`
(the module itself parses arguments and runs the pipeline on import); file and process calls of
`crop_video` are replaced by stand-ins that hand it our frames and record what it writes, so the
arithmetic that runs is the reference's, line for line.
"""
import ast
import copy
import hashlib
import json
import os
import subprocess as real_subprocess
import sys
import types

import cv2 as real_cv2
import numpy as np
from scipy import signal
from scipy.interpolate import interp1d

W, H = 640, 360


def frame(f):
    """The synthetic BGR frame f (the Rust test computes the same bytes)."""
    y, x, c = np.meshgrid(np.arange(H, dtype=np.uint64), np.arange(W, dtype=np.uint64),
                          np.arange(3, dtype=np.uint64), indexing="ij")
    v = (x * np.uint64(2654435761)) ^ (y * np.uint64(40503)) ^ (c * np.uint64(97)) ^ np.uint64(f * 131)
    return ((v >> np.uint64(3)) & np.uint64(255)).astype(np.uint8)


def reference_functions(repo):
    src = open(os.path.join(repo, "run_pipeline.py")).read()
    tree = ast.parse(src)
    wanted = {"bb_intersection_over_union", "track_shot", "crop_video"}
    defs = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name in wanted]
    assert {d.name for d in defs} == wanted, "run_pipeline.py changed"
    commit = real_subprocess.run(["git", "-C", repo, "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    return ast.Module(body=defs, type_ignores=[]), commit


class Writer:
    """cv2.VideoWriter stand-in: keeps the sha256 of every frame written, in order."""
    def __init__(self, *a, **k):
        self.hashes = []
        WRITERS.append(self)

    def write(self, img):
        assert img.shape == (224, 224, 3) and img.dtype == np.uint8
        self.hashes.append(hashlib.sha256(np.ascontiguousarray(img).tobytes()).hexdigest())

    def release(self):
        pass


WRITERS = []


def namespace():
    cv2 = types.SimpleNamespace(
        imread=lambda name: frame(int(os.path.basename(name)[:-4]) - 1),
        VideoWriter=Writer, VideoWriter_fourcc=real_cv2.VideoWriter_fourcc, resize=real_cv2.resize)
    osns = types.SimpleNamespace(path=os.path, remove=lambda p: None)
    return {
        "np": np, "cv2": cv2, "signal": signal, "interp1d": interp1d, "os": osns,
        "glob": types.SimpleNamespace(glob=lambda pattern: [f"F/{i + 1:06d}.jpg" for i in range(N_FRAMES)]),
        "subprocess": types.SimpleNamespace(call=lambda *a, **k: 0),
        "wavfile": types.SimpleNamespace(read=lambda p: (16000, np.zeros(16, np.int16))),
        "pdb": None,
        "print": lambda *a, **k: None,  # its progress lines would mix with the JSON on stdout
    }


N_FRAMES = 420


def detections(rng):
    """One list of faces per frame, in shuffled order: two people side by side (one turns away
    for 9 frames, one has a duplicate overlapping box now and then), a burst of 35 frames, a small
    face, a face that leaves for 40 frames (two chains), all with jitter."""
    faces = [[] for _ in range(N_FRAMES)]

    def add(f, x, y, side, conf=0.99):
        j = rng.normal(0, 1.5, 4)
        box = [x + j[0], y + j[1], x + side + j[2], y + side * 1.2 + j[3]]
        faces[f].append({"frame": f, "bbox": [float(v) for v in box], "conf": conf})

    for f in range(0, 150):
        if not 60 <= f < 69:
            add(f, 80 + 0.3 * f, 60, 140)
        add(f, 380 - 0.2 * f, 70, 130)
        if f % 17 == 0:
            add(f, 382 - 0.2 * f, 71, 128, 0.95)
    for f in range(150, 185):
        add(f, 200, 90, 150)          # a burst of 35 frames
    for f in range(200, 330):
        add(f, 420, 40, 60)           # a small face
    for f in range(200, 420):
        if not 300 <= f < 340:
            add(f, 100 + 0.1 * f, 80, 160)
    for i, f in enumerate(faces):
        order = rng.permutation(len(f))
        faces[i] = [f[k] for k in order]
    return faces


def main():
    repo = sys.argv[1]
    module, commit = reference_functions(repo)
    ns = namespace()
    exec(compile(module, "run_pipeline.py", "exec"), ns)
    rng = np.random.default_rng(31)
    faces = detections(rng)
    shots = [[0, 150], [150, 200], [200, 210], [210, 420]]
    opt = types.SimpleNamespace(min_track=40, num_failed_det=25, min_face_size=100, crop_scale=0.4,
                                frame_rate=25, frames_dir="F", reference="R", tmp_dir="T", avi_dir="A")
    out_tracks = []
    for start, end in shots:
        if end - start >= opt.min_track:
            for t in ns["track_shot"](opt, copy.deepcopy(faces[start:end])):
                # The reference's tracks hold frames relative to the video (its faces carry them).
                WRITERS.clear()
                r = ns["crop_video"](opt, t, "C")
                out_tracks.append({
                    "frames": [int(v) for v in t["frame"]],
                    "bboxes": [[float(v) for v in b] for b in t["bbox"]],
                    "s": [float(v) for v in r["proc_track"]["s"]],
                    "x": [float(v) for v in r["proc_track"]["x"]],
                    "y": [float(v) for v in r["proc_track"]["y"]],
                    "crops_sha256": WRITERS[0].hashes,
                })
    json.dump({
        "reference": f"joonson/syncnet_python {commit} run_pipeline.py (track_shot, crop_video)",
        "params": {"min_track": opt.min_track, "num_failed_det": opt.num_failed_det,
                   "min_face_size": opt.min_face_size, "crop_scale": opt.crop_scale},
        "frame": {"width": W, "height": H, "formula": "((x*2654435761) ^ (y*40503) ^ (c*97) ^ (f*131)) >> 3 & 255, u64"},
        "shots": shots,
        "faces": [[[d["bbox"][0], d["bbox"][1], d["bbox"][2], d["bbox"][3], d["conf"]] for d in f] for f in faces],
        "tracks": out_tracks,
    }, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
