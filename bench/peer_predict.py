#!/usr/bin/python3
"""Python peer for the prediction benchmark: 1024x1024 JPEG DICOM to an RLE row, as the
challenge's notebooks predict.

pydicom decodes each file, OpenCV resizes it to 512, PyTorch runs the U-Net ResNet34 of
bench/peer_unet.py (channels-last, inference mode) on the image and its horizontal flip in one
batch, the averaged sigmoid map is resized back to 1024, thresholded (0.5) and encoded as SIIM
relative RLE with NumPy. Prints one JSON object: images/s over the files after one warm-up image, and peak RSS.
Run with Debian's interpreter (/usr/bin/python3).
"""

import argparse
import glob
import json
import os
import time

import cv2
import numpy as np
import pydicom
import torch

from peer_unet import Unet, peak_rss_mib


def rle_relative(mask):
    pixels = mask.T.flatten()
    padded = np.concatenate([[0], pixels, [0]])
    runs = np.where(padded[1:] != padded[:-1])[0]
    starts, ends = runs[::2], runs[1::2]
    if len(starts) == 0:
        return "-1"
    out, prev = [], 0
    for s, e in zip(starts, ends):
        out += [str(s - prev), str(e - s)]
        prev = e
    return " ".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dicom", required=True, help="folder of .dcm files")
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--bf16", action="store_true", help="model and input in torch.bfloat16")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    dtype = torch.bfloat16 if a.bf16 else torch.float32
    model = Unet().eval().to(memory_format=torch.channels_last).to(dtype)
    mean, std = 0.449, 0.226
    files = sorted(glob.glob(os.path.join(a.dicom, "**", "*.dcm"), recursive=True))
    rows = []
    start = None
    for i, f in enumerate(files):
        if i == 1:
            start = time.perf_counter()
        img = pydicom.dcmread(f).pixel_array.astype(np.uint8)
        small = cv2.resize(img, (a.size, a.size), interpolation=cv2.INTER_AREA)
        x = torch.from_numpy((small.astype(np.float32) / 255 - mean) / std)[None, None].repeat(1, 3, 1, 1)
        x = torch.cat([x, x.flip(3)]).to(dtype).contiguous(memory_format=torch.channels_last)
        with torch.inference_mode():
            p = torch.sigmoid(model(x).float())
        p = ((p[0, 0] + p[1, 0].flip(1)) / 2).numpy()
        full = cv2.resize(p, (img.shape[1], img.shape[0]), interpolation=cv2.INTER_LINEAR)
        rows.append(rle_relative((full > 0.5).astype(np.uint8)))
    seconds = time.perf_counter() - start
    print(json.dumps({"images": len(files) - 1, "seconds": seconds, "images_per_s": (len(files) - 1) / seconds,
                      "peak_rss_mib": peak_rss_mib()}))


if __name__ == "__main__":
    main()
