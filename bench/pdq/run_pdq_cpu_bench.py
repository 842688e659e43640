#!/usr/bin/env python3
"""CPU PDQ hashing throughput, hashmatch beside the reference hasher (pdqhash from PyPI, Meta's
C++ PDQ behind a Python binding; decode through Pillow) on the same images, in one run.

    python3 bench/pdq/run_pdq_cpu_bench.py [--build build] [--samples DIR] [--seconds S] [--out OUT.json]

Generates sample media (scripts/gen-samples.sh) when DIR is missing. Also checks that both give
the same hashes on the lossless (PNG) samples. Needs: pip install pdqhash pillow numpy
(scripts/install-deps.sh with HASHMATCH_BENCH_DEPS=1)."""
import argparse, json, os, pathlib, platform, subprocess, sys, time

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--samples", default="samples")
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--out", default="out/bench_pdq_cpu.json")
    args = ap.parse_args()
    root = pathlib.Path(__file__).resolve().parents[2]
    samples = pathlib.Path(args.samples)
    if not (samples / "originals").is_dir():
        subprocess.run(["bash", str(root / "scripts/gen-samples.sh"), str(samples), "3"], check=True)
    files = sorted(p for p in (samples / "originals").iterdir()
                   if p.suffix.lower() in (".jpg", ".png", ".webp", ".tiff", ".bmp"))
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    ours_json = args.out.replace(".json", ".hashmatch.json")
    subprocess.run([os.path.join(args.build, "bench_pdq_cpu"), "--seconds", str(args.seconds),
                    "--json", ours_json, str(samples / "originals")], check=True)
    ours = json.load(open(ours_json))

    import numpy as np, pdqhash
    from PIL import Image
    blobs = [f.read_bytes() for f in files]
    arrays = [np.asarray(Image.open(f).convert("RGB")) for f in files]
    import io
    def rate(fn):
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < args.seconds:
            fn(n % len(files)); n += 1
        return n / (time.perf_counter() - t0)
    ref_decode = rate(lambda i: pdqhash.compute(np.asarray(Image.open(io.BytesIO(blobs[i])).convert("RGB"))))
    ref_hash = rate(lambda i: pdqhash.compute(arrays[i]))
    # Agreement on lossless inputs (decoder-independent).
    out = subprocess.run([os.path.join(args.build, "hashmatch"), "hash", "--jobs", "1"]
                         + [str(f) for f in files if f.suffix == ".png"],
                         capture_output=True, text=True).stdout
    mine = {json.loads(l)["path"]: json.loads(l) for l in out.splitlines()}
    # Compared where quality >= 50 (the matching cut-off): below it, flat images have DCT
    # coefficients at rounding-noise level, and a build of the reference with other float
    # contraction flips those bits.
    agree = npng = low_quality = 0
    for f in files:
        if f.suffix != ".png": continue
        bits, q = pdqhash.compute(np.asarray(Image.open(f).convert("RGB")))
        if q < 50:
            low_quality += 1
            continue
        npng += 1
        hexs = "%064x" % int("".join(str(int(b)) for b in bits), 2)
        agree += hexs == mine[str(f)]["pdq"] and q == mine[str(f)]["pdq_quality"]
    res = {"date": time.strftime("%Y-%m-%d"), "machine": f"{platform.processor() or platform.machine()}, "
           f"{os.cpu_count()} cores", "hashmatch": ours,
           "reference_pdqhash": {"decode+hash_images_per_s_one_thread": ref_decode,
                                 "hash_only_images_per_s_one_thread": ref_hash},
           "png_hash_agreement_quality_ge_50": f"{agree}/{npng}",
           "png_quality_below_50_not_compared": low_quality}
    json.dump(res, open(args.out, "w"), indent=2)
    r = {x["mode"]: x for x in ours["results"]}
    print(f"\n{'mode':16s} {'hashmatch 1 core':>18s} {'pdqhash 1 core':>16s} {'ratio':>7s}")
    for mode, ref in (("decode+hash", ref_decode), ("hash only", ref_hash)):
        m = r[mode]["images_per_s_one_thread"]
        print(f"{mode:16s} {m:18.1f} {ref:16.1f} {m/ref:7.2f}x")
    print(f"hashmatch on all {ours['threads']} threads: decode+hash {r['decode+hash']['images_per_s_all_threads']:.1f} img/s")
    print(f"identical hashes and qualities on PNG samples of quality >= 50: {agree}/{npng} "
          f"({low_quality} of quality < 50 not compared)")
    if agree != npng:
        sys.exit("hash disagreement with the reference hasher")

if __name__ == "__main__":
    main()
