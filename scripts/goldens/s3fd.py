#!/usr/bin/env python3
"""Goldens for nets::s3fd (issue #31): syncnet_python's own S3FD (detectors/s3fd, imported from a
checkout, not copied here) with the stand-in weights of bench/s3fd_weights.py, on two synthetic
RGB images. Records the network's raw outputs (the box regressions, the softmaxed scores and the
prior boxes that its Detect step receives), Detect's output, and what `S3FD.detect_faces` returns
at a lowered confidence threshold. Writes tests/golden/s3fd.json.

    .venv/bin/python scripts/goldens/s3fd.py /path/to/syncnet_python > tests/golden/s3fd.json

numpy >= 1.24 has no `np.int`, which box_utils.nms_ uses; it is set to `int` for the run.
"""
import json
import warnings
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "bench"))
import s3fd_weights  # noqa: E402

np.int = int
# box_utils.nms resizes index_select outputs in place; torch warns on every call.
warnings.filterwarnings("ignore", category=UserWarning)


def image(h, w):
    """Synthetic RGB image (the Rust test computes the same bytes): smooth colours and a bright
    blob, so the scores are not all alike."""
    y, x = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    r = (x * 255 // max(w - 1, 1))
    g = (y * 255 // max(h - 1, 1))
    blob = ((x - w // 3) ** 2 + (y - h // 2) ** 2) < (min(h, w) // 4) ** 2
    b = np.where(blob, 230, (x + y) % 97)
    return np.stack([r, g, b], axis=2).astype(np.uint8)


def r7(v):
    return float(f"{float(v):.7g}")


def main():
    repo = sys.argv[1]
    sys.path.insert(0, repo)
    from detectors.s3fd import S3FD
    from detectors.s3fd.nets import S3FDNet
    commit = subprocess.run(["git", "-C", repo, "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    torch.set_num_threads(1)
    sd = s3fd_weights.state_dict()
    det = S3FD.__new__(S3FD)
    det.device = "cpu"
    det.net = S3FDNet(device="cpu")
    det.net.load_state_dict(sd, strict=True)
    det.net.eval()
    captured = {}
    forward = det.net.detect.forward

    def capture(loc, conf, priors):
        captured.update(loc=loc[0].numpy().copy(), conf=conf[0].numpy().copy(), priors=priors.numpy().copy())
        out = forward(loc, conf, priors)
        captured["out"] = out[0, 1].numpy().copy()
        return out

    det.net.detect.forward = capture
    cases = []
    for h, w in [(64, 80), (120, 160)]:
        img = image(h, w)
        boxes = det.detect_faces(img, conf_th=0.5, scales=[1])
        out = captured["out"]
        kept = out[out[:, 0] > 0]
        cases.append({
            "height": h, "width": w,
            "loc": [[r7(v) for v in row] for row in captured["loc"]],
            "conf": [[r7(v) for v in row] for row in captured["conf"]],
            "priors": [[r7(v) for v in row] for row in captured["priors"]],
            "detect": [[r7(v) for v in row] for row in kept],
            "faces": [[r7(v) for v in row] for row in boxes],
        })
    json.dump({"reference": f"joonson/syncnet_python {commit} detectors/s3fd",
               "weights": "bench/s3fd_weights.py", "conf_th": 0.5, "cases": cases}, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
