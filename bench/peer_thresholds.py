#!/usr/bin/python3
"""Python peer for the threshold-search benchmark: the way the challenge's notebooks search.

For every grid point (top, area, bottom) and every validation map, threshold the map again with
NumPy (mask = p > top; empty if mask.sum() < area else p > bottom) and score the image's Dice.
Times `--images` synthetic 1024x1024 maps (made as bench_thresholds makes them: a smooth blob on
noise) over the whole grid and prints one JSON object with the time per (image x point) and the
extrapolated time for 1,000 images x the grid.
Run with Debian's interpreter (/usr/bin/python3, python3-numpy).
"""

import argparse
import json
import time

import numpy as np


def make_map(i, size, rng):
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    cy, cx = rng.uniform(0.2, 0.8, 2) * size
    r = size * rng.uniform(0.03, 0.12)
    blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r * r)).astype(np.float32)
    p = np.clip(0.3 * rng.random((size, size), dtype=np.float32) + (0.9 if i % 3 else 0.5) * blob, 0, 1)
    truth = blob > 0.5 if i % 3 else np.zeros((size, size), bool)
    return p, truth


def dice(truth, pred):
    t, p = truth.sum(), pred.sum()
    if t == 0 and p == 0:
        return 1.0
    return 2.0 * np.logical_and(truth, pred).sum() / (t + p)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", type=int, default=3)
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--points", type=int, default=1000, help="grid points (10 x 10 x 10 for 1000)")
    a = ap.parse_args()
    side = round(a.points ** (1 / 3))
    tops, areas, bottoms = np.linspace(0.5, 0.9, side), np.linspace(0, 4000, side), np.linspace(0.2, 0.5, side)
    rng = np.random.default_rng(1)
    maps = [make_map(i, a.size, rng) for i in range(a.images)]
    start = time.perf_counter()
    for top in tops:
        for area in areas:
            for bottom in bottoms:
                for p, truth in maps:
                    m = p > top
                    pred = np.zeros_like(m) if m.sum() < area else p > bottom
                    dice(truth, pred)
    seconds = time.perf_counter() - start
    per = seconds / (a.images * side ** 3)
    print(json.dumps({"images": a.images, "points": side ** 3, "seconds": seconds, "ms_per_image_point": per * 1e3,
                      "extrapolated_s_for_1000_images": per * 1000 * side ** 3}))


if __name__ == "__main__":
    main()
