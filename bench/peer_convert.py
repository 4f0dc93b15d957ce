#!/usr/bin/python3
"""Python peer for the conversion benchmark: SIIM DICOM to PNG.

Converts every DICOM under a folder to ``images/<ImageId>.png`` and its
labels to ``masks/<ImageId>.png`` at NxN, the way the Python pipelines of
the SIIM-ACR challenge do it (pydicom + OpenCV + NumPy, a process pool),
writes ``index.csv`` and reports the speed.

Run with Debian's interpreter (``/usr/bin/python3``), which has
python3-pydicom, python3-opencv, python3-numpy and python3-pil (pydicom
decodes JPEG Baseline through Pillow).
"""

import argparse
import csv
import json
import os
import sys
import time
from multiprocessing import Pool

import cv2
import numpy as np
import pydicom

from peer_rle import EMPTY_RLE, read_labels, rle_decode

# Set in each worker by init_worker.
LABELS = {}
OUT_DIR = ""
SIZE = 0


def list_dicoms(root):
    """Return the paths of all *.dcm files under ``root``, sorted."""
    paths = []
    for folder, _, names in os.walk(root):
        paths.extend(os.path.join(folder, name) for name in names
                     if name.lower().endswith(".dcm"))
    return sorted(paths)


def group_labels(rows):
    """Group (ImageId, rle) rows into {ImageId: [rle, ...]}."""
    labels = {}
    for image_id, rle in rows:
        labels.setdefault(image_id, []).append(rle)
    return labels


def init_worker(labels, out_dir, size):
    """Give a worker the labels and settings; keep OpenCV to one thread."""
    global LABELS, OUT_DIR, SIZE
    LABELS, OUT_DIR, SIZE = labels, out_dir, size
    cv2.setNumThreads(1)


def resize(image, size):
    """Resize to size x size with INTER_AREA, unless already that size."""
    if image.shape[:2] == (size, size):
        return image
    return cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)


def convert_one(path):
    """Convert one DICOM and its labels; return its index.csv row."""
    image_id = os.path.splitext(os.path.basename(path))[0]
    image = pydicom.dcmread(path).pixel_array
    height, width = image.shape[:2]
    image_name = os.path.join("images", image_id + ".png")
    cv2.imwrite(os.path.join(OUT_DIR, image_name), resize(image, SIZE))

    rles = LABELS.get(image_id)
    if rles is None:
        return image_id, image_name, "", ""
    flat = np.zeros(height * width, dtype=np.uint8)
    positive = False
    for rle in rles:
        if rle != EMPTY_RLE:
            rle_decode(rle, height, width, out=flat)
            positive = True
    mask = resize(flat.reshape(width, height).T, SIZE)
    # INTER_AREA averages pixels: threshold to keep the mask binary 0/255.
    _, mask = cv2.threshold(mask, 127, 255, cv2.THRESH_BINARY)
    mask_name = os.path.join("masks", image_id + ".png")
    cv2.imwrite(os.path.join(OUT_DIR, mask_name), mask)
    return image_id, image_name, mask_name, int(positive)


def convert(paths, labels, out_dir, size, processes):
    """Convert all ``paths``; return the index rows sorted by ImageId."""
    init_args = (labels, out_dir, size)
    if processes == 1:
        init_worker(*init_args)
        rows = [convert_one(path) for path in paths]
    else:
        # About 8 files a chunk, smaller when there are few files per worker.
        chunksize = max(1, min(8, len(paths) // (4 * processes)))
        with Pool(processes, initializer=init_worker,
                  initargs=init_args) as pool:
            rows = list(pool.imap_unordered(convert_one, paths,
                                            chunksize=chunksize))
    return sorted(rows, key=lambda row: row[0])


def main(argv=None):
    """Parse the arguments, run the conversion and print the result."""
    parser = argparse.ArgumentParser(
        description="pydicom/OpenCV SIIM DICOM to PNG peer benchmark.")
    parser.add_argument("--dicom", required=True,
                        help="folder searched recursively for *.dcm")
    parser.add_argument("--labels", required=True,
                        help="SIIM label CSV (ImageId, EncodedPixels)")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--size", type=int, default=1024,
                        help="output width and height (default 1024)")
    parser.add_argument("--processes", type=int, default=1,
                        help="worker processes (default 1: no pool)")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object instead of a table")
    args = parser.parse_args(argv)
    if args.size < 1 or args.processes < 1:
        parser.error("--size and --processes must be at least 1")
    if not os.path.isdir(args.dicom):
        parser.error("no such folder: " + args.dicom)

    labels = group_labels(read_labels(args.labels))
    for sub in ("images", "masks"):
        os.makedirs(os.path.join(args.out, sub), exist_ok=True)
    paths = list_dicoms(args.dicom)

    start = time.perf_counter()
    rows = convert(paths, labels, args.out, args.size, args.processes)
    seconds = time.perf_counter() - start

    with open(os.path.join(args.out, "index.csv"), "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["ImageId", "image", "mask", "positive"])
        writer.writerows(rows)

    unlabeled = sum(1 for row in rows if row[2] == "")
    no_image = len(set(labels) - {row[0] for row in rows})
    if unlabeled or no_image:
        print(f"warning: {unlabeled} images without a label row,"
              f" {no_image} labelled ImageIds without an image",
              file=sys.stderr)

    rate = len(rows) / seconds if seconds > 0 else 0.0
    if args.json:
        print(json.dumps({"images": len(rows), "seconds": seconds,
                          "images_per_s": rate,
                          "processes": args.processes, "size": args.size}))
    else:
        print(f"{'images':>8}{'seconds':>10}{'images/s':>10}"
              f"{'processes':>11}{'size':>6}")
        print(f"{len(rows):>8}{seconds:>10.3f}{rate:>10.1f}"
              f"{args.processes:>11}{args.size:>6}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
