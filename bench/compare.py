#!/usr/bin/python3
"""Run dcp's benchmark comparison and report it.

Runs the C++ contenders (dcp_compare) and the Rust peers (dcp-rust-peers) -- it builds nothing;
bench/run.sh does -- and then:
  * prints one markdown table per workload, with a "x dcp" ratio column (peer / dcp),
  * checks the targets from the issue and prints PASS or MISS for each,
  * writes a PNG plot (--plot, default build/bench/comparison.png),
  * with --write-doc, replaces the results section of docs/benchmarks.md.

Repetitions: each of the --reps rounds runs both binaries once (--reps 1), alternating C++ and
Rust, and the reported value is the median over rounds. Interleaving keeps slow drift on a shared
machine from favouring whichever binary ran first.

Exit status: 1 if a binary fails (e.g. a lost or reordered message), 2 on a MISS with --strict,
otherwise 0.
"""

import argparse
import datetime
import json
import os
import platform
import re
import statistics
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_CPP = REPO / "build/bench/bench/dcp_compare"
DEFAULT_RUST = REPO / "bench/rust/target/release/dcp-rust-peers"
DEFAULT_PLOT = REPO / "build/bench/comparison.png"
DEFAULT_DOC = REPO / "docs/benchmarks.md"
DOC_BEGIN = "<!-- results:begin (written by bench/compare.py --write-doc) -->"
DOC_END = "<!-- results:end -->"

DCP = "dcp"
POOL = "dcp::WorkerPool"
THREAD_PER_EVENT = "std::thread per event"
CROSSBEAM = "crossbeam-channel"
MOODYCAMEL = "moodycamel::BlockingConcurrentQueue"
LATENCY_TOLERANCE = 1.2  # dcp's round trip within 1.2x of the best peer
POOL_SPEEDUP = 20.0      # worker pool at least 20x the events/s of thread-per-event


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cpp", type=Path, default=DEFAULT_CPP, help="dcp_compare binary (default: %(default)s)")
    parser.add_argument("--rust", type=Path, default=DEFAULT_RUST, help="dcp-rust-peers binary (default: %(default)s)")
    parser.add_argument("--no-rust", action="store_true", help="skip the Rust peers")
    parser.add_argument("--quick", action="store_true", help="small sizes, 1 round: a smoke test, not a measurement")
    parser.add_argument("--reps", type=int, help="rounds; the median is reported (default 5, or 1 with --quick)")
    parser.add_argument("--messages", type=int, help="messages per throughput run (binary default 2,000,000)")
    parser.add_argument("--round-trips", type=int, help="ping-pong round trips per run (binary default 100,000)")
    parser.add_argument("--events", type=int, help="events per thread_per_event run (binary default 20,000)")
    parser.add_argument("--capacity", type=int, help="capacity of bounded queues (binary default 1024)")
    parser.add_argument("--plot", type=Path, default=DEFAULT_PLOT, help="PNG output (default: %(default)s)")
    parser.add_argument("--results", type=Path, help="also save every raw result line (JSON lines) here")
    parser.add_argument("--from-results", type=Path, help="report on a saved --results file instead of running")
    parser.add_argument("--write-doc", action="store_true", help="update the results section of docs/benchmarks.md")
    parser.add_argument("--doc", type=Path, default=DEFAULT_DOC, help="document for --write-doc (default: %(default)s)")
    parser.add_argument("--strict", action="store_true", help="exit with status 2 if any target is missed")
    args = parser.parse_args()
    if args.reps is None:
        args.reps = 1 if args.quick else 5
    if args.reps < 1:
        parser.error("--reps must be at least 1")
    return args


# ----------------------------------------------------------------------------------------------
# Running

def binary_args(args):
    extra = ["--reps", "1"]
    if args.quick:
        extra.insert(0, "--quick")
    for flag, value in (("--messages", args.messages), ("--round-trips", args.round_trips),
                        ("--events", args.events), ("--capacity", args.capacity)):
        if value is not None:
            extra += [flag, str(value)]
    return extra


def run_binary(path, extra):
    if not path.exists():
        sys.exit(f"compare.py: {path} not found; build it first (bench/run.sh does)")
    command = [str(path)] + extra
    completed = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if completed.returncode != 0:
        sys.stderr.write(completed.stderr)
        sys.exit(f"compare.py: {' '.join(command)} failed with status {completed.returncode}")
    results = []
    for line in completed.stdout.splitlines():
        line = line.strip()
        if line:
            results.append(json.loads(line))
    return results


