"""PyTorch baseline for `make bench` (issue #16): VocaLiST, MTDVocaLiST and the UW-13D MTD loss in
plain PyTorch, written for this project from ../shared/SPEC.md (§2 architecture, §3 state-dict
names, §5 loss); it is not the authors' code. It loads the same .pth files as the Rust trainer and
is checked against ../shared/golden (model_io.safetensors, losses.json) by `parity`, so the timings
compare the same computation.

usage:
  python torch_baseline.py parity GOLDEN_DIR            -> JSON of max differences (exit 1 if over tolerance)
  python torch_baseline.py bench [--batch 16] [--threads 2] [--iters 3] [--teacher PTH] [--student PTH]
                                [--paths train|eval]    -> JSON of seconds per path, and the process's
                                                           peak RSS (MB) after each (`*_peak_rss_mb`)

`--paths train` times the teacher forward, the student step and the MTD step, in that order (the
order of `trainer bench`, so the peaks compare); `--paths eval` only the evaluation window, in a
process of its own, so that its peak is the evaluation's alone.
"""

import argparse
import json
import math
import resource
import sys
import time
import warnings

import torch
import torch.nn as nn
import torch.nn.functional as F

TEACHER_CHANNELS, TEACHER_D = [32, 64, 128, 256, 512], 512
STUDENT_CHANNELS, STUDENT_D = [16, 32, 64, 128, 200], 200


class ConvBlock(nn.Module):
    """SPEC §2.2: conv (with bias) → BatchNorm → (+x) → ReLU; state-dict `conv_block.{0,1}`."""

    def __init__(self, dims, cin, cout, k, s, p, residual=False):
        super().__init__()
        conv, bn = (nn.Conv2d, nn.BatchNorm2d) if dims == 2 else (nn.Conv3d, nn.BatchNorm3d)
        self.conv_block = nn.Sequential(conv(cin, cout, k, s, p), bn(cout))
        self.residual = residual

    def forward(self, x):
        y = self.conv_block(x)
        return F.relu(y + x if self.residual else y)


def vid_prenet(c):
    """SPEC §2.3 table."""
    c0, c1, c2, c3, c4 = c
    rows = [(3, c0, 7, 1, 3, 0), (c0, c1, 5, (1, 2, 1), (1, 1, 2), 0), (c1, c1, 3, 1, 1, 1), (c1, c1, 3, 1, 1, 1),
            (c1, c2, 3, (2, 2, 1), 1, 0), (c2, c2, 3, 1, 1, 1), (c2, c2, 3, 1, 1, 1), (c2, c2, 3, 1, 1, 1),
            (c2, c3, 3, (2, 2, 1), 1, 0), (c3, c3, 3, 1, 1, 1), (c3, c3, 3, 1, 1, 1),
            (c3, c4, 3, (2, 2, 1), 1, 0), (c4, c4, 3, 1, 1, 1), (c4, c4, 3, 1, 1, 1),
            (c4, c4, 3, (2, 2, 1), 1, 0), (c4, c4, 3, 1, (0, 0, 1), 0), (c4, c4, 1, 1, 0, 0)]
    return nn.Sequential(*[ConvBlock(3, a, b, k, s, p, bool(r)) for a, b, k, s, p, r in rows])


def aud_prenet(c):
    """SPEC §2.4 table."""
    c0, c1, c2, c3, c4 = c
    rows = [(1, c0, 3, 1, 1, 0), (c0, c0, 3, 1, 1, 1), (c0, c0, 3, 1, 1, 1),
            (c0, c1, 3, (3, 1), 1, 0), (c1, c1, 3, 1, 1, 1), (c1, c1, 3, 1, 1, 1),
            (c1, c2, 3, (3, 1), 1, 0), (c2, c2, 3, 1, 1, 1), (c2, c2, 3, 1, 1, 1),
            (c2, c3, 3, (3, 1), 1, 0), (c3, c3, 3, 1, 1, 1), (c3, c3, 3, 1, 1, 1),
            (c3, c4, 3, 1, (0, 1), 0), (c4, c4, 1, 1, 0, 0)]
    return nn.Sequential(*[ConvBlock(2, a, b, k, s, p, bool(r)) for a, b, k, s, p, r in rows])


