#!/usr/bin/python3
"""Guardian's training worker: the convolutional autoencoder (CAE) anomaly model, PyTorch -> ONNX.

Started by `guardian train cae` and by the owner's server's training queue as a child process. It speaks JSON lines:
one request on stdin, then on stdout zero or more {"type": "epoch", ...} progress lines and exactly one final
{"type": "done", ...} or {"type": "error", "message": ...}. Logs go to stderr. SIGTERM stops it (the caller cancels);
nothing is written to `out` unless training finished.

The frames come already decoded by Guardian's media core (so training sees exactly the pixels live scoring sees): a
raw file of `count` frames, each `size`x`size`x3 uint8 RGB (NHWC). `held_out` lists the frame indices kept for
validation (early stopping) and for the threshold, grouped in `held_out_runs` (consecutive frames of one clip, so the
causal smoothing matches live scoring).

The exported graph takes `input` [N, 3, size, size] float32 in [0, 1] (RGB) and returns `reconstruction` (same shape)
and `cell_errors` [N, size/cell, size/cell]: the squared reconstruction error averaged over channels and over each
cell x cell block. A frame's raw score is its largest cell error (a small unusual thing is not diluted by a large
normal background); the score is the mean of the raw scores of the last `smooth_frames` frames; the threshold is the
`threshold_percentile` of the held-out normal frames' scores.
"""
import hashlib
import json
import math
import os
import signal
import sys
import time

REQUIRED = ("frames", "count", "size", "out")


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def fail(message):
    emit({"type": "error", "message": message})
    sys.exit(2)


