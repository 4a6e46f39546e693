#!/usr/bin/env python3
"""Goldens for `evaluator lse` on a full-frame video (issue #31): syncnet_python's own
run_pipeline.py and SyncNetInstance.evaluate, run from a checkout (not copied here), on the clip
tests/tests/fullframe_lse.rs builds from ../shared/grid_samples, with detections injected from a
seeded formula (the real S3FD weights are not reachable here) and the random SyncNet weights of
../shared/golden/syncnet. Writes tests/golden/fullframe.json.

    PYTHONPATH=SD .venv/bin/python scripts/goldens/fullframe.py REPO CLIP SYNCNET > tests/golden/fullframe.json

REPO: joonson/syncnet_python (6efbb1c); SD: scenedetect 0.5.1 + click + tqdm
(`pip install --no-deps --target SD scenedetect==0.5.1 click tqdm`); CLIP: the test's clip (the
test prints the ffmpeg command); SYNCNET: ../shared/golden/syncnet/syncnet_rand.model.

What is replaced, and nothing else:
- `detectors.S3FD`: a stand-in that returns the injected boxes of each frame in turn;
- the AVI conversion gets `-threads 1` (ffmpeg's mpeg4 encoder makes one slice per thread, so
  the reference's AVI depends on the core count; media::fullframe pins one thread);
- scenedetect 0.5.1 assigns into cv2.split's result, a tuple in OpenCV 4: a list is returned;
- CUDA calls are no-ops (CPU);
- `cv2.VideoWriter` also keeps the raw crops it is given, and SyncNet is run a second time on
  those crops instead of the XVID file's JPEGs (`cv2.imread` in SyncNetInstance answers with the
  raw crop), the path `evaluator lse` takes (rows_raw); rows_xvid are the reference's own.
"""
import hashlib
import json
import os
import re
import runpy
import subprocess
import sys
import tempfile
import types

import cv2
import numpy as np
import torch

REPO, CLIP, SYNCNET = sys.argv[1], sys.argv[2], sys.argv[3]
sys.path.insert(0, REPO)
OUT, sys.stdout = sys.stdout, sys.stderr  # the reference prints its progress


def detections(frames):
    """Seeded boxes: two faces side by side in the first shot (each with a few frames missed, as in
    a head turn), a short burst of a small face, then one face and a small one in the second."""
    rng = np.random.default_rng(31)
    out = [[] for _ in range(frames)]

    def walk(first, last, box, gaps=(), conf=0.97):
        b = np.array(box, dtype=np.float64)
        for f in range(first, min(last, frames)):
            b = b + rng.normal(0.0, 1.5, 4)
            if f not in gaps:
                out[f].append([round(v, 3) for v in b.tolist()] + [round(conf + 0.02 * rng.random(), 5)])

    walk(0, 150, [205, 150, 445, 420], gaps=range(40, 49))
    walk(0, 150, [925, 150, 1165, 420], gaps=range(100, 106))
    walk(60, 65, [600, 50, 650, 100])
    walk(150, 300, [560, 150, 880, 470])
    walk(160, 290, [50, 50, 110, 112])
    return out


def sha(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


work = tempfile.mkdtemp(prefix="fullframe-golden-")
n_frames = int(subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0",
                               "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", CLIP],
                              capture_output=True, text=True).stdout.strip())
dets = detections(n_frames + 10)

# --- stand-ins -------------------------------------------------------------------------------
class S3FD:
    def __init__(self, device=None):
        self.i = 0

    def detect_faces(self, image, conf_th=0.9, scales=(1,)):
        rows = dets[self.i] if self.i < len(dets) else []
        self.i += 1
        return np.array(rows, dtype=np.float64).reshape(-1, 5)


sys.modules["detectors"] = types.SimpleNamespace(S3FD=S3FD)

real_call = subprocess.call


def call(command, *a, **k):
    if "-qscale:v 2 -async 1 -r 25" in command:
        command = command.replace("-r 25 ", "-r 25 -threads 1 ")
    return real_call(command + " -loglevel error", *a, **k)


