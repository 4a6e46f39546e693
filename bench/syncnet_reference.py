"""The LSE-C / LSE-D reference pipeline in plain PyTorch: our baseline for `evaluator lse`.

Written by us from ../shared/golden/syncnet/README.md (the steps of syncnet_python's
`SyncNetInstance.evaluate` and Wav2Lip's scores_LSE): frames written by ffmpeg as JPEG files and
read back with cv2.imread, the WAV that ffmpeg extracts read with scipy, MFCCs from
python_speech_features, SyncNet's two encoders in batches of 20 windows, calc_pdist with ±15
zero-padded shifts. `check` proves it is the same computation as the golden outputs; `bench`
times it per video, model loaded once, as calculate_scores_LRS.py runs it.

    python bench/syncnet_reference.py check GOLDEN_DIR
    python bench/syncnet_reference.py bench --weights W --threads 2 VIDEO...
"""

import argparse
import glob
import json
import math
import os
import subprocess
import sys
import tempfile
import time

import cv2
import numpy as np
import python_speech_features
import torch
import torch.nn as nn
from scipy.io import wavfile

VSHIFT = 15
BATCH = 20


def conv_stack(convs, pools, conv, bn, pool_layer):
    """An nn.Sequential laid out as the public state dict expects: conv, BN, ReLU[, pool]."""
    layers = []
    for i, args in enumerate(convs):
        layers += [conv(*args), bn(args[1]), nn.ReLU()]
        if i in pools:
            layers.append(pool_layer(*pools[i]))
    return nn.Sequential(*layers)


def head(width):
    return nn.Sequential(nn.Linear(512, 512), nn.BatchNorm1d(512), nn.ReLU(), nn.Linear(512, width))


class SyncNet(nn.Module):
    def __init__(self, width=1024):
        super().__init__()
        self.netcnnaud = conv_stack(
            [(1, 64, 3, 1, 1), (64, 192, 3, 1, 1), (192, 384, 3, 1, 1), (384, 256, 3, 1, 1),
             (256, 256, 3, 1, 1), (256, 512, (5, 4), 1, 0)],
            {0: ((1, 1), (1, 1)), 1: ((3, 3), (1, 2)), 4: ((3, 3), (2, 2))},
            nn.Conv2d, nn.BatchNorm2d, nn.MaxPool2d)
        self.netfcaud = head(width)
        self.netcnnlip = conv_stack(
            [(3, 96, (5, 7, 7), (1, 2, 2), 0), (96, 256, (1, 5, 5), (1, 2, 2), (0, 1, 1)),
             (256, 256, (1, 3, 3), 1, (0, 1, 1)), (256, 256, (1, 3, 3), 1, (0, 1, 1)),
             (256, 256, (1, 3, 3), 1, (0, 1, 1)), (256, 512, (1, 6, 6), 1, 0)],
            {0: ((1, 3, 3), (1, 2, 2)), 1: ((1, 3, 3), (1, 2, 2), (0, 1, 1)), 4: ((1, 3, 3), (1, 2, 2))},
            nn.Conv3d, nn.BatchNorm3d, nn.MaxPool3d)
        self.netfclip = head(width)

    def aud(self, x):
        return self.netfcaud(self.netcnnaud(x).flatten(1))

    def lip(self, x):
        return self.netfclip(self.netcnnlip(x).flatten(1))


def load(weights):
    model = SyncNet()
    state = torch.load(weights, map_location="cpu", weights_only=True)
    model.load_state_dict(state, strict=True)
    return model.eval()


def evaluate(model, video, tmp):
    for f in glob.glob(os.path.join(tmp, "*")):
        os.remove(f)
    quiet = dict(check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    subprocess.run(["ffmpeg", "-y", "-i", video, "-threads", "1", "-f", "image2",
                    os.path.join(tmp, "%06d.jpg")], **quiet)
    subprocess.run(["ffmpeg", "-y", "-i", video, "-async", "1", "-ac", "1", "-vn", "-acodec",
                    "pcm_s16le", "-ar", "16000", os.path.join(tmp, "audio.wav")], **quiet)
    images = [cv2.imread(f) for f in sorted(glob.glob(os.path.join(tmp, "*.jpg")))]
    frames = torch.from_numpy(np.stack(images, 0).transpose(3, 0, 1, 2)[None].astype(float)).float()
    rate, audio = wavfile.read(os.path.join(tmp, "audio.wav"))
    mfcc = python_speech_features.mfcc(audio, rate).T
    cc = torch.from_numpy(mfcc[None, None].astype(float)).float()
    n = min(len(images), math.floor(len(audio) / 640)) - 5
    lip, aud = [], []
    with torch.no_grad():
        for i in range(0, n, BATCH):
            idx = range(i, min(n, i + BATCH))
            lip.append(model.lip(torch.cat([frames[:, :, v:v + 5] for v in idx], 0)))
            aud.append(model.aud(torch.cat([cc[:, :, :, 4 * v:4 * v + 20] for v in idx], 0)))
    lip, aud = torch.cat(lip, 0), torch.cat(aud, 0)
    padded = torch.nn.functional.pad(aud, (0, 0, VSHIFT, VSHIFT))
    win = 2 * VSHIFT + 1
    dists = torch.stack([torch.nn.functional.pairwise_distance(lip[[i]].repeat(win, 1), padded[i:i + win])
                         for i in range(n)], 1)
    mean = dists.mean(1)
    minval, minidx = torch.min(mean, 0)
    return dict(offset=int(VSHIFT - minidx), min_dist=float(minval),
                confidence=float(torch.median(mean) - minval), windows=n)


def check(golden):
    expected = json.load(open(os.path.join(golden, "syncnet_expected.json")))
    model = load(os.path.join(golden, expected["weights"]))
    bad = 0
    with tempfile.TemporaryDirectory() as tmp:
        for name, want in expected["videos"].items():
            got = evaluate(model, os.path.join(golden, name + ".mp4"), tmp)
            ok = (got["offset"] == want["offset"] and got["windows"] == want["num_windows"]
                  and abs(got["min_dist"] - want["min_dist"]) <= 1e-4
                  and abs(got["confidence"] - want["confidence"]) <= 1e-4)
            bad += not ok
            print(f"{name}: {got} {'ok' if ok else 'MISMATCH ' + json.dumps(want)}")
    sys.exit(1 if bad else 0)


def bench(args):
    torch.set_num_threads(args.threads)
    model = load(args.weights)
    times = []
    with tempfile.TemporaryDirectory() as tmp:
        evaluate(model, args.videos[0], tmp)  # warm-up
        for v in args.videos:
            t = time.perf_counter()
            evaluate(model, v, tmp)
            times.append(time.perf_counter() - t)
    print(json.dumps(dict(videos=len(times), s_per_video=sum(times) / len(times), threads=args.threads,
                          torch=torch.__version__)))


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("check")
    c.add_argument("golden")
    b = sub.add_parser("bench")
    b.add_argument("--weights", required=True)
    b.add_argument("--threads", type=int, default=2)
    b.add_argument("videos", nargs="+")
    a = p.parse_args()
    check(a.golden) if a.cmd == "check" else bench(a)
