#!/usr/bin/python3
"""Python peer for the loader benchmark: a converted set through a PyTorch DataLoader.

Reads ``index.csv`` of a converted set and loads every image and mask once,
the way the SIIM-ACR challenge's Python pipelines do it: a
``torch.utils.data.Dataset`` that reads the PNGs with OpenCV, optionally
augments them (the first-place pipeline written plainly with OpenCV and
NumPy, as albumentations implements it: horizontal flip; one of
contrast/gamma/brightness; one of elastic/grid/optical distortion;
shift-scale-rotate), scales to [0, 1] and stacks batches in a ``DataLoader``
with N worker processes. Prints one JSON line with images/s.

Run with Debian's interpreter (``/usr/bin/python3``: python3-opencv,
python3-numpy, python3-torch).
"""

import argparse
import csv
import json
import os
import random
import time

import cv2
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset


def elastic(img, mask, rng, alpha=120.0, sigma=6.0):
    h, w = img.shape[:2]
    dx = cv2.GaussianBlur(rng.uniform(-1, 1, (h, w)).astype(np.float32), (0, 0), sigma) * alpha
    dy = cv2.GaussianBlur(rng.uniform(-1, 1, (h, w)).astype(np.float32), (0, 0), sigma) * alpha
    x, y = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    mx, my = x + dx, y + dy
    return (cv2.remap(img, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101),
            cv2.remap(mask, mx, my, cv2.INTER_NEAREST, borderMode=cv2.BORDER_REFLECT_101))


def grid_axis(n, scales):
    out = np.zeros(n, np.float32)
    steps = len(scales)
    prev = 0.0
    for i, s in enumerate(scales):
        start, end = i * n // steps, (i + 1) * n // steps
        if i == steps - 1:
            out[start:end] = np.linspace(prev, n - 1, end - start)
        else:
            cur = prev + (end - start) * s
            out[start:end] = prev + (cur - prev) * np.arange(end - start) / (end - start)
            prev = cur
    return out


def grid(img, mask, rng, steps=5, limit=0.3):
    h, w = img.shape[:2]
    xx = grid_axis(w, 1 + rng.uniform(-limit, limit, steps))
    yy = grid_axis(h, 1 + rng.uniform(-limit, limit, steps))
    mx, my = np.meshgrid(xx, yy)
    return (cv2.remap(img, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101),
            cv2.remap(mask, mx, my, cv2.INTER_NEAREST, borderMode=cv2.BORDER_REFLECT_101))


def optical(img, mask, rng, distort=2.0, shift=0.5):
    h, w = img.shape[:2]
    k = rng.uniform(-distort, distort)
    cam = np.array([[w, 0, w * 0.5 + rng.uniform(-shift, shift) * w],
                    [0, h, h * 0.5 + rng.uniform(-shift, shift) * h], [0, 0, 1]], np.float32)
    dist = np.array([k, k, 0, 0, 0], np.float32)
    mx, my = cv2.initUndistortRectifyMap(cam, dist, None, cam, (w, h), cv2.CV_32FC1)
    return (cv2.remap(img, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101),
            cv2.remap(mask, mx, my, cv2.INTER_NEAREST, borderMode=cv2.BORDER_REFLECT_101))


def augment(img, mask, rng):
    if rng.random() < 0.5:
        img, mask = img[:, ::-1].copy(), mask[:, ::-1].copy()
    if rng.random() < 0.3:
        choice = rng.integers(3)
        if choice == 0:
            img = cv2.convertScaleAbs(img, alpha=1 + rng.uniform(-0.2, 0.2))
        elif choice == 1:
            g = rng.uniform(80, 120) / 100
            img = cv2.LUT(img, (255 * (np.arange(256) / 255) ** g).clip(0, 255).astype(np.uint8))
        else:
            img = cv2.convertScaleAbs(img, alpha=1, beta=rng.uniform(-0.2, 0.2) * 255)
    if rng.random() < 0.3:
        img, mask = (elastic, grid, optical)[rng.integers(3)](img, mask, rng)
    if rng.random() < 0.5:
        h, w = img.shape[:2]
        m = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), rng.uniform(-45, 45), 1 + rng.uniform(-0.1, 0.1))
        m[0, 2] += rng.uniform(-0.0625, 0.0625) * w
        m[1, 2] += rng.uniform(-0.0625, 0.0625) * h
        img = cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
        mask = cv2.warpAffine(mask, m, (w, h), flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_REFLECT_101)
    return img, mask


class PngDataset(Dataset):
    def __init__(self, root, aug):
        with open(os.path.join(root, "index.csv"), newline="") as f:
            self.rows = list(csv.DictReader(f))
        self.root, self.aug = root, aug

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, i):
        r = self.rows[i]
        img = cv2.imread(os.path.join(self.root, r["image"]), cv2.IMREAD_GRAYSCALE)
        mask = cv2.imread(os.path.join(self.root, r["mask"]), cv2.IMREAD_GRAYSCALE)
        if self.aug:
            img, mask = augment(img, mask, np.random.default_rng(i))
        image = torch.from_numpy(img.astype(np.float32) / 255.0)[None]
        target = torch.from_numpy((mask > 127).astype(np.float32))[None]
        return image, target, float(r["positive"])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("root")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--augment", action="store_true")
    p.add_argument("--repeat", type=int, default=2)
    a = p.parse_args()
    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    random.seed(0)
    ds = PngDataset(a.root, a.augment)
    best = None
    for _ in range(a.repeat):
        start = time.perf_counter()
        n = 0
        for images, _, _ in DataLoader(ds, batch_size=a.batch, num_workers=a.workers):
            n += images.shape[0]
        t = time.perf_counter() - start
        best = t if best is None else min(best, t)
    print(json.dumps({"images": n, "seconds": best, "images_per_s": n / best}))


if __name__ == "__main__":
    main()
