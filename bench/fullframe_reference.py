"""The full-frame LSE pipeline in plain PyTorch / numpy / OpenCV: our baseline for
`evaluator lse` on full frames (issue #31). Written by us from the issue's description of
syncnet_python's run_pipeline.py (and README "Your own videos"), not copied from it:

1. ffmpeg: the video to a `-qscale:v 2 -async 1 -r 25` AVI, its `-qscale:v 2` JPEG frames, its
   16 kHz WAV;
2. S3FD on every JPEG (cv2.imread, RGB, cv2.resize by 0.25, mean subtracted, channels as the
   network expects), prior boxes, decoding, torch NMS, threshold 0.9, numpy NMS;
3. shots: the mean absolute HSV change of downscaled frames from the AVI (ContentDetector's rule,
   threshold 30, 15 frames between cuts);
4. tracks per shot (IoU > 0.5, up to 25 missed frames, > 100 detections, mean side > 100 px),
   interpolation, medfilt 13, crops (scale 0.4, pad 110) resized to 224, an XVID AVI per track
   with its audio;
5. SyncNet on each track's AVI (bench/syncnet_reference.py's evaluate).

`check` proves the detector is the same computation as tests/golden/s3fd.json (the reference's
own network on the stand-in weights); `bench` times one video, stage by stage, with the model
loaded once, and prints JSON.

    python bench/fullframe_reference.py check tests/golden/s3fd.json S3FD_WEIGHTS
    python bench/fullframe_reference.py bench --s3fd W --syncnet W --threads 2 VIDEO
"""

import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile
import time

import cv2
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from scipy import signal
from scipy.interpolate import interp1d

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import syncnet_reference  # noqa: E402

# (index in `vgg`, in, out, kernel, padding, dilation); a ReLU follows each, pools after 1, 3, 6, 9, 12.
VGG = [(0, 3, 64, 3, 1, 1), (2, 64, 64, 3, 1, 1), (5, 64, 128, 3, 1, 1), (7, 128, 128, 3, 1, 1),
       (10, 128, 256, 3, 1, 1), (12, 256, 256, 3, 1, 1), (14, 256, 256, 3, 1, 1), (17, 256, 512, 3, 1, 1),
       (19, 512, 512, 3, 1, 1), (21, 512, 512, 3, 1, 1), (24, 512, 512, 3, 1, 1), (26, 512, 512, 3, 1, 1),
       (28, 512, 512, 3, 1, 1), (31, 512, 1024, 3, 6, 6), (33, 1024, 1024, 1, 0, 1)]
POOL_AFTER = {1: False, 3: False, 6: True, 9: False, 12: False}  # value: ceil_mode
EXTRAS = [(1024, 256, 1, 1, 0), (256, 512, 3, 2, 1), (512, 128, 1, 1, 0), (128, 256, 3, 2, 1)]
HEAD_IN = [256, 512, 512, 1024, 512, 256]
MIN_SIZES, STEPS = [16, 32, 64, 128, 256, 512], [4, 8, 16, 32, 64, 128]
BGR_MEAN = np.array([104, 117, 123], dtype=np.float32)


