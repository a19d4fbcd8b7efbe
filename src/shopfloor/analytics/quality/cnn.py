"""The small CNN behind ``DefectClassifier(backend="cnn")`` (torch; imported only when used).

Five 3x3 conv + batch-norm + ReLU blocks (widths w, 2w, 4w, 8w, 8w, max-pooling between them),
global average pooling and one linear layer. Trained from scratch with AdamW and a one-cycle
learning rate, label smoothing, and augmentation by horizontal/vertical flips and per-image
brightness/contrast jitter. Images are scaled to ``size`` x ``size`` (area-preserving).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

log = logging.getLogger(__name__)


def _net(width: int, classes: int):
    from torch import nn

    def block(i: int, o: int) -> nn.Sequential:
        return nn.Sequential(
            nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU(inplace=True)
        )

    w = width
    return nn.Sequential(
        block(1, w),
        nn.MaxPool2d(2),
        block(w, 2 * w),
        nn.MaxPool2d(2),
        block(2 * w, 4 * w),
        nn.MaxPool2d(2),
        block(4 * w, 8 * w),
        nn.MaxPool2d(2),
        block(8 * w, 8 * w),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(8 * w, classes),
    )


def _tensor(images: Sequence[np.ndarray], size: int):
    import torch
    import torch.nn.functional as F

    out = []
    for img in images:
        x = torch.from_numpy(np.ascontiguousarray(img, dtype=np.float32) / 255.0)[None, None]
        if x.shape[-2:] != (size, size):
            x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
        out.append((x - 0.5) / 0.25)
    return torch.cat(out)


def train(
    images,
    y: np.ndarray,
    classes: int,
    size: int = 100,
    epochs: int = 30,
    width: int = 16,
    seed: int = 0,
    threads: int | None = None,
    batch: int = 32,
    lr: float = 3e-3,
):
    """Train the network on grey-scale ``uint8`` images; returns it in eval mode."""
    import torch
    import torch.nn.functional as F

    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    X = _tensor(images, size)
    t = torch.as_tensor(y, dtype=torch.long)
    net = _net(width, classes)
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-3)
    per_epoch = int(np.ceil(len(t) / batch))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, lr, total_steps=max(epochs * per_epoch, 1))
    net.train()
    for epoch in range(epochs):
        order = rng.permutation(len(t))
        total = 0.0
        for i in range(0, len(order), batch):
            b = torch.as_tensor(order[i : i + batch])
            xb = X[b]
            if rng.random() < 0.5:
                xb = xb.flip(3)
            if rng.random() < 0.5:
                xb = xb.flip(2)
            gain = 1 + 0.2 * (torch.rand(len(b), 1, 1, 1) - 0.5)
            shift = 0.4 * (torch.rand(len(b), 1, 1, 1) - 0.5)
            loss = F.cross_entropy(net(xb * gain + shift), t[b], label_smoothing=0.05)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(b)
        log.debug("cnn epoch %d loss %.4f", epoch, total / len(t))
    return net.eval()


def predict_proba(net, images, size: int) -> np.ndarray:
    """Class probabilities (softmax), one row per image."""
    import torch

    with torch.inference_mode():
        return torch.softmax(net(_tensor(images, size)), 1).numpy()
