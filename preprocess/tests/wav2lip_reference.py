"""The reference side of `preprocess import --layout wav2lip` (issue #15), run by wav2lip_import.rs.

build RAW_DIR MANIFEST_TSV ROOT
    Writes a small corpus in the layout Wav2Lip's preprocess.py leaves behind, from the GRID clips:
    ROOT/<programme>/<utt>/<i>.jpg written by cv2.imwrite (JPEG quality 95) from face boxes of
    several sizes (smaller than, equal to, twice and not a multiple of 96; square and not), plus a
    16 kHz int16 audio.wav, and ROOT/filelists/test.txt naming them.

reference ROOT LIST OUT
    For every listed utterance, what the reference loaders make of those files (SPEC §1.2-1.3):
      OUT/<programme>__<utt>.opencv       cv2.imread + cv2.resize(img, (96, 96)), rows 48..95, as RGB
      OUT/<programme>__<utt>.torchvision  torchvision.io.read_image + transforms.Resize([96, 96]), rows 48..95
      OUT/<programme>__<utt>.pcm          soundfile.read(audio.wav) as float32 (little endian)
      OUT/<programme>__<utt>.mel          the whole-utterance mel of the torch pipeline, (80, 1+len//200) float32
    Frames are HWC uint8, frame after frame (the shard's `frames` layout).

shard ROOT LIST REFDIR KIND OUT
    Writes those reference crops (KIND: opencv or torchvision), soundfile's PCM and the torch mel
    as one shard OUT, following shards/SCHEMA.md column by column and written by pyarrow with its
    default settings (`pq.write_table`), as a user writing shards from Python would.
"""

import csv
import os
import subprocess
import sys

import cv2
import numpy as np
import soundfile as sf
import torch
import torchvision
from torchvision.io import read_image
from torchvision.transforms import Resize

# Face boxes (w, h) per utterance, as multiples of the GRID face box or absolute sizes: 96 is
# cv2.resize's copy path, 192 its 2x INTER_AREA path, 60 an upscale, the rest general.
SIZES = [(122, 122), (192, 192), (96, 96), (60, 60), (145, 170), (211, 211), (250, 230)]


