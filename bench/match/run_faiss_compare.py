#!/usr/bin/env python3
"""PDQ range search, hashmatch beside faiss on the same data in one run.

    python3 bench/match/run_faiss_compare.py [--build build] [--sizes 1e6] [--batches 1,64,1024]
        [--threshold 31] [--backends cpu-brute,cpu-mih] [--budget-seconds 3]
        [--max-call-seconds 30] [--threads N] [--out out/bench_match.json] [--no-faiss]

1. bench_match generates the lists and query batches (random 256-bit PDQ hashes, half the queries
   near-duplicates of list entries), writes them as binary files (n x 32 bytes) and measures the
   hashmatch backends asked for.
2. faiss (faiss-cpu from PyPI) loads the same files: IndexBinaryFlat.range_search (brute force)
   and IndexBinaryMultiHash(256, 16 tables, 16 bits) with nflip = threshold // 16, which is exact
   for this threshold (pigeonhole), i.e. the same multi-index hashing scheme as cpu-mih.
   faiss range_search returns distances < radius: radius = threshold + 1.
3. Result sets are compared by count and an order-independent digest (the formula of
   bench_match.cc); a difference is reported and makes the exit status 1.

Writes one JSON with both sides and the speed-ups; prints a table. Needs: pip install faiss-cpu
numpy (scripts/install-deps.sh with HASHMATCH_BENCH_DEPS=1)."""
import argparse, json, os, pathlib, subprocess, sys, time

MASK = (1 << 64) - 1


def digest(lims, D, I):
    import numpy as np
    q = np.repeat(np.arange(len(lims) - 1, dtype=np.uint64), np.diff(lims).astype(np.int64))
    x = (q << np.uint64(32)) | I.astype(np.uint64)
    with np.errstate(over="ignore"):
        x = x + np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        x = x ^ (x >> np.uint64(31))
        total = (int(x.sum(dtype=np.uint64)) + int(D.astype(np.int64).sum())) & MASK
    return "%016x" % total


def percentile(v, p):
    v = sorted(v)
    pos = p * (len(v) - 1)
    i = int(pos)
    f = pos - i
    return v[i] * (1 - f) + v[i + 1] * f if i + 1 < len(v) else v[-1]