LOAD_AVERAGES = []  # 1-minute load average before and after the run: the machine may be shared


def collect(args):
    """Every raw result from every round, each tagged with its round number."""
    if args.from_results:
        with open(args.from_results) as file:
            return [json.loads(line) for line in file if line.strip()]
    LOAD_AVERAGES.append(os.getloadavg()[0])
    try:
        return run_rounds(args)
    finally:
        LOAD_AVERAGES.append(os.getloadavg()[0])


def run_rounds(args):
    extra = binary_args(args)
    raw = []
    for round_number in range(1, args.reps + 1):
        binaries = [args.cpp] + ([] if args.no_rust else [args.rust])
        for path in binaries:
            print(f"[round {round_number}/{args.reps}] {path.name} {' '.join(extra)}", file=sys.stderr, flush=True)
            for result in run_binary(path, extra):
                result["round"] = round_number
                raw.append(result)
    if args.results:
        args.results.parent.mkdir(parents=True, exist_ok=True)
        with open(args.results, "w") as file:
            for result in raw:
                file.write(json.dumps(result) + "\n")
    return raw


def key_of(result):
    return (result["workload"], result["impl"], result.get("producers"), result.get("bounded"))


def aggregate(raw):
    """Median over rounds for each (workload, impl, producers, bounded)."""
    groups = defaultdict(list)
    for result in raw:
        groups[key_of(result)].append(result)
    merged = {}
    for key, results in groups.items():
        first = results[0]
        row = dict(first)
        rates = [r["msgs_per_sec"] for r in results]
        row["msgs_per_sec"] = statistics.median(rates)
        row["msgs_per_sec_min"] = min(r.get("msgs_per_sec_min", r["msgs_per_sec"]) for r in results)
        row["msgs_per_sec_max"] = max(r.get("msgs_per_sec_max", r["msgs_per_sec"]) for r in results)
        for field in ("median_ns", "p99_ns"):
            values = [r[field] for r in results if r.get(field) is not None]
            row[field] = statistics.median(values) if values else None
        row["reps"] = sum(r.get("reps", 1) for r in results)
        merged[key] = row
    return merged


# ----------------------------------------------------------------------------------------------
# Formatting

def millions(rate):
    return f"{rate / 1e6:.2f}"


def micros(ns):
    return "n/a" if ns is None else f"{ns / 1e3:.2f}"


def ratio(value, reference):
    if value is None or reference in (None, 0):
        return "n/a"
    return f"{value / reference:.2f}x"


def impl_label(row):
    name = row["impl"]
    if row.get("lang") == "rust":
        name += " (Rust)"
    if row.get("wait") == "spin/yield":
        name += " [spin/yield]"
    return f"**{name}**" if row["impl"] in (DCP, POOL) else name


def rows_of(merged, workload):
    return [row for key, row in merged.items() if key[0] == workload]


def table_row(cells):
    return "| " + " | ".join(cells) + " |"


def sort_rows(rows, value, impl_of=lambda row: row["impl"]):
    """dcp first, then best first."""
    return sorted(rows, key=lambda row: (impl_of(row) not in (DCP, POOL), -value(row)))


def any_producer(by_producers):
    return next(iter(by_producers.values()))


def throughput_tables(merged):
    lines = []
    for bounded in (True, False):
        rows = {}
        for (workload, impl, producers, is_bounded), row in merged.items():
            if workload == "mpsc_throughput" and is_bounded == bounded:
                rows.setdefault((impl, row.get("lang")), {})[producers] = row
        if not rows:
            continue
        dcp = rows.get((DCP, "c++"), {})
        capacity = next(iter(next(iter(rows.values())).values())).get("capacity")
        kind = f"bounded, capacity {capacity}" if bounded else "unbounded"
        lines.append(f"### MPSC throughput, {kind} (million messages/s; x dcp = peer / dcp, above 1 is faster than dcp)")
        lines.append("")
        lines.append("| implementation | 1 producer | x dcp | 2 producers | x dcp | 4 producers | x dcp |")
        lines.append("|---|---:|---:|---:|---:|---:|---:|")
        ordered = sort_rows(rows.values(), lambda by_p: by_p.get(1, {}).get("msgs_per_sec", 0),
                            lambda by_p: any_producer(by_p)["impl"])
        for by_producers in ordered:
            any_row = any_producer(by_producers)
            cells = [impl_label(any_row)]
            for producers in (1, 2, 4):
                row = by_producers.get(producers)
                reference = dcp.get(producers, {}).get("msgs_per_sec")
                if row is None:
                    cells += ["-", "-"]
                else:
                    cells += [millions(row["msgs_per_sec"]), ratio(row["msgs_per_sec"], reference)]
            lines.append(table_row(cells))
        lines.append("")
    return lines