def build(raw_dir, manifest, root):
    rows = list(csv.DictReader(open(manifest), delimiter="\t"))
    names = []
    for k, row in enumerate(rows):
        w, h = SIZES[k % len(SIZES)]
        cx = int(row["face_x"]) + int(row["face_w"]) // 2
        cy = int(row["face_y"]) + int(row["face_w"]) // 2
        utt = f"{row['lrs2_id']}/00001"
        out = os.path.join(root, utt)
        os.makedirs(out, exist_ok=True)
        src = os.path.join(raw_dir, row["grid_file"] + ".mpg")
        wav = os.path.join(out, "audio.wav")
        subprocess.run(
            ["ffmpeg", "-v", "error", "-y", "-i", src, "-vn", "-ac", "1", "-ar", "16000", "-c:a", "pcm_s16le", wav],
            check=True,
        )
        whole_frames = len(sf.read(wav, dtype="int16")[0]) // 640
        cap = cv2.VideoCapture(src)
        i = 0
        while i < whole_frames:
            ok, frame = cap.read()
            if not ok:
                break
            fh, fw = frame.shape[:2]
            x1, y1 = max(0, cx - w // 2), max(0, cy - h // 2)
            crop = frame[y1 : min(fh, y1 + h), x1 : min(fw, x1 + w)]
            cv2.imwrite(os.path.join(out, f"{i}.jpg"), crop, [cv2.IMWRITE_JPEG_QUALITY, 95])
            i += 1
        names.append(utt)
    names.append(sizes_utterance(raw_dir, rows[0], root))
    os.makedirs(os.path.join(root, "filelists"), exist_ok=True)
    with open(os.path.join(root, "filelists", "test.txt"), "w") as f:
        f.write("".join(f"{n} NF\n" for n in names))


def sizes_utterance(raw_dir, row, root):
    """One more utterance whose 40 frames all differ in size (24 to 420 px, square and not), so
    that every filter length of both resizes (1 to 11 taps) and both of OpenCV's shortcuts are
    met: the GRID face scaled with INTER_CUBIC to each size."""
    utt = "sizes/00001"
    out = os.path.join(root, utt)
    os.makedirs(out, exist_ok=True)
    src = os.path.join(raw_dir, row["grid_file"] + ".mpg")
    x, y, w = int(row["face_x"]), int(row["face_y"]), int(row["face_w"])
    cap = cv2.VideoCapture(src)
    sizes = [(24 + 10 * i, 420 - 9 * i) for i in range(38)] + [(96, 96), (192, 192)]
    for i, (sw, sh) in enumerate(sizes):
        ok, frame = cap.read()
        assert ok
        face = frame[max(0, y - w // 4) : y + w + w // 4, max(0, x - w // 4) : x + w + w // 4]
        img = cv2.resize(face, (sw, sh), interpolation=cv2.INTER_CUBIC)
        cv2.imwrite(os.path.join(out, f"{i}.jpg"), img, [cv2.IMWRITE_JPEG_QUALITY, 95])
    wav = os.path.join(out, "audio.wav")
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-i", src, "-vn", "-ac", "1", "-ar", "16000", "-c:a", "pcm_s16le", wav],
        check=True,
    )
    return utt


def mel(wave, filterbank):
    """SPEC §1.3, the whole-utterance path of test_lrs2.py."""
    x = torch.from_numpy(wave.astype(np.float32))
    spec = torch.stft(x, n_fft=800, hop_length=200, win_length=800, window=torch.hann_window(800), return_complex=True)
    m = torch.matmul(filterbank, spec.abs())
    s = 20.0 * torch.log10(torch.clamp(m, min=1e-5)) - 20.0
    return torch.clamp(8.0 * (s + 100.0) / 100.0 - 4.0, -4.0, 4.0).numpy()


def reference(root, list_file, out, filterbank_file):
    from safetensors.numpy import load_file

    filterbank = torch.from_numpy(load_file(filterbank_file)["mel_filterbank"])
    os.makedirs(out, exist_ok=True)
    resize = Resize([96, 96])
    for line in open(list_file):
        utt = line.split()[0]
        d = os.path.join(root, utt)
        n = len([f for f in os.listdir(d) if f.endswith(".jpg")])
        cv_frames, tv_frames = [], []
        for i in range(n):
            p = os.path.join(d, f"{i}.jpg")
            img = cv2.resize(cv2.imread(p), (96, 96))
            cv_frames.append(np.ascontiguousarray(img[48:, :, ::-1]))
            t = resize(read_image(p))
            tv_frames.append(t[:, 48:].permute(1, 2, 0).contiguous().numpy())
        stem = os.path.join(out, utt.replace("/", "__"))
        np.stack(cv_frames).tofile(stem + ".opencv")
        np.stack(tv_frames).tofile(stem + ".torchvision")
        wave, sr = sf.read(os.path.join(d, "audio.wav"))
        assert sr == 16000, sr
        wave.astype("<f4").tofile(stem + ".pcm")
        mel(wave, filterbank).astype("<f4").tofile(stem + ".mel")
    print(f"cv2 {cv2.__version__}, torchvision {torchvision.__version__}, torch {torch.__version__}")


def shard(root, list_file, refdir, kind, out):
    import pyarrow as pa
    import pyarrow.parquet as pq

    cols = {k: [] for k in ["utt_id", "split", "source_path", "source_sha256", "transcript", "fps", "num_frames",
                            "crop_height", "crop_width", "frames", "face_boxes", "face_found", "sample_rate", "pcm",
                            "mel_bins", "mel_frames", "mel"]}
    for line in open(list_file):
        utt = line.split()[0]
        stem = os.path.join(refdir, utt.replace("/", "__"))
        frames = open(stem + "." + kind, "rb").read()
        n = len(frames) // (48 * 96 * 3)
        pcm, sr = sf.read(os.path.join(root, utt, "audio.wav"), dtype="int16")
        mel = np.fromfile(stem + ".mel", "<f4")
        row = dict(utt_id=utt, split="test", source_path=utt, source_sha256="0" * 64, transcript="", fps=25,
                   num_frames=n, crop_height=48, crop_width=96, frames=frames, face_boxes=[[0.0] * 5] * n,
                   face_found=[True] * n, sample_rate=sr, pcm=pcm.tolist(), mel_bins=80,
                   mel_frames=len(mel) // 80, mel=mel.tolist())
        for k, v in row.items():
            cols[k].append(v)
    u32, f32 = pa.uint32(), pa.float32()
    types = dict(utt_id=pa.string(), split=pa.string(), source_path=pa.string(), source_sha256=pa.string(),
                 transcript=pa.string(), fps=u32, num_frames=u32, crop_height=u32, crop_width=u32,
                 frames=pa.large_binary(), face_boxes=pa.list_(pa.list_(f32, 5)), face_found=pa.list_(pa.bool_()),
                 sample_rate=u32, pcm=pa.list_(pa.int16()), mel_bins=u32, mel_frames=u32, mel=pa.list_(f32))
    table = pa.table({k: pa.array(v, type=types[k]) for k, v in cols.items()})
    table = table.replace_schema_metadata({"lipsync.schema_version": "1", "lipsync.params": '{"writer": "pyarrow"}'})
    pq.write_table(table, out)


if __name__ == "__main__":
    torch.set_num_threads(1)
    if sys.argv[1] == "build":
        build(*sys.argv[2:5])
    elif sys.argv[1] == "reference":
        reference(*sys.argv[2:6])
    else:
        shard(*sys.argv[2:7])