def time_calls(fn, budget, max_repeats, cpu_times=None):
    """Wall times of repeated calls (and, into cpu_times, the process CPU time of each: all
    threads, as bench_match measures it)."""
    t0 = time.perf_counter()
    res = fn()  # warm-up, and the result
    first = time.perf_counter() - t0
    reps = max(3, min(max_repeats, int(budget / max(first, 1e-6))))
    times = []
    for _ in range(reps):
        c0 = time.process_time()
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
        if cpu_times is not None:
            cpu_times.append(time.process_time() - c0)
    return res, times


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--sizes", default="1e6")
    ap.add_argument("--batches", default="1,64,1024,8192")
    ap.add_argument("--threshold", type=int, default=31)
    ap.add_argument("--backends", default="cpu-brute,cpu-mih")
    ap.add_argument("--budget-seconds", type=float, default=3.0)
    ap.add_argument("--max-call-seconds", type=float, default=30.0)
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--data", default=None, help="folder for the list/query files (default: beside --out)")
    ap.add_argument("--out", default="out/bench_match.json")
    ap.add_argument("--threads", type=int, default=0,
                    help="threads for both sides (0: all cores; faiss through omp_set_num_threads)")
    ap.add_argument("--no-faiss", action="store_true")
    args = ap.parse_args()

    out_dir = pathlib.Path(args.out).resolve().parent
    out_dir.mkdir(parents=True, exist_ok=True)
    data = pathlib.Path(args.data) if args.data else out_dir / "match_data"
    ours_json = str(pathlib.Path(args.out).with_suffix(".hashmatch.json"))
    cmd = [os.path.join(args.build, "bench_match"), "--sizes", args.sizes, "--batches", args.batches,
           "--threshold", str(args.threshold), "--backends", args.backends,
           "--budget-seconds", str(args.budget_seconds), "--max-call-seconds", str(args.max_call_seconds),
           "--repeats", str(args.repeats), "--write-data", str(data), "--json", ours_json]
    if args.seed is not None:
        cmd += ["--seed", str(args.seed)]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)
    ours = json.load(open(ours_json))
    report = {"hashmatch": ours, "faiss": [], "comparison": [], "threads": args.threads or os.cpu_count()}
    t = args.threshold
    sizes = sorted({r["list_size"] for r in ours["results"]}) or [int(float(s)) for s in args.sizes.split(",")]
    batches = [int(float(b)) for b in args.batches.split(",")]

    if not args.no_faiss:
        import numpy as np
        import faiss
        if args.threads:
            faiss.omp_set_num_threads(args.threads)
        report["faiss_version"] = faiss.__version__
        report["faiss_threads"] = faiss.omp_get_max_threads()
        for n in sizes:
            xb = np.fromfile(data / f"list_{n}.bin", dtype=np.uint8).reshape(-1, 32)
            xq_all = np.fromfile(data / f"queries_{n}.bin", dtype=np.uint8).reshape(-1, 32)
            indexes = []
            t0 = time.perf_counter()
            flat = faiss.IndexBinaryFlat(256)
            flat.add(xb)
            indexes.append(("faiss-flat", flat, time.perf_counter() - t0, n * 32))
            t0 = time.perf_counter()
            mh = faiss.IndexBinaryMultiHash(256, 16, 16)
            mh.nflip = t // 16
            mh.add(xb)
            # Memory of the hash maps is not exposed; the codes alone are n x 32 bytes.
            indexes.append(("faiss-multihash", mh, time.perf_counter() - t0, None))
            for name, index, build_s, mem in indexes:
                per_query = 0.0
                for b in batches:
                    if per_query and per_query * b > args.max_call_seconds:
                        print(f"faiss: {name}, {n} entries, batch {b}: ~{per_query * b:.0f} s per call, skipped")
                        continue
                    xq = np.ascontiguousarray(xq_all[:b])
                    cpu = []
                    if b == 1:
                        # As bench_match: a different query per repeat, result from query 0.
                        lims, D, I = index.range_search(xq, t + 1)
                        pool = [np.ascontiguousarray(xq_all[i:i + 1]) for i in range(1, len(xq_all))]
                        it = iter(range(10**9))
                        _, times = time_calls(lambda: index.range_search(pool[next(it) % len(pool)], t + 1),
                                              args.budget_seconds, args.repeats, cpu)
                    else:
                        (lims, D, I), times = time_calls(lambda: index.range_search(xq, t + 1),
                                                         args.budget_seconds, args.repeats, cpu)
                    p50 = percentile(times, 0.5)
                    per_query = p50 / b
                    report["faiss"].append({
                        "backend": name, "list_size": n, "batch": b, "repeats": len(times),
                        "p50_s": p50, "p99_s": percentile(times, 0.99), "min_s": min(times),
                        "comparisons_per_s": n * b / p50, "queries_per_s": b / p50, "build_s": build_s,
                        "cpu_s_per_call": percentile(cpu, 0.5), "cpu_s_per_query": percentile(cpu, 0.5) / b,
                        "memory_bytes_per_entry": (mem / n) if mem else None,
                        "hits": int(lims[-1]), "digest": digest(lims, D, I)})
                    r = report["faiss"][-1]
                    print(f"{name:16s} {n:>11d} {b:>6d} p50 {p50 * 1e3:10.3f} ms  p99 {r['p99_s'] * 1e3:10.3f} ms  "
                          f"{r['comparisons_per_s']:.3e} cmp/s  {r['queries_per_s']:10.1f} q/s  hits {r['hits']}  {r['digest'][:7]}  "
                          f"cpu {r['cpu_s_per_query'] * 1e6:.1f} us/q",
                          flush=True)

    # Side by side: each hashmatch result against the faiss result of the same kind (brute force
    # against IndexBinaryFlat, MIH against IndexBinaryMultiHash), identity checked on all pairs.
    mismatches = 0
    anchor = {"cpu-brute": "faiss-flat", "cpu-mih": "faiss-multihash", "cpu": "faiss-multihash",
              "cuda-b1mma": "faiss-flat", "cuda-popc": "faiss-flat"}
    by_key = {(r["backend"], r["list_size"], r["batch"]): r for r in report["faiss"]}
    ref = {}
    for r in ours["results"] + report["faiss"]:
        key = (r["list_size"], r["batch"])
        if key in ref and (ref[key]["hits"], ref[key]["digest"]) != (r["hits"], r["digest"]):
            mismatches += 1
            print(f"RESULT MISMATCH list {key[0]} batch {key[1]}: {ref[key]['backend']} "
                  f"{ref[key]['hits']} {ref[key]['digest']} vs {r['backend']} {r['hits']} {r['digest']}")
        ref.setdefault(key, r)
    print()
    print(f"{'hashmatch':12s} {'vs faiss':16s} {'list':>11s} {'batch':>6s} {'ours q/s':>12s} "
          f"{'faiss q/s':>12s} {'speed-up':>9s} {'ours p50 ms':>12s} {'faiss p50 ms':>13s} {'cpu-time x':>10s} {'identical':>9s}")
    for r in ours["results"]:
        f = by_key.get((anchor.get(r["backend"], "faiss-flat"), r["list_size"], r["batch"]))
        if not f:
            continue
        same = (f["hits"], f["digest"]) == (r["hits"], r["digest"])
        row = {"backend": r["backend"], "faiss": f["backend"], "list_size": r["list_size"],
               "batch": r["batch"], "speedup": f["p50_s"] / r["p50_s"],
               "cpu_time_ratio": f["cpu_s_per_query"] / max(r["cpu_s_per_query"], 1e-12), "identical": same}
        report["comparison"].append(row)
        print(f"{r['backend']:12s} {f['backend']:16s} {r['list_size']:>11d} {r['batch']:>6d} "
              f"{r['queries_per_s']:>12.1f} {f['queries_per_s']:>12.1f} {row['speedup']:>8.1f}x "
              f"{r['p50_s'] * 1e3:>12.3f} {f['p50_s'] * 1e3:>13.3f} {row['cpu_time_ratio']:>9.1f}x {str(same):>9s}")
    report["mismatches"] = mismatches
    with open(args.out, "w") as fh:
        json.dump(report, fh, indent=2)
    print(f"\nwrote {args.out}" + (f"; {mismatches} RESULT MISMATCH(ES)" if mismatches else "; all result sets identical"))
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