def ping_pong_table(merged):
    rows = rows_of(merged, "ping_pong")
    if not rows:
        return []
    dcp = {row["bounded"]: row for row in rows if row["impl"] == DCP}
    lines = ["### Ping-pong round trip (microseconds; x dcp = peer / dcp, above 1 is slower than dcp)", "",
             "| implementation | queue | median | x dcp | p99 | x dcp |",
             "|---|---|---:|---:|---:|---:|"]
    for bounded in (True, False):
        group = [row for row in rows if row["bounded"] == bounded]
        reference = dcp.get(bounded, {})
        for row in sort_rows(group, lambda r: -r["median_ns"]):
            lines.append(table_row([
                impl_label(row), "bounded" if bounded else "unbounded",
                micros(row["median_ns"]), ratio(row["median_ns"], reference.get("median_ns")),
                micros(row["p99_ns"]), ratio(row["p99_ns"], reference.get("p99_ns"))]))
    lines.append("")
    return lines


def events_table(merged):
    rows = rows_of(merged, "thread_per_event")
    if not rows:
        return []
    pool = next((row for row in rows if row["impl"] == POOL), None)
    lines = ["### Thread per event vs worker pool (x dcp = peer / dcp::WorkerPool events/s)", "",
             "| implementation | events/s | ns per event | x dcp |", "|---|---:|---:|---:|"]
    for row in sort_rows(rows, lambda r: r["msgs_per_sec"]):
        label = impl_label(row)
        if row["impl"] == POOL and row.get("threads"):
            label += f" ({row['threads']} threads)"
        lines.append(table_row([label, f"{row['msgs_per_sec']:,.0f}", f"{1e9 / row['msgs_per_sec']:,.0f}",
                                ratio(row["msgs_per_sec"], pool["msgs_per_sec"] if pool else None)]))
    lines.append("")
    return lines


# ----------------------------------------------------------------------------------------------
# Targets

def verdict(passed):
    return "PASS" if passed else "MISS"


def check_targets(merged):
    """[(status, text)] for every target the results allow checking; status is PASS, MISS or INFO."""
    checks = []

    def find(workload, impl, producers, bounded):
        return merged.get((workload, impl, producers, bounded))

    for bounded in (True, False):
        kind = "bounded" if bounded else "unbounded"
        for producers in (1, 2, 4):
            dcp = find("mpsc_throughput", DCP, producers, bounded)
            if dcp is None:
                continue
            # moodycamel has no blocking bounded mode; its target applies to unbounded only.
            peers = [CROSSBEAM] + ([] if bounded else [MOODYCAMEL])
            for peer_name in peers:
                peer = find("mpsc_throughput", peer_name, producers, bounded)
                if peer is None:
                    continue
                passed = dcp["msgs_per_sec"] >= peer["msgs_per_sec"]
                checks.append((verdict(passed), f"throughput {kind}, {producers} producer(s): dcp {millions(dcp['msgs_per_sec'])} "
                                       f">= {peer_name} {millions(peer['msgs_per_sec'])} M msg/s "
                                       f"(dcp/peer {dcp['msgs_per_sec'] / peer['msgs_per_sec']:.2f})"))

    ping = rows_of(merged, "ping_pong")
    blocking_peers = [row for row in ping if row["impl"] != DCP and row.get("wait") == "blocking"]
    spinning_peers = [row for row in ping if row["impl"] != DCP and row.get("wait") != "blocking"]
    for dcp in (row for row in ping if row["impl"] == DCP):
        kind = "bounded" if dcp["bounded"] else "unbounded"
        if blocking_peers:
            best = min(blocking_peers, key=lambda r: r["median_ns"])
            passed = dcp["median_ns"] <= LATENCY_TOLERANCE * best["median_ns"]
            checks.append((verdict(passed), f"round trip, dcp {kind}: median {micros(dcp['median_ns'])} us <= "
                                   f"{LATENCY_TOLERANCE} x best blocking peer {impl_label(best)} "
                                   f"{'bounded' if best['bounded'] else 'unbounded'} {micros(best['median_ns'])} us "
                                   f"(dcp/peer {dcp['median_ns'] / best['median_ns']:.2f})"))
        if spinning_peers:
            # A spin-waiting queue burns a core while idle: reported, but not the yardstick.
            best = min(spinning_peers, key=lambda r: r["median_ns"])
            checks.append(("INFO", f"round trip, dcp {kind} vs spin-waiting peer (not a target): median {micros(dcp['median_ns'])} us vs "
                                   f"{impl_label(best)} {micros(best['median_ns'])} us "
                                   f"(dcp/peer {dcp['median_ns'] / best['median_ns']:.2f})"))

    pool = merged.get(("thread_per_event", POOL, None, None))
    threads = merged.get(("thread_per_event", THREAD_PER_EVENT, None, None))
    if pool and threads:
        speedup = pool["msgs_per_sec"] / threads["msgs_per_sec"]
        checks.append((verdict(speedup >= POOL_SPEEDUP), f"worker pool: {speedup:.1f}x the events/s of thread-per-event "
                                                f"(target >= {POOL_SPEEDUP:.0f}x)"))
    return checks


