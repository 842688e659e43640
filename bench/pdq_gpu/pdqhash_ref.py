#!/usr/bin/env python3
"""The reference hasher (pdqhash from PyPI, Meta's C++ PDQ behind a Python binding) on generated
frames, for comparison beside bench_pdq_gpu. Prints one JSON object on stdout.

  pdqhash_ref.py [--sizes 640x480,1920x1080,3840x2160] [--frames N] [--procs P] [--seconds S]

frames/s single-threaded and with P worker processes (default: all cores). Input: RGB uint8 numpy
arrays already in memory (as bench_pdq_gpu's CPU and host-memory figures).
"""
import argparse
import json
import multiprocessing as mp
import os
import platform
import sys
import time

import numpy as np

try:
    import pdqhash
except ImportError:  # reported, not fatal: the C++ bench still runs
    print(json.dumps({"error": "pdqhash not installed (pip install pdqhash)"}))
    sys.exit(0)

_FRAMES = None


def make_frames(w, h, n, seed):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    out = []
    for k in range(n):
        base = 128 + 100 * np.sin(x / (7 + k) + y / (11 + 2 * k))
        noise = rng.integers(-20, 20, size=(h, w), dtype=np.int16)
        img = np.clip(np.stack([base + noise, base * 0.8 + noise, 255 - base + noise], axis=2), 0, 255)
        out.append(np.ascontiguousarray(img.astype(np.uint8)))
    return out


def _init(frames):
    global _FRAMES
    _FRAMES = frames


def _hash(i):
    return pdqhash.compute(_FRAMES[i % len(_FRAMES)])[1]


def bench(w, h, n_frames, procs, seconds):
    frames = make_frames(w, h, min(n_frames, 8), 7)
    res = {"size": f"{w}x{h}"}
    # single thread
    pdqhash.compute(frames[0])
    t0 = time.perf_counter()
    done = 0
    while time.perf_counter() - t0 < seconds or done < 3:
        pdqhash.compute(frames[done % len(frames)])
        done += 1
    res["frames_per_s_1thread"] = done / (time.perf_counter() - t0)
    # all cores
    with mp.Pool(procs, initializer=_init, initargs=(frames,)) as pool:
        pool.map(_hash, range(procs))
        count = max(procs * 4, int(res["frames_per_s_1thread"] * procs * seconds))
        t0 = time.perf_counter()
        pool.map(_hash, range(count), chunksize=max(1, count // (procs * 8)))
        res["frames_per_s_all_cores"] = count / (time.perf_counter() - t0)
    res["procs"] = procs
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="640x480,1920x1080,3840x2160")
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--procs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--seconds", type=float, default=2.0)
    a = ap.parse_args()
    out = {"tool": "pdqhash", "version": getattr(pdqhash, "__version__", "?"),
           "python": platform.python_version(), "cpu_count": os.cpu_count(), "results": []}
    for s in a.sizes.split(","):
        w, h = (int(v) for v in s.lower().split("x"))
        out["results"].append(bench(w, h, a.frames, a.procs, a.seconds))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