class S3FD(nn.Module):
    def __init__(self):
        super().__init__()
        self.vgg = nn.ModuleDict({str(i): nn.Conv2d(a, b, k, padding=p, dilation=d) for i, a, b, k, p, d in VGG})
        self.norms = nn.ParameterList([nn.Parameter(torch.ones(c)) for c in (256, 512, 512)])
        self.extras = nn.ModuleList([nn.Conv2d(a, b, k, stride=s, padding=p) for a, b, k, s, p in EXTRAS])
        self.loc = nn.ModuleList([nn.Conv2d(c, 4, 3, padding=1) for c in HEAD_IN])
        self.conf = nn.ModuleList([nn.Conv2d(c, 4 if i == 0 else 2, 3, padding=1) for i, c in enumerate(HEAD_IN)])

    def load(self, path):
        sd = torch.load(path, map_location="cpu", weights_only=True)
        for i, *_ in VGG:
            self.vgg[str(i)].weight.data.copy_(sd[f"vgg.{i}.weight"])
            self.vgg[str(i)].bias.data.copy_(sd[f"vgg.{i}.bias"])
        for p, name in zip(self.norms, ("L2Norm3_3", "L2Norm4_3", "L2Norm5_3")):
            p.data.copy_(sd[f"{name}.weight"])
        for k, e in enumerate(self.extras):
            e.weight.data.copy_(sd[f"extras.{k}.weight"])
            e.bias.data.copy_(sd[f"extras.{k}.bias"])
        for heads, name in ((self.loc, "loc"), (self.conf, "conf")):
            for k, h in enumerate(heads):
                h.weight.data.copy_(sd[f"{name}.{k}.weight"])
                h.bias.data.copy_(sd[f"{name}.{k}.bias"])
        return self

    def forward(self, x):
        sources = []
        for n, (i, *_) in enumerate(VGG):
            x = F.relu(self.vgg[str(i)](x))
            if n in (6, 9, 12):
                w = self.norms[(6, 9, 12).index(n)]
                sources.append(x / (x.pow(2).sum(1, keepdim=True).sqrt() + 1e-10) * w[None, :, None, None])
            if n == 14:
                sources.append(x)
            if n in POOL_AFTER:
                x = F.max_pool2d(x, 2, 2, ceil_mode=POOL_AFTER[n])
        for k, e in enumerate(self.extras):
            x = F.relu(e(x))
            if k % 2 == 1:
                sources.append(x)
        locs, confs, maps = [], [], []
        for i, s in enumerate(sources):
            l, c = self.loc[i](s), self.conf[i](s)
            if i == 0:  # max-out background
                c = torch.cat([c[:, :3].max(1, keepdim=True)[0], c[:, 3:4]], 1)
            maps.append(l.shape[2:])
            locs.append(l.permute(0, 2, 3, 1).reshape(-1, 4))
            confs.append(c.permute(0, 2, 3, 1).reshape(-1, 2))
        return torch.cat(locs), F.softmax(torch.cat(confs), 1), maps


def priors(h, w, maps):
    out = []
    for k, (fh, fw) in enumerate(maps):
        fkw, fkh = w / STEPS[k], h / STEPS[k]
        for i in range(fh):
            for j in range(fw):
                out.append([(j + 0.5) / fkw, (i + 0.5) / fkh, MIN_SIZES[k] / w, MIN_SIZES[k] / h])
    return torch.tensor(out, dtype=torch.float32)


def nms_torch(boxes, scores, overlap=0.3, top_k=5000):
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    idx = scores.sort(0)[1][-top_k:]
    keep = []
    while idx.numel() > 0:
        i = idx[-1]
        keep.append(int(i))
        idx = idx[:-1]
        if idx.numel() == 0:
            break
        b, c = boxes[i], boxes[idx]
        w = (torch.minimum(c[:, 2], b[2]) - torch.maximum(c[:, 0], b[0])).clamp(min=0)
        h = (torch.minimum(c[:, 3], b[3]) - torch.maximum(c[:, 1], b[1])).clamp(min=0)
        inter = w * h
        idx = idx[inter / ((area[idx] - inter) + area[i]) <= overlap]
    return keep


def nms_numpy(rows, thresh):
    if len(rows) == 0:
        return rows
    x1, y1, x2, y2, s = rows.T
    areas = (x2 - x1) * (y2 - y1)
    order, keep = s.argsort()[::-1], []
    while order.size > 0:
        i = order[0]
        keep.append(i)
        xx1, yy1 = np.maximum(x1[i], x1[order[1:]]), np.maximum(y1[i], y1[order[1:]])
        xx2, yy2 = np.minimum(x2[i], x2[order[1:]]), np.minimum(y2[i], y2[order[1:]])
        inter = np.maximum(0.0, xx2 - xx1) * np.maximum(0.0, yy2 - yy1)
        order = order[1:][inter / (areas[i] + areas[order[1:]] - inter) <= thresh]
    return rows[keep]


def raw_outputs(net, rgb):
    """The network's (loc, conf, priors) for an RGB image at scale 1."""
    x = torch.from_numpy((rgb.astype(np.float32) - BGR_MEAN[::-1]).transpose(2, 0, 1).copy())[None]  # R−123, G−117, B−104
    with torch.no_grad():
        loc, conf, maps = net(x)
    return loc, conf, priors(rgb.shape[0], rgb.shape[1], maps)


