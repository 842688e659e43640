#!/usr/bin/env python3
"""Server capacity benchmark: `hashmatch serve` on loopback under bench_server's load.

For each batch setting (max_batch_frames:max_queue_delay) the server is started afresh, warmed up,
and driven at saturation (closed loop, --connections clients): images/s and p50/p99 latency. With
--half it is then driven open loop at half the measured saturation rate (the GPU target: p99 <= 50 ms
at half of saturation on one H100). --bulk also measures the bulk path on the same images
(`hashmatch hash` over the files, same backend) for the other target: the server adds < 10 % to it,
i.e. server images/s >= 0.9 x bulk images/s.

  python3 bench/server/run_server_bench.py --build build --samples SAMPLES [--backend cpu|cuda]
      [--settings 1:0ms,16:2ms,64:2ms] [--endpoints hash,match,hashes] [--seconds 10]
      [--connections 32] [--half] [--bulk] [--list-size 100000] [--out results.json]

SAMPLES: a folder of benign images (scripts/gen-samples.sh makes one). The JSON written with --out
holds the machine, the command line and every figure; a table is printed last.
"""
import argparse
import datetime
import json
import os
import platform
import random
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

IMAGE_EXT = (".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp", ".gif")


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def start_server(args, db, setting, workdir, extra):
    frames, delay = setting.split(":")
    logf = open(os.path.join(workdir, "server-%s-%s.log" % (frames, delay)), "wb")
    cmd = [args.hashmatch, "serve", "--db", db, "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0",
           "--backend", args.backend, "--match-backend", args.match_backend,
           "--max-batch-frames", frames, "--max-queue-delay", delay,
           "--max-queue-frames", "8192", "--decode-queue", "4096", "--match-max-queue", "1000000",
           "--http-threads", str(args.connections + 8), "--reload-interval", "0",
           "--max-hashes-per-request", "100000", "--min-quality", "0"] + extra
    env = {k: v for k, v in os.environ.items() if not k.startswith("HASHMATCH_")}
    proc = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT, env=env)
    deadline = time.time() + 60
    port = mport = None
    while time.time() < deadline:
        with open(logf.name, "rb") as f:
            text = f.read().decode("utf-8", "replace")
        m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", text)
        mm = re.search(r"metrics on http://127\.0\.0\.1:(\d+)", text)
        if m and mm and "ready:" in text:
            port, mport = int(m.group(1)), int(mm.group(1))
            break
        if proc.poll() is not None:
            raise RuntimeError("server exited:\n" + text)
        time.sleep(0.1)
    if port is None:
        proc.kill()
        raise RuntimeError("server did not become ready")
    backend = re.search(r"PDQ backend (.*)", text)
    return proc, port, mport, backend.group(1) if backend else "?"


