#!/usr/bin/env python3
"""Deterministic stand-in weights for S3FD in the file formats users have (issue #31): the real
`sfd_face.pth` is not reachable here, so the tests write these instead. Every tensor of the
state dict run_pipeline.py / Wav2Lip load (`vgg.N`, `L2Norm*_3`, `extras.N`, `loc.N`, `conf.N`;
shapes from the S3FD architecture) is filled from a formula of its name and index, scaled so
activations stay in range through the 20 convolutions.

    python bench/s3fd_weights.py OUT.pth [--legacy]

--legacy writes the pre-1.6 torch.save format (sequential pickles), else the zip format.
"""
import math
import sys
import zlib

import torch

VGG = [(0, 3, 64, 3), (2, 64, 64, 3), (5, 64, 128, 3), (7, 128, 128, 3), (10, 128, 256, 3),
       (12, 256, 256, 3), (14, 256, 256, 3), (17, 256, 512, 3), (19, 512, 512, 3), (21, 512, 512, 3),
       (24, 512, 512, 3), (26, 512, 512, 3), (28, 512, 512, 3), (31, 512, 1024, 3), (33, 1024, 1024, 1)]
EXTRAS = [(0, 1024, 256, 1), (1, 256, 512, 3), (2, 512, 128, 1), (3, 128, 256, 3)]
HEAD_IN = [256, 512, 512, 1024, 512, 256]
L2NORM = [("L2Norm3_3", 256, 10.0), ("L2Norm4_3", 512, 8.0), ("L2Norm5_3", 512, 5.0)]


def fill(name, shape, scale):
    t = zlib.crc32(name.encode()) % 997
    n = math.prod(shape)
    i = torch.arange(n, dtype=torch.float64)
    return (scale * torch.sin(1.7 * i + 0.37 * t + 1.0)).to(torch.float32).reshape(shape)


def conv(sd, name, cin, cout, k):
    sd[f"{name}.weight"] = fill(f"{name}.weight", (cout, cin, k, k), 2.0 / math.sqrt(cin * k * k))
    sd[f"{name}.bias"] = fill(f"{name}.bias", (cout,), 0.01)


def state_dict():
    sd = {}
    for i, cin, cout, k in VGG:
        conv(sd, f"vgg.{i}", cin, cout, k)
    for name, c, gamma in L2NORM:
        sd[f"{name}.weight"] = torch.full((c,), gamma)
    for i, cin, cout, k in EXTRAS:
        conv(sd, f"extras.{i}", cin, cout, k)
    for i, cin in enumerate(HEAD_IN):
        conv(sd, f"loc.{i}", cin, 4, 3)
    for i, cin in enumerate(HEAD_IN):
        conv(sd, f"conf.{i}", cin, 4 if i == 0 else 2, 3)
    return sd


if __name__ == "__main__":
    out, legacy = sys.argv[1], "--legacy" in sys.argv[2:]
    torch.save(state_dict(), out, _use_new_zipfile_serialization=not legacy)
