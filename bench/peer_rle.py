#!/usr/bin/python3
"""Python peer for the RLE benchmark: SIIM relative RLE with NumPy.

Decodes every row of a SIIM label CSV into a 1024x1024 uint8 mask and
encodes the masks back, the way the Python pipelines of the SIIM-ACR
challenge do it, checks the round trip and reports the speed of each half.

The RLE and CSV helpers are also used by ``peer_convert.py``.

Run with Debian's interpreter (``/usr/bin/python3``), which has
python3-numpy.
"""

import argparse
import csv
import json
import sys
import time

import numpy as np

EMPTY_RLE = "-1"


def read_labels(path):
    """Return the label rows of a SIIM CSV as a list of (ImageId, rle).

    Accepts a UTF-8 BOM, CRLF or LF line ends, an optional header
    (``ImageId, EncodedPixels`` with or without the leading space) and
    leading spaces before the values. Rows without two fields are skipped.
    """
    rows = []
    with open(path, newline="", encoding="utf-8-sig") as handle:
        for record in csv.reader(handle, skipinitialspace=True):
            if len(record) < 2:
                continue
            image_id, rle = record[0].strip(), record[1].strip()
            if not image_id or image_id == "ImageId":
                continue
            rows.append((image_id, rle))
    return rows


def rle_decode(rle, height=1024, width=1024, fill=255, out=None):
    """Decode one SIIM relative, column-major RLE string into a mask.

    ``out`` is a flat uint8 array of ``height * width`` pixels in
    column-major order to paint into (several rows of one image make a
    union); a new one is made when it is None. Returns the (height, width)
    view of that array.
    """
    if out is None:
        out = np.zeros(height * width, dtype=np.uint8)
    if rle != EMPTY_RLE:
        numbers = np.array(rle.split(), dtype=np.int64)
        if numbers.size % 2 or (numbers < 0).any():
            raise ValueError("malformed RLE: odd count or negative value")
        starts, lengths = numbers[0::2], numbers[1::2]
        # Relative starts: each one counts the zeros after the previous run.
        starts = np.cumsum(starts)
        starts[1:] += np.cumsum(lengths)[:-1]
        ends = starts + lengths
        if ends.size and ends[-1] > out.size:
            raise ValueError("RLE runs past the end of the mask")
        for lo, hi in zip(starts, ends):
            out[lo:hi] = fill
    return out.reshape(width, height).T


def rle_encode(mask):
    """Encode a 2-D mask (nonzero = foreground) as SIIM relative RLE.

    Pads the column-major pixel string with a zero at both ends, so a run
    that reaches the last pixel is closed and written too.
    """
    pixels = np.concatenate([[False], mask.T.ravel() != 0, [False]])
    runs = np.where(pixels[1:] != pixels[:-1])[0]
    if runs.size == 0:
        return EMPTY_RLE
    starts, ends = runs[0::2], runs[1::2]
    relative = starts.copy()
    relative[1:] -= ends[:-1]
    pairs = np.empty(runs.size, dtype=runs.dtype)
    pairs[0::2] = relative
    pairs[1::2] = ends - starts
    return " ".join(map(str, pairs.tolist()))


def bench(rles, repeat):
    """Time decode and encode over ``rles``; return a result dict."""
    rows = len(rles)
    # Untimed: the masks to encode, kept for the encode passes.
    masks = [rle_decode(rle) for rle in rles]

    # Decode as a pipeline does: one mask at a time, used then dropped.
    start = time.perf_counter()
    for _ in range(repeat):
        for rle in rles:
            rle_decode(rle)
    decode_s = time.perf_counter() - start

    positive_rles = [rle for rle in rles if rle != EMPTY_RLE]
    start = time.perf_counter()
    for _ in range(repeat):
        for rle in positive_rles:
            rle_decode(rle)
    decode_pos_s = time.perf_counter() - start

    start = time.perf_counter()
    for _ in range(repeat):
        encoded = [rle_encode(mask) for mask in masks]
    encode_s = time.perf_counter() - start

    positive = [mask for mask, rle in zip(masks, rles) if rle != EMPTY_RLE]
    start = time.perf_counter()
    for _ in range(repeat):
        for mask in positive:
            rle_encode(mask)
    encode_pos_s = time.perf_counter() - start

    mismatched = sum(
        not np.array_equal(rle_decode(text), mask)
        for text, mask in zip(encoded, masks))
    identical = sum(a == b for a, b in zip(encoded, rles))

    def per_mask_ms(seconds, count):
        return 1000.0 * seconds / (count * repeat) if count else 0.0

    def per_s(seconds, count):
        return count * repeat / seconds if seconds > 0 else 0.0

    return {
        "rows": rows,
        "positive_rows": len(positive),
        "repeat": repeat,
        "decode_ms_per_mask": per_mask_ms(decode_s, rows),
        "decode_ms_per_positive_mask": per_mask_ms(decode_pos_s,
                                                   len(positive)),
        "encode_ms_per_mask": per_mask_ms(encode_s, rows),
        "encode_ms_per_positive_mask": per_mask_ms(encode_pos_s,
                                                   len(positive)),
        "decode_rows_per_s": per_s(decode_s, rows),
        "decode_positive_rows_per_s": per_s(decode_pos_s, len(positive)),
        "encode_rows_per_s": per_s(encode_s, rows),
        "encode_positive_rows_per_s": per_s(encode_pos_s, len(positive)),
        "round_trip_mismatches": mismatched,
        "rle_text_identical": identical,
    }


def main(argv=None):
    """Parse the arguments, run the benchmark and print the result."""
    parser = argparse.ArgumentParser(
        description="NumPy SIIM RLE decode/encode peer benchmark.")
    parser.add_argument("--labels", required=True,
                        help="SIIM label CSV (ImageId, EncodedPixels)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="passes over all rows (default 1)")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object instead of a table")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")

    rles = [rle for _, rle in read_labels(args.labels)]
    if not rles:
        parser.error("no label rows in " + args.labels)
    result = bench(rles, args.repeat)

    if args.json:
        print(json.dumps(result))
    else:
        print(f"rows {result['rows']} (positive {result['positive_rows']}),"
              f" repeat {result['repeat']}")
        print(f"{'step':<16}{'ms/mask':>10}{'rows/s':>12}")
        for step in ("decode", "encode"):
            for kind, suffix in (("", "mask"), (" positive", "positive_mask")):
                name = step + kind
                ms = result[f"{step}_ms_per_{suffix}"]
                rate = result[step + kind.replace(" ", "_") + "_rows_per_s"]
                print(f"{name:<16}{ms:>10.3f}{rate:>12.0f}")
        print(f"round trip mismatches {result['round_trip_mismatches']},"
              f" RLE text identical {result['rle_text_identical']}"
              f"/{result['rows']}")
    return 1 if result["round_trip_mismatches"] else 0


if __name__ == "__main__":
    sys.exit(main())