def stop_server(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def cpu_seconds(pid):
    """User + system CPU time of a process so far (from /proc)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def metrics(mport):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % mport, timeout=10) as r:
        return r.read().decode()


def metric_sum(text, name):
    total = 0.0
    for line in text.splitlines():
        m = re.match(r"^%s(\{[^}]*\})?\s+(\S+)$" % re.escape(name), line)
        if m:
            total += float(m.group(2))
    return total


def load(args, port, endpoint, seconds, rate=None, files=None, hashes=0):
    cmd = [args.bench, "--port", str(port), "--endpoint", endpoint, "--connections", str(args.connections),
           "--seconds", str(seconds), "--warmup", str(args.warmup)]
    if rate:
        cmd += ["--rate", "%.3f" % rate]
    if hashes:
        cmd += ["--hashes-per-request", str(hashes)]
    else:
        cmd += files
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + args.warmup + 120)
    if out.returncode != 0:
        raise RuntimeError(out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


def make_db(args, workdir, images):
    db = os.path.join(workdir, "bench.db")
    rng = random.Random(42)
    path = os.path.join(workdir, "list.te")
    with open(path, "w") as f:
        for _ in range(args.list_size):
            f.write("pdq %064x\n" % rng.getrandbits(256))
    out = subprocess.run([args.hashmatch, "list", "import", "--db", db, "--list", "bench", "--format", "te", path],
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(out.stderr)
    return db


def bulk(args, images, workdir):
    # The bulk path on the same images: `hashmatch hash` over enough copies of the file list to run
    # for a few seconds (files are read from the page cache, as the server reads bodies from memory).
    reps = max(1, int(args.bulk_images / max(1, len(images))))
    cmd = [args.hashmatch, "hash", "--backend", args.backend] + images * reps
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.time()
    out = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    dt = time.time() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode not in (0, 1):
        raise RuntimeError(out.stderr)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    n = len(images) * reps
    return {"images": n, "seconds": dt, "images_per_second": n / dt, "cpu_seconds": cpu,
            "cpu_ms_per_image": 1e3 * cpu / n}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--samples", required=True)
    ap.add_argument("--backend", default="cpu")
    ap.add_argument("--match-backend", default="auto")
    ap.add_argument("--settings", default="1:0ms,16:2ms,64:2ms")
    ap.add_argument("--endpoints", default="hash,match")
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--warmup", type=float, default=2)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--hashes-per-request", type=int, default=1000)
    ap.add_argument("--list-size", type=int, default=100000)
    ap.add_argument("--repeats", type=int, default=1, help="saturation runs per setting (the median is reported)")
    ap.add_argument("--half", action="store_true", help="also run open loop at half of saturation")
    ap.add_argument("--bulk", action="store_true", help="also measure `hashmatch hash` on the same images")
    ap.add_argument("--bulk-images", type=int, default=2000)
    ap.add_argument("--out")
    args = ap.parse_args()
    args.hashmatch = os.path.abspath(os.path.join(args.build, "hashmatch"))
    args.bench = os.path.abspath(os.path.join(args.build, "bench_server"))
    images = sorted(os.path.join(dp, f) for dp, _, fs in os.walk(args.samples) for f in fs
                    if f.lower().endswith(IMAGE_EXT) and "broken" not in f)
    if not images:
        sys.exit("no images in " + args.samples)
    workdir = tempfile.mkdtemp(prefix="hm-server-bench-")
    results = {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                    "host": platform.node()},
        "command": " ".join(sys.argv),
        "images": len(images),
        "image_megapixels_mean": None,
        "list_size": args.list_size,
        "runs": [],
    }
    try:
        db = make_db(args, workdir, images)
        if args.bulk:
            log("bulk: hashmatch hash --backend %s over %d images" % (args.backend, args.bulk_images))
            results["bulk"] = bulk(args, images, workdir)
        for setting in args.settings.split(","):
            for ep in args.endpoints.split(","):
                proc, port, mport, backend = start_server(args, db, setting, workdir, [])
                try:
                    endpoint = {"hash": "/v1/hash", "match": "/v1/match", "hashes": "/v1/match/hashes"}[ep]
                    hashes = args.hashes_per_request if ep == "hashes" else 0
                    log("%s %s: saturation, %d connections, %.0f s" % (setting, endpoint, args.connections, args.seconds))
                    m0 = metrics(mport)
                    c0 = cpu_seconds(proc.pid)
                    reps = [load(args, port, endpoint, args.seconds, files=images, hashes=hashes)
                            for _ in range(max(1, args.repeats))]
                    reps.sort(key=lambda r: r["items_per_second"])
                    sat = dict(reps[len(reps) // 2])  # the median run by throughput
                    sat["repeats"] = [{"items_per_second": r["items_per_second"],
                                       "p50": r["latency_seconds"]["p50"], "p99": r["latency_seconds"]["p99"]}
                                      for r in reps]
                    m1 = metrics(mport)
                    c1 = cpu_seconds(proc.pid)
                    run = {"setting": setting, "endpoint": endpoint, "backend": backend, "saturation": sat,
                           "mean_batch_items": None}
                    done = sum(r["items_per_second"] * r["seconds"] for r in reps)
                    # Server CPU time per item over the measured runs (the warm-ups count too, a
                    # little in the server's disfavour): robust where cores are shared.
                    warm = sum(r["items_per_second"] * args.warmup for r in reps)
                    if done > 0:
                        run["server_cpu_ms_per_item"] = 1e3 * (c1 - c0) / (done + warm)
                    n = metric_sum(m1, "hashmatch_batch_items_count") - metric_sum(m0, "hashmatch_batch_items_count")
                    s = metric_sum(m1, "hashmatch_batch_items_sum") - metric_sum(m0, "hashmatch_batch_items_sum")
                    if n > 0:
                        run["mean_batch_items"] = s / n
                    if args.half and sat["ok_per_second"] > 0:
                        rate = sat["ok_per_second"] / 2
                        log("%s %s: open loop at %.1f requests/s" % (setting, endpoint, rate))
                        run["half"] = load(args, port, endpoint, args.seconds, rate=rate, files=images, hashes=hashes)
                    results["runs"].append(run)
                finally:
                    stop_server(proc)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(results, f, indent=2)
    # The table.
    print("| setting (frames:delay) | endpoint | backend | items/s | p50 ms | p99 ms | mean batch | server CPU ms/item | 429 | half-load p50 / p99 ms |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in results["runs"]:
        s = r["saturation"]
        half = r.get("half")
        hs = "%.1f / %.1f" % (half["latency_seconds"]["p50"] * 1e3, half["latency_seconds"]["p99"] * 1e3) if half else "-"
        cpu = r.get("server_cpu_ms_per_item")
        print("| %s | %s | %s | %.1f | %.1f | %.1f | %s | %s | %d | %s |" % (
            r["setting"], r["endpoint"], r["backend"].split(":")[0], s["items_per_second"],
            s["latency_seconds"]["p50"] * 1e3, s["latency_seconds"]["p99"] * 1e3,
            "%.1f" % r["mean_batch_items"] if r["mean_batch_items"] else "-",
            "%.2f" % cpu if cpu else "-", s["responses"].get("429", 0), hs))
    if "bulk" in results:
        b = results["bulk"]
        print("bulk (hashmatch hash --backend %s): %.1f images/s over %d images, %.2f CPU ms/image" % (
            args.backend, b["images_per_second"], b["images"], b["cpu_ms_per_image"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
