#!/usr/bin/env python3
"""The report of `hashmatch bench`: reads every results-*.json in a folder (one per machine: a
CPU-only run, a GPU run) and writes README.md there (markdown tables, ours beside the anchors as
ratios) and PNG plots per machine (throughput vs list size, latency vs batch size, scan images/s).

    python3 bench/report.py docs/bench

Plots need matplotlib (pip install matplotlib); without it the tables are still written."""
import glob, json, os, sys


def fmt(x, digits=1):
    if x is None:
        return "—"
    if isinstance(x, str):
        return x
    if abs(x) >= 1e6:
        return f"{x:.3g}"
    return f"{x:,.{digits}f}"


def table(headers, rows):
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for r in rows:
        out.append("| " + " | ".join(str(c) for c in r) + " |")
    return "\n".join(out)


def machine_line(r):
    m = r["machine"]
    gpu = ", ".join(g["name"] for g in m.get("gpus", [])) or f"no GPU ({m.get('no_gpu_reason', '')})"
    return (f"**{r['tag']}** — {m['kind'].upper()} machine: {m['cpu']}, {m['cores']} cores; {gpu}. "
            f"hashmatch {m.get('hashmatch', '?')}, {'quick' if r.get('quick') else 'full'} sizes, "
            f"{r['date']}.")


def plots(r, outdir):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except Exception as e:  # noqa: BLE001
        return [], f"plots skipped: {e}"
    tag = r["tag"]
    rows = [x for x in r.get("matcher", []) if "p50_s" in x]
    made = []
    if rows:
        # Throughput vs list size, one line per (backend, batch).
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for be in sorted({x["backend"] for x in rows}):
            for b in sorted({x["batch"] for x in rows}):
                pts = sorted((x["list_size"], x["queries_per_s"]) for x in rows
                             if x["backend"] == be and x["batch"] == b)
                if len(pts) > 0:
                    ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=f"{be}, batch {b}")
        ax.set_xscale("log"); ax.set_yscale("log")
        ax.set_xlabel("list size (entries)"); ax.set_ylabel("queries / s")
        ax.set_title(f"PDQ matcher throughput vs list size ({tag})")
        ax.grid(True, which="both", alpha=0.3); ax.legend(fontsize=7)
        fn = f"throughput_vs_list_size-{tag}.png"
        fig.tight_layout(); fig.savefig(os.path.join(outdir, fn), dpi=110); plt.close(fig)
        made.append(fn)
        # Latency vs batch size, one line per (backend, list size).
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for be in sorted({x["backend"] for x in rows}):
            for n in sorted({x["list_size"] for x in rows}):
                pts = sorted((x["batch"], x["p50_s"] * 1e3) for x in rows
                             if x["backend"] == be and x["list_size"] == n)
                if pts:
                    ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=f"{be}, {n:,} entries")
        ax.set_xscale("log"); ax.set_yscale("log")
        ax.set_xlabel("query batch size"); ax.set_ylabel("p50 latency per call (ms)")
        ax.set_title(f"PDQ matcher latency vs batch size ({tag})")
        ax.grid(True, which="both", alpha=0.3); ax.legend(fontsize=7)
        fn = f"latency_vs_batch-{tag}.png"
        fig.tight_layout(); fig.savefig(os.path.join(outdir, fn), dpi=110); plt.close(fig)
        made.append(fn)
    scans = [x for x in r.get("scan", []) if "images_per_s" in x]
    ref = r.get("anchors", {}).get("pdqhash", {})
    if scans:
        fig, ax = plt.subplots(figsize=(7, 3.5))
        names = [x["config"] for x in scans]
        vals = [x["images_per_s"] for x in scans]
        if "decode_hash_images_per_s_one_core" in ref:
            names.append("pdqhash + Pillow, 1 core\n(decode+hash in memory:\nno file I/O, digests, match)")
            vals.append(ref["decode_hash_images_per_s_one_core"])
        ax.barh(names, vals, color=["#4477aa"] * len(scans) + ["#bbbbbb"] * (len(vals) - len(scans)))
        ax.set_xlabel("images / s")
        ax.set_title(f"End-to-end scan, {scans[0]['width']}x{scans[0]['height']} JPEG ({tag})")
        ax.tick_params(axis="y", labelsize=7)
        fig.tight_layout()
        fn = f"scan-{tag}.png"
        fig.savefig(os.path.join(outdir, fn), dpi=110); plt.close(fig)
        made.append(fn)
    return made, ""