def positions_embedding(x):
    """SPEC §2.5 positional embedding: id t+1 where x[t, b, 0] != 0, else 0 (a zero row);
    [sin | cos] concatenated, ω_k = exp(−k·ln(10000)/(h−1))."""
    length, _, d = x.shape
    h = d // 2
    omega = torch.exp(torch.arange(h, dtype=torch.float32) * -(math.log(10000.0) / (h - 1)))
    ids = (x[:, :, 0] != 0).long() * torch.arange(1, length + 1).unsqueeze(1)
    angle = ids.float().unsqueeze(-1) * omega
    table = torch.cat([torch.sin(angle), torch.cos(angle)], dim=-1)
    return torch.where((ids > 0).unsqueeze(-1), table, torch.zeros_like(table)).detach()


class MultiheadAttention(nn.Module):
    """SPEC §2.5: packed in_proj, q scaled by hd^-0.5, heads flattened as b·H + h."""

    def __init__(self, d, heads=8):
        super().__init__()
        self.d, self.heads, self.hd = d, heads, d // heads
        self.in_proj_weight = nn.Parameter(torch.empty(3 * d, d))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * d))
        self.out_proj = nn.Linear(d, d)
        nn.init.xavier_uniform_(self.in_proj_weight)

    def forward(self, q_in, k_in, v_in, mask, taps):
        lq, b, d = q_in.shape
        lk = k_in.shape[0]
        w, bias = self.in_proj_weight, self.in_proj_bias
        q = F.linear(q_in, w[:d], bias[:d]) * self.hd ** -0.5
        k = F.linear(k_in, w[d:2 * d], bias[d:2 * d])
        v = F.linear(v_in, w[2 * d:], bias[2 * d:])
        split = lambda t, n: t.contiguous().view(n, b * self.heads, self.hd).transpose(0, 1)
        q, k, v = split(q, lq), split(k, lk), split(v, lk)
        logits = torch.bmm(q, k.transpose(1, 2)) + mask
        probs = torch.softmax(logits.float(), dim=-1)
        if taps is not None:
            taps.append((logits, v))
        out = torch.bmm(probs, v).transpose(0, 1).contiguous().view(lq, b, d)
        return self.out_proj(out)


class EncoderLayer(nn.Module):
    """SPEC §2.5 pre-LN layer."""

    def __init__(self, d):
        super().__init__()
        self.self_attn = MultiheadAttention(d)
        self.fc1, self.fc2 = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)
        self.layer_norms = nn.ModuleList([nn.LayerNorm(d), nn.LayerNorm(d)])

    def forward(self, x, x_k, x_v, mask, taps):
        ln0 = self.layer_norms[0]
        a = self.self_attn(ln0(x), ln0(x_k), ln0(x_v), mask, taps)
        x = x + F.dropout(a, 0.1, self.training)
        h = self.fc2(F.dropout(F.relu(self.fc1(self.layer_norms[1](x))), 0.1, self.training))
        return x + F.dropout(h, 0.1, self.training)


class TransformerEncoder(nn.Module):
    """SPEC §2.5 encoder: scaled input + positions, embed dropout 0.25, 4 layers, final LayerNorm."""

    def __init__(self, d, layers=4):
        super().__init__()
        self.d = d
        self.register_buffer("version", torch.tensor([2.0]))
        self.embed_positions = nn.Module()
        self.embed_positions.register_buffer("_float_tensor", torch.FloatTensor(1))
        self.layers = nn.ModuleList([EncoderLayer(d) for _ in range(layers)])
        self.layer_norm = nn.LayerNorm(d)

    def forward(self, x_in, x_kv, taps=None):
        scale = math.sqrt(self.d)
        embed = lambda t: F.dropout(scale * t + positions_embedding(t), 0.25, self.training)
        x, x_k, x_v = embed(x_in), embed(x_kv), embed(x_kv)
        lq, lk = x_in.shape[0], x_kv.shape[0]
        i = torch.arange(lq).unsqueeze(1)
        j = torch.arange(lk).unsqueeze(0)
        mask = torch.where(j >= i + 1 + abs(lk - lq), float("-inf"), 0.0)
        for layer in self.layers:
            x = layer(x, x_k, x_v, mask, taps)
        return self.layer_norm(x)


