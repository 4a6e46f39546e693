"""Baseline for `preprocess bench --layout wav2lip`: the reference loaders' own loop over a
Wav2Lip-layout tree, in Python, one process (as `test_lrs2.py` / `test_stu.py` read it, SPEC §1.2).

For each listed utterance, what the test loop does before the model runs (SPEC §1.2, §1.3, §6):
every `<i>.jpg` read, resized to 96x96 and cut to its lower half (`cv2.imread` + `cv2.resize` for
opencv, `torchvision.io.read_image` + `transforms.Resize([96, 96])` for torchvision), the frames
stacked, `audio.wav` read with soundfile and its whole-utterance log-mel computed with torch.stft
and a Slaney mel filterbank. The import does the same work and writes the shards besides. Written
for this project from SPEC.md; it is not the authors' code.

usage: python wav2lip_loader.py ROOT RESIZE LIST [LIST ...]   -> prints {"frames": n, "seconds": s}
"""

import json
import os
import sys
import time

import numpy as np
import soundfile as sf
import torch


def slaney_filterbank(sr=16000, n_fft=800, n_mels=80, fmin=55.0, fmax=7600.0):
    """The Slaney-scale, Slaney-normalised mel filterbank of SPEC §1.3, (n_mels, 1 + n_fft // 2)."""

    def hz_to_mel(f):
        f = np.asarray(f, dtype=np.float64)
        lin = f / (200.0 / 3)
        return np.where(f >= 1000.0, 15.0 + np.log(np.maximum(f, 1e-10) / 1000.0) / (np.log(6.4) / 27.0), lin)

    def mel_to_hz(m):
        m = np.asarray(m, dtype=np.float64)
        return np.where(m >= 15.0, 1000.0 * np.exp((np.log(6.4) / 27.0) * (m - 15.0)), m * (200.0 / 3))

    freqs = np.linspace(0, sr / 2, 1 + n_fft // 2)
    edges = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    lower = (freqs[None, :] - edges[:-2, None]) / (edges[1:-1] - edges[:-2])[:, None]
    upper = (edges[2:, None] - freqs[None, :]) / (edges[2:] - edges[1:-1])[:, None]
    weights = np.maximum(0, np.minimum(lower, upper)) * (2.0 / (edges[2:] - edges[:-2]))[:, None]
    return torch.from_numpy(weights.astype(np.float32))


def mel(wave, filterbank):
    x = torch.from_numpy(wave.astype(np.float32))
    spec = torch.stft(x, n_fft=800, hop_length=200, win_length=800, window=torch.hann_window(800), return_complex=True)
    s = 20.0 * torch.log10(torch.clamp(filterbank @ spec.abs(), min=1e-5)) - 20.0
    return torch.clamp(8.0 * (s + 100.0) / 100.0 - 4.0, -4.0, 4.0)


def main(root, kind, lists):
    torch.set_num_threads(1)
    filterbank = slaney_filterbank()
    if kind == "opencv":
        import cv2

        cv2.setNumThreads(1)

        def load(p):
            return cv2.resize(cv2.imread(p), (96, 96))[48:]

    else:
        from torchvision.io import read_image
        from torchvision.transforms import Resize

        resize = Resize([96, 96])

        def load(p):
            return resize(read_image(p))[:, 48:]

    utts = []
    for lst in lists:
        utts += [line.split()[0] for line in open(lst) if line.strip()]
    frames = 0
    start = time.perf_counter()
    for utt in utts:
        d = os.path.join(root, utt)
        if not os.path.isdir(d):
            continue
        n = len([f for f in os.listdir(d) if f.endswith(".jpg")])
        window = [load(os.path.join(d, f"{i}.jpg")) for i in range(n)]
        if kind == "opencv":
            np.concatenate(window, axis=2)
        else:
            torch.cat(window, 0)
        wave, _ = sf.read(os.path.join(d, "audio.wav"))
        mel(wave, filterbank)
        frames += n
    print(json.dumps({"frames": frames, "seconds": time.perf_counter() - start}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