def detect(loc, conf, pri, w, h, conf_th):
    c = pri[:, :2] + loc[:, :2] * 0.1 * pri[:, 2:]
    s = pri[:, 2:] * torch.exp(loc[:, 2:] * 0.2)
    boxes = torch.cat([c - s / 2, c + s / 2], 1)
    mask = conf[:, 1] > 0.05
    boxes, scores = boxes[mask], conf[mask, 1]
    keep = nms_torch(boxes, scores)[:750]
    scale = torch.tensor([w, h, w, h], dtype=torch.float32)
    rows = []
    for i in keep:  # best first: the scores are compared in float32 and the walk stops at the first below
        if not scores[i] > torch.tensor(conf_th, dtype=torch.float32):
            break
        rows.append(list((boxes[i] * scale).double().numpy()) + [float(scores[i])])
    return nms_numpy(np.array(rows, dtype=np.float64).reshape(-1, 5), 0.1)


def detect_faces(net, rgb, conf_th=0.9, scale=0.25):
    small = cv2.resize(rgb, dsize=(0, 0), fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
    loc, conf, pri = raw_outputs(net, small)
    return detect(loc, conf, pri, rgb.shape[1], rgb.shape[0], conf_th)


def check(golden, weights):
    g = json.load(open(golden))
    net = S3FD().load(weights).eval()
    worst = 0.0
    for case in g["cases"]:
        h, w = case["height"], case["width"]
        y, x = np.mgrid[0:h, 0:w]
        blob = (x - w // 3) ** 2 + (y - h // 2) ** 2 < (min(h, w) // 4) ** 2
        rgb = np.stack([x * 255 // max(w - 1, 1), y * 255 // max(h - 1, 1), np.where(blob, 230, (x + y) % 97)], 2).astype(np.uint8)
        loc, conf, pri = raw_outputs(net, rgb)
        for ours, key in ((loc, "loc"), (conf, "conf"), (pri, "priors")):
            worst = max(worst, float((ours - torch.tensor(case[key])).abs().max()))
        faces = detect(loc, conf, pri, w, h, g["conf_th"])
        want = np.array(case["faces"]).reshape(-1, 5)
        assert faces.shape == want.shape, (faces.shape, want.shape)
        worst = max(worst, float(np.abs(faces - want).max()) if len(want) else 0.0)
    print(f"S3FD: max |Δ| {worst:.2e} against {golden}")
    assert worst < 1e-3


def shots(avi):
    cap, last, cuts, n, last_cut = cv2.VideoCapture(avi), None, [], 0, None
    while True:
        ok, f = cap.read()
        if not ok:
            break
        k = next((d for wmin, d in ((3200, 12), (2100, 8), (1700, 6), (1200, 5), (900, 4), (600, 3), (400, 2)) if f.shape[1] >= wmin), 1)
        hsv = cv2.cvtColor(f[::k, ::k], cv2.COLOR_BGR2HSV).astype(np.int32)
        if last is not None and np.abs(hsv - last).reshape(-1, 3).mean(0).mean() >= 30 and (last_cut is None or n - last_cut >= 15):
            cuts.append(n)
            last_cut = n
        last, n = hsv, n + 1
    bounds = [0] + cuts + [n]
    return [(a, b) for a, b in zip(bounds, bounds[1:])]


def iou(a, b):
    xa, ya, xb, yb = max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])
    inter = max(0, xb - xa) * max(0, yb - ya)
    return inter / float((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def track_shot(faces, min_track=100, failed=25, min_size=100):
    tracks = []
    while True:
        track = []
        for frame_faces in faces:
            for face in list(frame_faces):
                if not track:
                    track.append(face)
                    frame_faces.remove(face)
                elif face["frame"] - track[-1]["frame"] <= failed:
                    if iou(face["bbox"], track[-1]["bbox"]) > 0.5:
                        track.append(face)
                        frame_faces.remove(face)
                else:
                    break
        if not track:
            return tracks
        if len(track) > min_track:
            fn = np.array([f["frame"] for f in track])
            bb = np.array([f["bbox"] for f in track])
            frames = np.arange(fn[0], fn[-1] + 1)
            boxes = np.stack([interp1d(fn, bb[:, k])(frames) for k in range(4)], 1)
            if max(np.mean(boxes[:, 2] - boxes[:, 0]), np.mean(boxes[:, 3] - boxes[:, 1])) > min_size:
                tracks.append({"frame": frames, "bbox": boxes})


def crop_track(jpgs, track, out, wav, tmp):
    s = signal.medfilt(np.maximum(track["bbox"][:, 3] - track["bbox"][:, 1], track["bbox"][:, 2] - track["bbox"][:, 0]) / 2, 13)
    y = signal.medfilt((track["bbox"][:, 1] + track["bbox"][:, 3]) / 2, 13)
    x = signal.medfilt((track["bbox"][:, 0] + track["bbox"][:, 2]) / 2, 13)
    writer = cv2.VideoWriter(out + "t.avi", cv2.VideoWriter_fourcc(*"XVID"), 25, (224, 224))
    for i, f in enumerate(track["frame"]):
        bsi = int(s[i] * 1.8)
        img = np.pad(cv2.imread(jpgs[f]), ((bsi, bsi), (bsi, bsi), (0, 0)), "constant", constant_values=(110, 110))
        my, mx = y[i] + bsi, x[i] + bsi
        face = img[int(my - s[i]):int(my + s[i] * 1.8), int(mx - s[i] * 1.4):int(mx + s[i] * 1.4)]
        writer.write(cv2.resize(face, (224, 224)))
    writer.release()
    a = os.path.join(tmp, "span.wav")
    ff(["-i", wav, "-ss", "%.3f" % (track["frame"][0] / 25), "-to", "%.3f" % ((track["frame"][-1] + 1) / 25), a])
    ff(["-i", out + "t.avi", "-i", a, "-c:v", "copy", "-c:a", "copy", out + ".avi"])


def ff(args):
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y"] + args, check=True)


def bench(args):
    torch.set_num_threads(args.threads)
    det = S3FD().load(args.s3fd).eval()
    sync = syncnet_reference.load(args.syncnet)
    t = {}
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.time()
        avi, wav = os.path.join(tmp, "video.avi"), os.path.join(tmp, "audio.wav")
        ff(["-i", args.video, "-qscale:v", "2", "-async", "1", "-r", "25", "-threads", "1", avi])
        os.makedirs(os.path.join(tmp, "frames"))
        ff(["-i", avi, "-qscale:v", "2", "-threads", "1", "-f", "image2", os.path.join(tmp, "frames", "%06d.jpg")])
        ff(["-i", avi, "-ac", "1", "-vn", "-acodec", "pcm_s16le", "-ar", "16000", wav])
        jpgs = sorted(glob.glob(os.path.join(tmp, "frames", "*.jpg")))
        t["convert_s"] = time.time() - t0
        t0, net_s, faces = time.time(), 0.0, []
        for i, j in enumerate(jpgs):
            rgb = cv2.cvtColor(cv2.imread(j), cv2.COLOR_BGR2RGB)
            n0 = time.time()
            small = cv2.resize(rgb, dsize=(0, 0), fx=0.25, fy=0.25, interpolation=cv2.INTER_LINEAR)
            loc, conf, pri = raw_outputs(det, small)
            net_s += time.time() - n0
            rows = detect(loc, conf, pri, rgb.shape[1], rgb.shape[0], args.conf_th)
            faces.append([{"frame": i, "bbox": r[:4].tolist(), "conf": r[4]} for r in rows])
        t["detect_s"], t["detector_network_s"] = time.time() - t0, net_s
        t0 = time.time()
        scenes = shots(avi)
        t["shots_s"] = time.time() - t0
        t0, tracks = time.time(), []
        for a, b in scenes:
            if b - a >= 100:
                tracks += track_shot(faces[a:b])
        for k, tr in enumerate(tracks):
            crop_track(jpgs, tr, os.path.join(tmp, "%05d" % k), wav, tmp)
        t["tracks_and_crops_s"] = time.time() - t0
        t0, rows, stmp = time.time(), [], os.path.join(tmp, "syncnet")
        os.makedirs(stmp)
        for k in range(len(tracks)):
            rows.append(syncnet_reference.evaluate(sync, os.path.join(tmp, "%05d.avi" % k), stmp))
        t["syncnet_s"] = time.time() - t0
    t["face_track_stage_s"] = t["convert_s"] + t["detect_s"] + t["shots_s"] + t["tracks_and_crops_s"]
    t.update(frames=len(jpgs), tracks=len(tracks), threads=args.threads, torch=torch.__version__)
    print(json.dumps(t))


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("check")
    c.add_argument("golden")
    c.add_argument("weights")
    b = sub.add_parser("bench")
    b.add_argument("video")
    b.add_argument("--s3fd", required=True)
    b.add_argument("--syncnet", required=True)
    b.add_argument("--threads", type=int, default=2)
    b.add_argument("--conf-th", type=float, default=0.9)
    a = p.parse_args()
    check(a.golden, a.weights) if a.cmd == "check" else bench(a)


if __name__ == "__main__":
    main()