class SyncTransformer(nn.Module):
    """SPEC §2.6: prenets, A→V, V→A, fusion, max-pool, fc, tanh, classifier → one logit."""

    def __init__(self, channels, d):
        super().__init__()
        self.vid_prenet, self.aud_prenet = vid_prenet(channels), aud_prenet(channels)
        self.av_transformer, self.va_transformer = TransformerEncoder(d), TransformerEncoder(d)
        self.mem_transformer = TransformerEncoder(d)
        self.fc, self.classifier = nn.Linear(d, d), nn.Linear(d, 1)

    def forward(self, frames, mel, taps=None):
        """frames (B, 15, 48, 96): channel 3t+c is frame t; mel (B, 1, 80, 16). taps: a dict that
        receives, per block, the list of (logits, v) of each layer (SPEC §2.8)."""
        b, _, h, w = frames.shape
        vid = self.vid_prenet(frames.view(b, 5, 3, h, w).permute(0, 2, 3, 4, 1))
        vid = vid.squeeze(2).squeeze(2).permute(2, 0, 1)
        aud = self.aud_prenet(mel).squeeze(2).permute(2, 0, 1)
        t = {k: [] for k in ("av", "va", "fus")} if taps is not None else None
        av = self.av_transformer(aud, vid, t and t["av"])
        va = self.va_transformer(vid, aud, t and t["va"])
        fus = self.mem_transformer(av, va, t and t["fus"])
        if taps is not None:
            taps.update(t)
            taps["vid_prenet"], taps["aud_prenet"] = vid.permute(1, 2, 0), aud.permute(1, 2, 0)
        out = fus.max(dim=0).values
        return self.classifier(torch.tanh(self.fc(out))).squeeze(-1)


def load(path, channels, d):
    model = SyncTransformer(channels, d)
    sd = torch.load(path, map_location="cpu", weights_only=False)["state_dict"]
    model.load_state_dict(sd, strict=True)
    return model


def cad_vr(taps):
    """SPEC §5.1: per (block, layer), the CAD softmax (V→A logits clamped at 1e-5) and the VR softmax."""
    out = {}
    for block in ("fus", "av", "va"):
        for layer, (logits, v) in enumerate(taps[block]):
            if block == "va":
                logits = logits.clamp(min=1e-5)
            hd = v.shape[-1]
            out[(block, layer)] = (torch.softmax(logits, -1), torch.softmax(torch.bmm(v * hd ** -0.5, v.transpose(1, 2)), -1))
    return out