def section(r, outdir):
    out = [f"## {r['tag']}", "", machine_line(r), ""]
    anchors = r.get("anchors", {})
    ref = anchors.get("pdqhash", {})
    # Matcher.
    rows = r.get("matcher", [])
    if rows:
        out += ["### PDQ matcher (list size x batch size)", "",
                "Random 256-bit lists; half the queries are near-duplicates of list entries (0–31 bits "
                "flipped), all of which must be found (`correct`). Threshold 31.", ""]
        t = []
        for x in rows:
            if "p50_s" in x:
                t.append([x["backend"], f"{x['list_size']:,}", x["batch"], fmt(x["p50_s"] * 1e3, 3),
                          fmt(x["p99_s"] * 1e3, 3), fmt(x["queries_per_s"]), fmt(x["comparisons_per_s"]),
                          fmt(x["build_s"], 2), "yes" if x["correct"] else "**NO**"])
            else:
                t.append([x["backend"], f"{x['list_size']:,}", x.get("batch", "—"), "—", "—", "—", "—", "—",
                          "skipped: " + x.get("skipped", "")])
        out += [table(["backend", "list", "batch", "p50 ms", "p99 ms", "queries/s", "comparisons/s",
                       "build s", "correct"], t), ""]
    faiss = anchors.get("faiss", {})
    if "comparison" in faiss:
        out += [f"faiss {faiss.get('faiss_version', '?')} ({faiss.get('faiss_threads', '?')} threads) on the "
                "same lists and queries, same run (bench/match/run_faiss_compare.py): speed-up = faiss p50 / "
                "hashmatch p50; identical result sets checked.", ""]
        out += [table(["hashmatch", "faiss", "list", "batch", "speed-up", "identical"],
                      [[c["backend"], c["faiss"], f"{c['list_size']:,}", c["batch"], f"{c['speedup']:.2f}x",
                        "yes" if c["identical"] else "**NO**"] for c in faiss["comparison"]]), ""]
    elif faiss:
        out += [f"faiss: {faiss.get('skipped', '?')}", ""]
    # PDQ hashing.
    rows = r.get("pdq_hash", [])
    if rows:
        out += ["### PDQ hashing of frames", "",
                "Generated RGB frames already decoded; CPU = the bit-exact reference implementation of "
                "host/pdq; cuda = the batched GPU hasher (bit-identical)."]
        t = []
        for x in rows:
            if "images_per_s" not in x:
                t.append([x["backend"], "—", x["size"], "skipped: " + x.get("skipped", ""), "—", "—", "—", "—"])
                continue
            ratio = "—"
            w, h = map(int, x["size"].split("x"))
            if (x["backend"] == "cpu" and x.get("threads") == 1 and "hash_only_images_per_s_one_core" in ref
                    and (ref.get("width"), ref.get("height")) == (w, h)):
                ratio = f"{x['images_per_s'] / ref['hash_only_images_per_s_one_core']:.2f}x"
            cpu_ratio = "—"
            if (x["backend"] == "cpu" and "hash_only_images_per_cpu_second" in ref
                    and (ref.get("width"), ref.get("height")) == (w, h) and x.get("images_per_cpu_second")):
                cpu_ratio = f"{x['images_per_cpu_second'] / ref['hash_only_images_per_cpu_second']:.2f}x"
            t.append([x["backend"], x.get("threads", f"batch {x.get('batch', '')}"), x["size"],
                      fmt(x["images_per_s"]), fmt(x["megapixels_per_s"]), fmt(x.get("images_per_cpu_second")),
                      ratio, cpu_ratio])
        if "hash_only_images_per_s_one_core" in ref:
            t.append(["pdqhash (reference)", 1, f"{ref['width']}x{ref['height']}",
                      fmt(ref["hash_only_images_per_s_one_core"]), "—",
                      fmt(ref.get("hash_only_images_per_cpu_second")), "1.00x", "1.00x"])
        out += ["", table(["backend", "threads", "size", "images/s", "MP/s", "images per CPU-second",
                           "vs pdqhash (1 core)", "per CPU-second vs pdqhash"], t), ""]
    # Scan.
    rows = r.get("scan", [])
    if rows:
        x0 = rows[0]
        out += ["### End-to-end scan", "",
                f"`run_scan` over {x0['files']:,} files ({x0['distinct_images']:,} distinct generated "
                f"{x0['width']}x{x0['height']} JPEGs, quality 90, the rest hard links; page cache warm) "
                f"against a list of {x0['list_size']:,} PDQ hashes (random, plus the hashes of every 8th "
                "image: `matched` must equal `planted`). Per file: read, MD5+SHA-1+SHA-256, decode, PDQ, "
                "match, JSON line.", ""]
        t = []
        for x in rows:
            if "images_per_s" not in x:
                t.append([x["config"], "—", "—", "—", "—", "—", "—", "—", "—", "skipped: " + x.get("skipped", "")])
                continue
            ratio = "—"
            if "decode_hash_images_per_s_one_core" in ref:
                ratio = f"{x['images_per_s_per_core'] / ref['decode_hash_images_per_s_one_core']:.2f}x"
            cpu_ratio = "—"
            if "images_per_cpu_second" in x and "decode_hash_images_per_cpu_second" in ref:
                cpu_ratio = f"{x['images_per_cpu_second'] / ref['decode_hash_images_per_cpu_second']:.2f}x"
            t.append([x["config"], x.get("matcher", "—"), fmt(x["images_per_s"]), fmt(x["images_per_s_per_core"]),
                      fmt(x.get("images_per_cpu_second")), fmt(x["mb_per_s"]),
                      f"{x['matched']}/{x['planted_files']}", ratio, cpu_ratio,
                      "yes" if x["correct"] else "**NO**"])
        if "decode_hash_images_per_s_one_core" in ref:
            t.append(["pdqhash + Pillow (reference), decode+hash only", "—", "—",
                      fmt(ref["decode_hash_images_per_s_one_core"]),
                      fmt(ref.get("decode_hash_images_per_cpu_second")), "—", "—", "1.00x", "1.00x", "—"])
        out += [table(["config", "matcher", "images/s", "images/s per core", "images per CPU-second", "MB/s",
                       "matched/planted", "per core vs pdqhash", "per CPU-second vs pdqhash", "correct"], t), "",
                "Per core = images/s divided by the workers (wall clock); per CPU-second = images divided by "
                "the process's CPU time (all threads), which holds when the machine is shared with other work.",
                ""]
    # vPDQ.
    v, vr = r.get("vpdq", {}), anchors.get("vpdq", {})
    if "frames_per_s" in v:
        line = (f"### vPDQ\n\nEvery frame of a generated clip ({v['clip']}), one thread: hashmatch "
                f"{fmt(v['frames_per_s'])} frames/s")
        if "frames_per_s" in vr:
            line += (f"; vpdq (PyPI, reference) {fmt(vr['frames_per_s'])} frames/s "
                     f"({v['frames_per_s'] / vr['frames_per_s']:.2f}x)")
        elif vr:
            line += f"; vpdq: {vr.get('skipped', '?')}"
        out += [line + ".", ""]
    if "skipped" in ref:
        out += [f"pdqhash anchor: {ref['skipped']}", ""]
    areas = r.get("areas", {})
    vid = areas.get("bench_video", {})
    if isinstance(vid, dict) and vid.get("results"):
        clip = vid.get("clip", {})
        out += ["### Video hashing (bench_video)", "",
                f"Generated clip {clip.get('width', '?')}x{clip.get('height', '?')}, "
                f"{clip.get('seconds', '?')} s; exact vPDQ = one hash per second.", ""]
        t = [[x["codec"], x["mode"], x["decoder"], x["streams"], fmt(x["frames_per_second"], 0),
              fmt(x["video_seconds_per_second"]), "FAILED" if x.get("failed") else ""]
             for x in vid["results"]]
        for k, a in vid.items():
            if k.startswith("anchor_") and isinstance(a, dict):
                t.append([k[7:], "exact", "vpdq (reference)", 1, fmt(a["frames_per_second"], 0),
                          fmt(a["video_seconds_per_second"]), ""])
        out += [table(["codec", "mode", "decoder", "streams", "frames/s", "video s/s", ""], t), ""]
    srv = areas.get("bench_server", {})
    if isinstance(srv, dict) and srv.get("runs"):
        out += ["### Server load (bench_server via run_server_bench.py)", ""]
        t = []
        for x in srv["runs"]:
            sat = x["saturation"]
            t.append([x["setting"], x["endpoint"], str(x["backend"]).split(":")[0], fmt(sat["items_per_second"]),
                      fmt(sat["latency_seconds"]["p50"] * 1e3), fmt(sat["latency_seconds"]["p99"] * 1e3)])
        out += [table(["setting (frames:delay)", "endpoint", "backend", "items/s", "p50 ms", "p99 ms"], t), ""]
    ran = [k for k, a in areas.items() if isinstance(a, dict) and "skipped" not in a]
    skipped = [f"{k} ({a['skipped']})" for k, a in areas.items() if isinstance(a, dict) and "skipped" in a]
    if ran or skipped:
        out += ["Per-area executables: " + (", ".join(ran) + " ran (JSON in the results file)" if ran else "none ran")
                + ("; " + ", ".join(skipped) if skipped else "") + ".", ""]
    made, note = plots(r, outdir)
    for fn in made:
        out += [f"![{fn}]({fn})", ""]
    if note:
        out += [note, ""]
    return out


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else "docs/bench"
    files = sorted(glob.glob(os.path.join(outdir, "results-*.json")))
    if not files:
        sys.exit(f"report: no results-*.json in {outdir}")
    results = [json.load(open(f)) for f in files]
    # CPU machines first, then GPU machines.
    results.sort(key=lambda r: (r["machine"]["kind"] != "cpu", r["tag"]))
    lines = ["# hashmatch capacity benchmarks", "",
             "Written by `bench/report.py` from the `results-*.json` files beside it, each made by "
             "`hashmatch bench` on one machine (the tag says which: `cpu` = a CPU-only machine, "
             "`gpu-*` = a GPU machine). Anchors ran in the same run on the same inputs.", ""]
    for r in results:
        lines += section(r, outdir)
    with open(os.path.join(outdir, "README.md"), "w") as fh:
        fh.write("\n".join(lines).rstrip() + "\n")
    print(f"report: wrote {os.path.join(outdir, 'README.md')} ({len(results)} machine(s))")


if __name__ == "__main__":
    main()
