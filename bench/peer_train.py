#!/usr/bin/python3
"""Python peer for the training benchmark: U-Net ResNet34 training steps with PyTorch.

The same network as bench/peer_unet.py, ComboLoss (BCE + soft Dice + focal, the first-place
weights 3/1/4), Adam 1e-4, on random tensors already in memory (no data loading at all), batch B
at S x S. Prints one JSON object: median seconds per step and images/s after warm-up.
Run with Debian's interpreter (/usr/bin/python3).
"""

import argparse
import json
import statistics
import time

import torch
import torch.nn.functional as F

from peer_unet import Unet


def combo_loss(logits, target):
    bce = F.binary_cross_entropy_with_logits(logits, target)
    p = torch.sigmoid(logits)
    dims = (1, 2, 3)
    dice = 1 - ((2 * (p * target).sum(dims) + 1) / (p.sum(dims) + target.sum(dims) + 1)).mean()
    pt = torch.where(target > 0.5, p, 1 - p)
    focal = (-(1 - pt) ** 2 * torch.log(pt.clamp_min(1e-8))).mean()
    return 3 * bce + dice + 4 * focal


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--bf16", action="store_true", help="mixed precision: torch.autocast('cpu', torch.bfloat16)")
    ap.add_argument("--channels-last", action="store_true", help="model and input in channels-last memory format")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = Unet().train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    x = torch.randn(a.batch, 3, a.size, a.size)
    if a.channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    y = (torch.rand(a.batch, 1, a.size, a.size) > 0.9).float()
    times = []
    for i in range(a.warmup + a.steps):
        t = time.perf_counter()
        opt.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.bf16):
            logits = model(x)
        loss = combo_loss(logits.float(), y)
        loss.backward()
        opt.step()
        if i >= a.warmup:
            times.append(time.perf_counter() - t)
    median = statistics.median(times)
    print(json.dumps({"seconds_per_step": median, "images_per_s": a.batch / median, "torch": torch.__version__}))


if __name__ == "__main__":
    main()