def main():
    line = sys.stdin.readline()
    try:
        req = json.loads(line)
    except ValueError as e:
        fail(f"the request is not JSON: {e}")
    missing = [k for k in REQUIRED if k not in req]
    if missing:
        fail(f"the request lacks {', '.join(missing)}")
    try:
        import numpy as np
        import torch
        from torch import nn
    except ImportError as e:
        fail(f"PyTorch is not installed for /usr/bin/python3 ({e}); install python3-torch (npm run setup does)")

    size = int(req["size"])
    cell = int(req.get("cell", 16))
    count = int(req["count"])
    epochs = int(req.get("epochs", 30))
    batch = int(req.get("batch", 16))
    patience = int(req.get("patience", 3))
    latent = int(req.get("latent", 128))
    smooth = int(req.get("smooth_frames", 5))
    pct = float(req.get("threshold_percentile", 99))
    held = sorted(set(int(i) for i in req.get("held_out", [])))
    runs = req.get("held_out_runs") or [held]
    torch.manual_seed(int(req.get("seed", 1)))
    np.random.seed(int(req.get("seed", 1)))
    torch.set_num_threads(int(req.get("threads") or os.cpu_count() or 1))
    if size % 16 or size % cell:
        fail(f"input size {size} must be a multiple of 16 and of the cell size {cell}")

    frame_bytes = size * size * 3
    total = os.path.getsize(req["frames"])
    if total != count * frame_bytes:
        fail(f"the frames file holds {total} bytes, not {count} frames of {size}x{size}x3")
    frames = np.memmap(req["frames"], dtype=np.uint8, mode="r", shape=(count, size, size, 3))
    held_set = set(held) | set(int(i) for i in req.get("exclude", []))
    train_idx = np.array([i for i in range(count) if i not in held_set], dtype=np.int64)
    held_idx = np.array(held, dtype=np.int64)
    if len(train_idx) < 1 or len(held_idx) < 1:
        fail("training needs frames to learn from and held-out frames to validate on")

    digest = hashlib.sha256()
    with open(req["frames"], "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)

    def batch_tensor(idx):
        x = torch.from_numpy(np.ascontiguousarray(frames[idx])).permute(0, 3, 1, 2).float().div_(255.0)
        return x

    class CAE(nn.Module):
        # 4 strided 3x3 convolutions (size -> size/16) and a dense latent, mirrored by 4 transposed convolutions.
        # Narrow on purpose: Debian's PyTorch has no MKL, and this trains Ped2 (2,550 frames) in about a minute an
        # epoch on 2 cores.
        def __init__(self):
            super().__init__()
            s = size // 16
            self.s = s
            self.encoder = nn.Sequential(
                nn.Conv2d(3, 12, 3, 2, 1), nn.ReLU(inplace=True),
                nn.Conv2d(12, 24, 3, 2, 1), nn.ReLU(inplace=True),
                nn.Conv2d(24, 48, 3, 2, 1), nn.ReLU(inplace=True),
                nn.Conv2d(48, 32, 3, 2, 1), nn.ReLU(inplace=True),
                nn.Flatten(), nn.Linear(32 * s * s, latent),
            )
            self.expand = nn.Linear(latent, 32 * s * s)
            self.decoder = nn.Sequential(
                nn.ReLU(inplace=True),
                nn.ConvTranspose2d(32, 48, 3, 2, 1, 1), nn.ReLU(inplace=True),
                nn.ConvTranspose2d(48, 24, 3, 2, 1, 1), nn.ReLU(inplace=True),
                nn.ConvTranspose2d(24, 12, 3, 2, 1, 1), nn.ReLU(inplace=True),
                nn.ConvTranspose2d(12, 3, 3, 2, 1, 1), nn.Sigmoid(),
            )

        def forward(self, x):
            z = self.encoder(x)
            h = self.expand(z).view(-1, 32, self.s, self.s)
            return self.decoder(h)

    class Scored(nn.Module):
        # What is exported: the reconstruction and the per-cell error map the edge scores with.
        def __init__(self, cae):
            super().__init__()
            self.cae = cae
            self.pool = nn.AvgPool2d(cell)

        def forward(self, x):
            r = self.cae(x)
            e = ((x - r) ** 2).mean(dim=1, keepdim=True)
            return r, self.pool(e).squeeze(1)

    model = CAE()
    opt = torch.optim.Adam(model.parameters(), lr=float(req.get("lr", 1e-3)))
    loss_fn = nn.MSELoss()

    def held_loss():
        model.eval()
        total, n = 0.0, 0
        with torch.no_grad():
            for i in range(0, len(held_idx), 64):
                x = batch_tensor(held_idx[i:i + 64])
                total += float(loss_fn(model(x), x)) * len(x)
                n += len(x)
        return total / max(1, n)

    stopping = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stopping.update(now=True))
    best, best_state, best_epoch, since = math.inf, None, 0, 0
    history = []
    t_start = time.time()
    for epoch in range(1, epochs + 1):
        t0 = time.time()
        model.train()
        perm = train_idx[np.random.permutation(len(train_idx))]
        total, n = 0.0, 0
        for i in range(0, len(perm), batch):
            if stopping["now"]:
                fail("cancelled")
            x = batch_tensor(np.sort(perm[i:i + batch]))
            opt.zero_grad()
            loss = loss_fn(model(x), x)
            loss.backward()
            opt.step()
            total += float(loss) * len(x)
            n += len(x)
        val = held_loss()
        seconds = time.time() - t0
        history.append({"epoch": epoch, "loss": total / n, "valLoss": val, "seconds": round(seconds, 2)})
        emit({"type": "epoch", "epoch": epoch, "epochs": epochs, "loss": total / n, "valLoss": val,
              "seconds": round(seconds, 2)})
        if val < best - 1e-6:
            best, best_epoch, since = val, epoch, 0
            best_state = {k: v.clone() for k, v in model.state_dict().items()}
        else:
            since += 1
            if since >= patience:
                break
    model.load_state_dict(best_state)
    model.eval()
    scored = Scored(model).eval()

    # The threshold: held-out normal frames scored exactly as the edge scores them (max cell, causal mean).
    scores = []
    with torch.no_grad():
        for run in runs:
            past = []
            for i in range(0, len(run), 64):
                _, cells = scored(batch_tensor(np.array(run[i:i + 64], dtype=np.int64)))
                for raw in cells.flatten(1).max(dim=1).values.tolist():
                    past.append(raw)
                    if len(past) > smooth:
                        past.pop(0)
                    scores.append(sum(past) / len(past))
    scores.sort()
    threshold = scores[min(len(scores) - 1, max(0, math.ceil(pct / 100 * len(scores)) - 1))]

    out = req["out"]
    os.makedirs(out, mode=0o700, exist_ok=True)
    onnx_path = os.path.join(out, "model.onnx")
    torch.onnx.export(
        scored, torch.zeros(1, 3, size, size), onnx_path, opset_version=13,
        input_names=["input"], output_names=["reconstruction", "cell_errors"],
        dynamic_axes={"input": {0: "n"}, "reconstruction": {0: "n"}, "cell_errors": {0: "n"}},
    )
    meta = {
        "guardian.kind": "cae",
        "guardian.input": json.dumps({"size": size, "channels": "rgb", "mean": [0, 0, 0], "std": [255, 255, 255]}),
        "guardian.cell": str(cell),
        "guardian.threshold": repr(threshold),
        "guardian.training_set_sha256": digest.hexdigest(),
        "guardian.metrics": json.dumps({"valLoss": best, "epochs": len(history), "bestEpoch": best_epoch,
                                        "trainFrames": int(len(train_idx)), "heldOutFrames": int(len(held_idx))}),
    }
    try:
        import onnx
        m = onnx.load(onnx_path)
        for k, v in meta.items():
            p = m.metadata_props.add()
            p.key, p.value = k, v
        onnx.save(m, onnx_path)
    except ImportError:
        print("onnx is not installed: the model carries its metadata in model.json only", file=sys.stderr)
    os.chmod(onnx_path, 0o600)
    emit({
        "type": "done", "threshold": threshold, "trainingSetSha256": digest.hexdigest(),
        "epochs": len(history), "bestEpoch": best_epoch, "history": history,
        "trainFrames": int(len(train_idx)), "heldOutFrames": int(len(held_idx)),
        "valLoss": best, "seconds": round(time.time() - t_start, 2),
        "parameters": int(sum(p.numel() for p in model.parameters())),
    })


if __name__ == "__main__":
    main()
