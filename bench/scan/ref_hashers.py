#!/usr/bin/env python3
"""The reference hashers, measured on the same inputs as `hashmatch bench` (which runs this script
and puts its JSON beside its own figures):

  pdqhash  Meta's C++ PDQ behind a Python binding (PyPI `pdqhash`), images decoded by Pillow (the
           decoder reference lists were made with): decode+hash of the JPEG files and hash-only of
           a decoded frame, one process = one core.
  vpdq     Meta's vPDQ behind a Python binding (PyPI `vpdq`): every frame of a clip, one thread.

    python3 bench/scan/ref_hashers.py --jpegs DIR [--seconds S] [--clip FILE] [--clip-threads 1]

Prints one JSON object; a hasher that is not installed is reported as {"skipped": reason}."""
import argparse, io, json, os, sys, time


def rate(fn, n_items, seconds):
    """Items per wall second and per CPU second of this process (the latter holds on a machine
    shared with other work)."""
    n, t0, c0 = 0, time.perf_counter(), time.process_time()
    while True:
        fn(n % n_items)
        n += 1
        el = time.perf_counter() - t0
        if el >= seconds and n >= 3:
            return n / el, n / max(time.process_time() - c0, 1e-9)


def pdqhash_part(jpeg_dir, seconds):
    try:
        import numpy as np
        import pdqhash
        from PIL import Image
        import PIL
    except Exception as e:  # noqa: BLE001
        return {"skipped": f"not installed: {e}"}
    files = sorted(os.path.join(jpeg_dir, f) for f in os.listdir(jpeg_dir) if f.lower().endswith(".jpg"))
    if not files:
        return {"skipped": f"no JPEG in {jpeg_dir}"}
    blobs = [open(f, "rb").read() for f in files]
    first = np.asarray(Image.open(io.BytesIO(blobs[0])).convert("RGB"))
    decode_hash, decode_hash_cpu = rate(
        lambda i: pdqhash.compute(np.asarray(Image.open(io.BytesIO(blobs[i])).convert("RGB"))),
        len(blobs), seconds)
    hash_only, hash_only_cpu = rate(lambda i: pdqhash.compute(first), 1, seconds)
    return {"version": getattr(pdqhash, "__version__", "?"), "decoder": f"Pillow {PIL.__version__}",
            "images": len(files), "width": int(first.shape[1]), "height": int(first.shape[0]),
            "mean_file_bytes": sum(map(len, blobs)) / len(blobs),
            "decode_hash_images_per_s_one_core": decode_hash,
            "decode_hash_images_per_cpu_second": decode_hash_cpu,
            "hash_only_images_per_s_one_core": hash_only,
            "hash_only_images_per_cpu_second": hash_only_cpu}


def vpdq_part(clip, threads):
    if not clip:
        return {"skipped": "no clip"}
    try:
        import vpdq
    except Exception as e:  # noqa: BLE001
        return {"skipped": f"not installed: {e}"}
    t0 = time.perf_counter()
    feats = vpdq.computeHash(clip, seconds_per_hash=0, thread_count=threads)
    el = time.perf_counter() - t0
    return {"frames": len(feats), "seconds": el, "frames_per_s": len(feats) / el, "threads": threads,
            "seconds_per_hash": 0}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--jpegs", required=True)
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--clip", default="")
    ap.add_argument("--clip-threads", type=int, default=1)
    a = ap.parse_args()
    json.dump({"pdqhash": pdqhash_part(a.jpegs, a.seconds), "vpdq": vpdq_part(a.clip, a.clip_threads)},
              sys.stdout)
    print()


if __name__ == "__main__":
    main()
