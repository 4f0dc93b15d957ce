#!/usr/bin/python3
"""Python peer for the model benchmark: U-Net ResNet34 forward latency with PyTorch.

Builds the segmentation_models.pytorch U-Net with a ResNet34 encoder (that package is not in
Debian, so its Unet, UnetDecoder, DecoderBlock and Conv2dReLU are restated here with the same
layers; torchvision gives the encoder), 1 class, random weights, and times batch-1 forward
passes in eval mode, in the two ways a Python pipeline runs it:

  eager:    NCHW tensors under torch.no_grad()
  fast:     channels-last model and input under torch.inference_mode()

and prints one JSON object: median/min ms, GFLOP/s from the given MACs, peak RSS (MiB).
Run with Debian's interpreter (/usr/bin/python3, python3-torch and python3-torchvision).
"""

import argparse
import json
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from torchvision.models.resnet import BasicBlock


def peak_rss_mib():
    """This process's peak resident memory (VmHWM): unlike ru_maxrss it does not inherit the
    peak of the benchmark that forked it."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


class Conv2dReLU(nn.Sequential):
    def __init__(self, i, o):
        super().__init__(nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU(inplace=True))


class DecoderBlock(nn.Module):
    def __init__(self, i, skip, o):
        super().__init__()
        self.conv1 = Conv2dReLU(i + skip, o)
        self.conv2 = Conv2dReLU(o, o)

    def forward(self, x, skip=None):
        x = F.interpolate(x, scale_factor=2, mode="nearest")
        if skip is not None:
            x = torch.cat([x, skip], dim=1)
        return self.conv2(self.conv1(x))


class ResNetEncoder(torchvision.models.ResNet):
    def __init__(self):
        super().__init__(BasicBlock, [3, 4, 6, 3])
        del self.fc
        del self.avgpool

    def forward(self, x):
        f = [x]
        x = self.relu(self.bn1(self.conv1(x)))
        f.append(x)
        x = self.layer1(self.maxpool(x))
        f.append(x)
        for layer in (self.layer2, self.layer3, self.layer4):
            x = layer(x)
            f.append(x)
        return f


class Unet(nn.Module):
    def __init__(self, decoder_channels=(256, 128, 64, 32, 16)):
        super().__init__()
        self.encoder = ResNetEncoder()
        enc = [512, 256, 128, 64, 64]
        ins = [enc[0]] + list(decoder_channels[:-1])
        skips = enc[1:] + [0]
        self.blocks = nn.ModuleList([DecoderBlock(i, s, o) for i, s, o in zip(ins, skips, decoder_channels)])
        self.head = nn.Conv2d(decoder_channels[-1], 1, 3, padding=1)

    def forward(self, x):
        features = self.encoder(x)[1:][::-1]
        h, skips = features[0], features[1:]
        for i, block in enumerate(self.blocks):
            h = block(h, skips[i] if i < len(skips) else None)
        return self.head(h)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--mode", choices=["eager", "fast"], default="eager")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--macs", type=float, default=0.0, help="MACs of one pass, for GFLOP/s")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    model = Unet().eval()
    assert sum(t.numel() for t in model.parameters()) == 24436369
    x = torch.randn(1, 3, a.size, a.size)
    if a.mode == "fast":
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
        guard = torch.inference_mode
    else:
        guard = torch.no_grad
    times = []
    with guard():
        for i in range(a.warmup + a.runs):
            t = time.perf_counter()
            model(x)
            if i >= a.warmup:
                times.append(time.perf_counter() - t)
    median = statistics.median(times)
    print(json.dumps({
        "median_ms": median * 1e3,
        "min_ms": min(times) * 1e3,
        "gflops": 2 * a.macs / median / 1e9 if a.macs else 0.0,
        "peak_rss_mib": peak_rss_mib(),
        "torch": torch.__version__,
    }))


if __name__ == "__main__":
    main()