def targets_lines(checks):
    lines = ["### Targets", ""]
    for status, text in checks:
        lines.append(f"- {status}: {text}")
    lines.append("")
    return lines


# ----------------------------------------------------------------------------------------------
# Plot

def write_plot(merged, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    figure, axes = plt.subplots(2, 2, figsize=(15, 10))

    def label(row):
        return impl_label(row).replace("**", "")

    # One colour per implementation in every panel; red is reserved for dcp.
    palette = ["tab:blue", "tab:orange", "tab:green", "tab:purple", "tab:brown", "tab:pink", "tab:gray",
               "tab:olive", "tab:cyan", "navy", "gold"]
    others = sorted({(row["impl"], row.get("lang")) for row in merged.values() if row["impl"] not in (DCP, POOL)})
    colours = {name: palette[i % len(palette)] for i, name in enumerate(others)}

    def colour(row, _index=None):
        return "tab:red" if row["impl"] in (DCP, POOL) else colours[(row["impl"], row.get("lang"))]

    for axis, bounded in ((axes[0][0], True), (axes[0][1], False)):
        rows = defaultdict(dict)
        for (workload, impl, producers, is_bounded), row in merged.items():
            if workload == "mpsc_throughput" and is_bounded == bounded:
                rows[(impl, row.get("lang"))][producers] = row
        ordered = sort_rows(rows.values(), lambda by_p: by_p.get(1, {}).get("msgs_per_sec", 0),
                            lambda by_p: any_producer(by_p)["impl"])
        width = 0.8 / max(1, len(ordered))
        for index, by_producers in enumerate(ordered):
            any_row = any_producer(by_producers)
            xs = [p_index + index * width for p_index, p in enumerate((1, 2, 4)) if p in by_producers]
            ys = [by_producers[p]["msgs_per_sec"] / 1e6 for p in (1, 2, 4) if p in by_producers]
            axis.bar(xs, ys, width, label=label(any_row), color=colour(any_row, index))
        axis.set_xticks([i + 0.4 - width / 2 for i in range(3)], ["1 producer", "2 producers", "4 producers"])
        axis.set_ylabel("million messages/s (higher is better)")
        axis.set_title(f"MPSC throughput, {'bounded' if bounded else 'unbounded'}")
        axis.legend(fontsize=7)

    axis = axes[1][0]
    ping = sorted(rows_of(merged, "ping_pong"),
                  key=lambda r: (r["impl"] != DCP, r["median_ns"]))
    names = [f"{label(row)} {'B' if row['bounded'] else 'U'}" for row in ping]
    axis.barh(names, [row["median_ns"] / 1e3 for row in ping],
              color=[colour(row) for row in ping],
              hatch=[None if row["bounded"] else "//" for row in ping], label="median")
    axis.scatter([row["p99_ns"] / 1e3 for row in ping], names, marker="|", s=200, color="black", label="p99")
    axis.set_xscale("log")
    axis.invert_yaxis()
    axis.set_xlabel("round trip, microseconds (log; lower is better)  B = bounded, U = unbounded")
    axis.set_title("Ping-pong latency")
    axis.tick_params(axis="y", labelsize=7)
    axis.legend(fontsize=7)

    axis = axes[1][1]
    events = sorted(rows_of(merged, "thread_per_event"),
                    key=lambda r: -r["msgs_per_sec"])
    bars = axis.bar([label(row) for row in events], [row["msgs_per_sec"] for row in events],
                    color=[colour(row) for row in events])
    axis.bar_label(bars, labels=[f"{row['msgs_per_sec']:,.0f}/s" for row in events])
    axis.set_ylabel("events/s (higher is better)")
    axis.set_title("Worker pool vs a thread per event")

    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


# ----------------------------------------------------------------------------------------------
# Machine description and docs/benchmarks.md

def command_output(command):
    try:
        return subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def cmake_cache_value(binary, name):
    for directory in binary.resolve().parents:
        cache = directory / "CMakeCache.txt"
        if cache.exists():
            match = re.search(rf"^{name}:[A-Z]+=(.*)$", cache.read_text(), re.MULTILINE)
            return match.group(1) if match else ""
    return ""


def machine_lines(args, raw):
    lscpu = command_output(["lscpu"])
    model = re.search(r"^Model name:\s*(.*)$", lscpu, re.MULTILINE)
    compiler = cmake_cache_value(args.cpp, "CMAKE_CXX_COMPILER") or "c++"
    build_type = cmake_cache_value(args.cpp, "CMAKE_BUILD_TYPE") or "unknown"
    first = lambda text: text.splitlines()[0] if text else "unknown"
    sizes = {}
    for result in raw:
        for field in ("messages", "round_trips", "events", "capacity", "threads"):
            if result.get(field) is not None:
                sizes.setdefault(field, result[field])
    rounds = max((r.get("round", 1) for r in raw), default=1)
    size = lambda field: f"{sizes[field]:,}" if field in sizes else "?"
    return [
        f"- Date: {datetime.date.today().isoformat()}",
        f"- CPU: {model.group(1).strip() if model else platform.processor() or 'unknown'}, "
        f"{os.cpu_count()} logical cores (threads not pinned)"
        + (f"; 1-minute load average {LOAD_AVERAGES[0]:.2f} before the run, {LOAD_AVERAGES[-1]:.2f} after"
           if LOAD_AVERAGES else "; re-reported from a saved results file"),
        f"- Kernel: {platform.system()} {platform.release()}",
        f"- C++: {Path(compiler).resolve().name}: {first(command_output([compiler, '--version']))}, "
        f"CMAKE_BUILD_TYPE={build_type}",
        f"- Rust: {first(command_output(['rustc', '--version']))}, crossbeam-channel 0.5.6 (Debian)",
        f"- Sizes: {size('messages')} messages per throughput run, {size('round_trips')} round trips, "
        f"{size('events')} events, bounded capacity {size('capacity')}, worker pool threads {size('threads')}; "
        f"median of {rounds} round(s)" + (" (--quick: smoke-test sizes, not a measurement)" if args.quick else ""),
    ] + noise_lines(raw)


def noise_lines(raw):
    """How far apart the rounds were: read a PASS or MISS within that margin as a tie."""
    per_row = defaultdict(list)
    for result in raw:
        per_row[key_of(result)].append(result["msgs_per_sec"])
    spreads = sorted(max(values) / min(values) for values in per_row.values() if len(values) > 1 and min(values) > 0)
    if not spreads:
        return []
    return [f"- Noise: for a given row, fastest round / slowest round is {statistics.median(spreads):.2f}x "
            f"at the median, {spreads[-1]:.2f}x at worst (per-round values: build/bench/comparison.jsonl)"]


def write_doc(path, body):
    text = path.read_text()
    begin, end = text.find(DOC_BEGIN), text.find(DOC_END)
    if begin < 0 or end < begin:
        sys.exit(f"compare.py: {path} has no '{DOC_BEGIN}' ... '{DOC_END}' section")
    text = text[:begin + len(DOC_BEGIN)] + "\n" + body.rstrip() + "\n" + text[end:]
    path.write_text(text)


def main():
    args = parse_args()
    raw = collect(args)
    merged = aggregate(raw)
    checks = check_targets(merged)

    report = []
    report += throughput_tables(merged)
    report += ping_pong_table(merged)
    report += events_table(merged)
    report += targets_lines(checks)
    if args.quick:
        print("NOTE: --quick sizes; this is a smoke test, not a measurement.\n")
    print("\n".join(report))

    write_plot(merged, args.plot)
    print(f"plot: {args.plot}", file=sys.stderr)
    if args.write_doc:
        body = "\n".join(machine_lines(args, raw) + [""] + report)
        write_doc(args.doc, body)
        print(f"updated {args.doc}", file=sys.stderr)

    missed = [text for status, text in checks if status == "MISS"]
    return 2 if (args.strict and missed) else 0


if __name__ == "__main__":
    sys.exit(main())