def kl_mean(teacher, student):
    """SPEC §5.2: KLDivLoss(reduction="mean")(student.log(), teacher), KL(teacher ‖ student)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's note that "mean" is not "batchmean": "mean" is the spec
        return F.kl_div(student.log(), teacher, reduction="mean")


def mtd_uw13(params, bce, teacher_taps, student_taps):
    """SPEC §5.3, eq. 4: 0.5/w0²·BCE + ln(1+w0²) + Σ 0.5/w_k²·(CAD+VR) + ln(1+w_k²), k = 4·block + layer + 1."""
    t, s = cad_vr(teacher_taps), cad_vr(student_taps)
    total = 0.5 / params[0] ** 2 * bce + torch.log(1 + params[0] ** 2)
    terms = {}
    for i, block in enumerate(("fus", "av", "va")):
        for layer in range(4):
            (tc, tv), (sc, sv) = t[(block, layer)], s[(block, layer)]
            cad, vr = kl_mean(tc, sc), kl_mean(tv, sv)
            terms[f"cad.{block}.{layer}"], terms[f"vr.{block}.{layer}"] = cad, vr
            w = params[4 * i + layer + 1]
            total = total + 0.5 / w ** 2 * (cad + vr) + torch.log(1 + w ** 2)
    return total, terms


def parity(golden):
    from safetensors.torch import load_file

    io = load_file(f"{golden}/model_io.safetensors")
    losses = json.load(open(f"{golden}/losses.json"))
    cfg = losses["config"]
    teacher = load(f"{golden}/tiny_teacher_rand.pth", cfg["teacher_layers"], cfg["teacher_d"]).eval()
    student = load(f"{golden}/mtdvocalist_rand.pth", cfg["student_layers"], cfg["student_d"]).eval()
    frames, mel, labels = io["input.frames"], io["input.mel"], io["input.labels"]
    report = {}
    with torch.no_grad():
        taps = {}
        for name, model in (("teacher", teacher), ("student", student)):
            t = {}
            logits = model(frames, mel, t)
            taps[name] = t
            report[f"{name}.logits"] = float((logits - io[f"{name}.logits"]).abs().max())
            report[f"{name}.vid_prenet"] = float((t["vid_prenet"] - io[f"{name}.vid_prenet"]).abs().max())
            for block in ("av", "va", "fus"):
                for layer, (lg, _) in enumerate(t[block]):
                    want = io[f"{name}.{block}.{layer}.attn_logits"]
                    finite = torch.isfinite(want)
                    report.setdefault(f"{name}.attn_logits", 0.0)
                    report[f"{name}.attn_logits"] = max(report[f"{name}.attn_logits"], float((lg[finite] - want[finite]).abs().max()))
        bce = F.binary_cross_entropy_with_logits(student(frames, mel), labels)
        total, terms = mtd_uw13(torch.ones(13), bce, taps["teacher"], taps["student"])
    report["bce_rel"] = abs(float(bce) - losses["bce"]) / losses["bce"]
    report["uw13_rel"] = abs(float(total) - losses["uw13_total_init_ones"]) / losses["uw13_total_init_ones"]
    report["terms_rel"] = max(abs(float(terms[k]) - v) / v for k, v in losses["terms"].items())
    report["param_counts"] = [sum(p.numel() for p in m.parameters()) for m in (teacher, student)]
    ok = (max(report[k] for k in report if k.endswith(("logits", "prenet"))) <= 1e-4
          and max(report["bce_rel"], report["uw13_rel"], report["terms_rel"]) <= 1e-5
          and report["param_counts"] == [losses["param_counts"]["teacher"], losses["param_counts"]["student"]])
    report["ok"] = ok
    print(json.dumps(report))
    return 0 if ok else 1


def timed(fn, iters):
    """Mean seconds per call over `iters` calls after one warm-up, as `trainer bench` reports."""
    fn()
    start = time.perf_counter()
    for _ in range(iters):
        fn()
    return (time.perf_counter() - start) / iters


def bench(args):
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    teacher = None
    if args.paths == "train":  # the evaluation's peak is the student's alone
        teacher = (load(args.teacher, TEACHER_CHANNELS, TEACHER_D) if args.teacher else SyncTransformer(TEACHER_CHANNELS, TEACHER_D)).eval()
    student = load(args.student, STUDENT_CHANNELS, STUDENT_D) if args.student else SyncTransformer(STUDENT_CHANNELS, STUDENT_D)
    b = args.batch
    frames, mel = torch.rand(b, 15, 48, 96), torch.rand(b, 1, 80, 16) * 8 - 4
    labels = torch.randint(0, 2, (b,)).float()
    params = nn.Parameter(torch.ones(13))
    opt = torch.optim.Adam([{"params": student.parameters()}, {"params": [params]}], lr=1e-4)

    def teacher_forward():
        with torch.no_grad():
            teacher(frames, mel)

    def student_step():
        student.train()
        opt.zero_grad(set_to_none=True)
        F.binary_cross_entropy_with_logits(student(frames, mel), labels).backward()
        opt.step()

    def mtd_step():
        student.train()
        opt.zero_grad(set_to_none=True)
        t = {}
        with torch.no_grad():
            teacher(frames, mel, t)
        s = {}
        bce = F.binary_cross_entropy_with_logits(student(frames, mel, s), labels)
        total, _ = mtd_uw13(params, bce, t, s)
        total.backward()
        opt.step()

    eval_frames, eval_mel = torch.rand(31, 15, 48, 96) * 255, torch.rand(31, 1, 80, 16) * 8 - 4

    def eval_window():
        # test_stu.py's cost per 5-frame window: the student on (video ×31, the 31 audio windows).
        student.eval()
        with torch.no_grad():
            student(eval_frames, eval_mel)

    out = {"batch": b, "threads": args.threads, "torch": torch.__version__, "paths": args.paths}
    paths = {"train": [("teacher_forward", teacher_forward), ("student_step", student_step), ("mtd_step", mtd_step)],
             "eval": [("eval_window", eval_window)]}[args.paths]
    for name, fn in paths:
        out[f"{name}_s"] = timed(fn, args.iters)
        out[f"{name}_peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6  # KB on Linux
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    if sys.argv[1] == "parity":
        sys.exit(parity(sys.argv[2]))
    p = argparse.ArgumentParser()
    p.add_argument("mode")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--iters", type=int, default=3)
    p.add_argument("--teacher")
    p.add_argument("--student")
    p.add_argument("--paths", choices=["train", "eval"], default="train")
    sys.exit(bench(p.parse_args()))
