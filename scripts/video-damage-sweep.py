#!/usr/bin/env python3
"""Damaged videos, hashed again and again: is the outcome the same every time?

For each format of scripts/video-format-sweep.py (its clean clips, made with the ffmpeg command
line from a lavfi test pattern) and each damage seed, the clip's bytes are XORed at 12 random
places over its last two thirds (16, 64 or 200 bytes each). The damaged file is hashed in exact
mode and keyframes-only (`hashmatch hash --video-decoder cpu`), each --runs times with automatic
threads and once with `--video-threads 1`; a case is `same` when every run gave the same verdict
(`error_reason`) and the same frames (numbers and hashes), `varies` otherwise, `crash` when
hashmatch exited other than 0 / 1, printed no JSON line or ran past --timeout.

Exit code 1 on a crash, or with --strict when a case varies (damage no decoder log or frame
flag reveals can still vary under frame threads: docs/video.md, "One thread for damaged streams").

  scripts/video-damage-sweep.py [--hashmatch build/hashmatch] [--dir DIR] [--only SUBSTRING]
                                [--seeds 3] [--runs 3] [--timeout 120] [--strict]
"""
import argparse
import importlib.util
import json
import os
import random
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def load_formats():
    spec = importlib.util.spec_from_file_location(
        "sweep", os.path.join(HERE, "video-format-sweep.py"))
    sweep = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sweep)
    return sweep.SRC, sweep.FORMATS


def damage(raw, seed):
    rng = random.Random(seed)
    b = bytearray(raw)
    for _ in range(12):
        at = len(b) // 3 + rng.randrange(0, max(1, 2 * len(b) // 3 - 300))
        for i in range(at, min(at + rng.choice([16, 64, 200]), len(b))):
            b[i] ^= rng.randrange(1, 256)
    return bytes(b)


def outcome(hm, path, timeout, *flags):
    """(verdict, frames) or ('crash', why)."""
    try:
        p = subprocess.run([hm, "hash", "--video-decoder", "cpu", *flags, path],
                           capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return ("crash", f"ran past {timeout} s")
    if p.returncode not in (0, 1):
        return ("crash", f"exit {p.returncode}: {p.stderr[-200:]}")
    try:
        j = json.loads(p.stdout.splitlines()[0])
    except (IndexError, json.JSONDecodeError):
        return ("crash", f"no JSON line: {p.stdout[:200]!r}")
    return (j.get("error_reason") or "ok", tuple((f["frame"], f["pdq"]) for f in j.get("vpdq", [])))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hashmatch", default=os.path.join(HERE, "..", "build", "hashmatch"))
    ap.add_argument("--dir", default=None, help="where clips go (default: a temporary folder)")
    ap.add_argument("--only", default="", help="formats whose name contains this")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--runs", type=int, default=3, help="runs with automatic threads per case")
    ap.add_argument("--timeout", type=float, default=120)
    ap.add_argument("--strict", action="store_true", help="exit 1 when a case varies")
    a = ap.parse_args()
    src, formats = load_formats()
    tmp = None
    if a.dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="video-damage-")
        a.dir = tmp.name
    os.makedirs(a.dir, exist_ok=True)
    counts = {"same": 0, "varies": 0, "crash": 0}
    for name, args in formats.items():
        if a.only not in name:
            continue
        clean = os.path.join(a.dir, name)
        if not os.path.exists(clean):
            cmd = f"ffmpeg -hide_banner -loglevel quiet -y {src} {args} '{clean}'"
            if subprocess.run(cmd, shell=True).returncode != 0:
                print(f"{name}: ffmpeg could not make the clip (skipped)")
                continue
        raw = open(clean, "rb").read()
        for seed in range(a.seeds):
            damaged = os.path.join(a.dir, f"damaged{seed}_{name}")
            with open(damaged, "wb") as f:
                f.write(damage(raw, seed * 7919 + len(name)))
            for mode in ([], ["--vpdq-keyframes-only"]):
                outs = [outcome(a.hashmatch, damaged, a.timeout, *mode) for _ in range(a.runs)]
                outs.append(outcome(a.hashmatch, damaged, a.timeout, "--video-threads", "1", *mode))
                crashes = [o[1] for o in outs if o[0] == "crash"]
                kind = "crash" if crashes else ("same" if len(set(outs)) == 1 else "varies")
                counts[kind] += 1
                verdicts = sorted({o[0] for o in outs})
                print(f"{kind:6} {name} seed {seed} {'keyframes-only' if mode else 'exact'}: "
                      f"{'/'.join(verdicts)}; {len(set(outs))} outcome(s) in {len(outs)} runs"
                      + (f"; {crashes[0]}" if crashes else ""), flush=True)
    print(f"# {counts['same']} same, {counts['varies']} varies, {counts['crash']} crash")
    return 1 if counts["crash"] or (a.strict and counts["varies"]) else 0


if __name__ == "__main__":
    sys.exit(main())