subprocess.call = call

import scenedetect.detectors.content_detector as content_detector  # noqa: E402

_split = cv2.split
content_detector.cv2 = type("cv2", (), {"split": staticmethod(lambda m: list(_split(m))),
                                        "cvtColor": staticmethod(cv2.cvtColor),
                                        "COLOR_BGR2HSV": cv2.COLOR_BGR2HSV})

raw_crops = {}
RealWriter = cv2.VideoWriter


class Writer:
    def __init__(self, path, *a):
        self.path, self.inner, self.frames = path, RealWriter(path, *a), []

    def write(self, f):
        self.frames.append(f.copy())
        self.inner.write(f)

    def release(self):
        self.inner.release()
        raw_crops[os.path.basename(self.path).replace("t.avi", ".avi")] = self.frames


cv2.VideoWriter = Writer
torch.nn.Module.cuda = lambda self, *a, **k: self
torch.Tensor.cuda = lambda self, *a, **k: self

# --- run_pipeline.py ---------------------------------------------------------------------------
sys.argv = ["run_pipeline.py", "--videofile", CLIP, "--reference", "clip", "--data_dir", work]
cwd = os.getcwd()
os.chdir(REPO)
runpy.run_path(os.path.join(REPO, "run_pipeline.py"), run_name="__main__")
cv2.VideoWriter = RealWriter

import pickle  # noqa: E402

tracks = pickle.load(open(os.path.join(work, "pywork", "clip", "tracks.pckl"), "rb"))
scenes = pickle.load(open(os.path.join(work, "pywork", "clip", "scene.pckl"), "rb"))

# --- SyncNet on each track -----------------------------------------------------------------
import SyncNetInstance as sni  # noqa: E402

net = sni.SyncNetInstance()
net.loadParameters(SYNCNET)
opt = types.SimpleNamespace(batch_size=20, vshift=15, tmp_dir=os.path.join(work, "pytmp"), reference="eval")


def evaluate(avi, raw=None):
    if raw is not None:
        stand_in = types.SimpleNamespace(**{k: getattr(cv2, k) for k in dir(cv2) if not k.startswith("__")})
        stand_in.imread = lambda f: raw[int(re.search(r"(\d+)\.jpg$", f).group(1)) - 1]
        sni.cv2 = stand_in
    try:
        offset, conf, dists = net.evaluate(opt, videofile=avi)
    finally:
        sni.cv2 = cv2
    mdist = torch.mean(torch.stack([torch.from_numpy(d) for d in dists], 1), 1)  # as evaluate's
    return {"offset": int(offset), "confidence": float(conf), "min_dist": float(torch.min(mdist)),
            "windows": int(dists.shape[0]), "mean_dists": [float(v) for v in mdist]}


rows_xvid, rows_raw, out_tracks = [], [], []
for i, t in enumerate(tracks):
    avi = os.path.join(work, "pycrop", "clip", "%05d.avi" % i)
    raw = raw_crops["%05d.avi" % i]
    rows_xvid.append(evaluate(avi))
    rows_raw.append(evaluate(avi, raw))
    out_tracks.append({
        "frames": [int(t["track"]["frame"][0]), int(t["track"]["frame"][-1])],
        "bboxes": np.asarray(t["track"]["bbox"]).tolist(),
        "crops_sha256": hashlib.sha256(b"".join(np.ascontiguousarray(f).tobytes() for f in raw)).hexdigest(),
    })
os.chdir(cwd)

commit = subprocess.run(["git", "-C", REPO, "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
json.dump({
    "reference": f"joonson/syncnet_python@{commit} run_pipeline.py + SyncNetInstance.evaluate",
    "clip_sha256": sha(CLIP),
    "clip_frames": n_frames,
    "syncnet_sha256": sha(SYNCNET),
    "detections": dets,
    "scenes": [[s[0].frame_num, s[1].frame_num] for s in scenes],
    "tracks": out_tracks,
    "rows_raw": rows_raw,
    "rows_xvid": rows_xvid,
}, OUT)
OUT.write("\n")
