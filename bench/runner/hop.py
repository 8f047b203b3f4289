#!/usr/bin/python3
"""One hop through the dcp runner: latency and throughput next to the floor, in one run.

Builds nothing (bench/runner_hop.sh does). For every round (--reps) it runs
  * socket_floor: a raw AF_UNIX SOCK_SEQPACKET ping-pong between two processes, memcpy and pattern
    fill of warm buffers, and dcp's own memfd create/seal/map, and
  * `dcp run` on generated dataflows, source -> sink with the sink's acks going back, once per
    payload size (8 B, 4 KiB, 64 KiB, 4 MiB) and mode:
      latency     one message in flight: one-hop latency (sink's receipt - source's send call) and
                  the round trip (minus the time the sink spends before acking);
      throughput  back to back with a window of unacknowledged messages (flow control, so that the
                  runner never has to drop one): messages/s and bytes/s at the sink.
Every message is checked by the sink (sequence, size, shared memory from 4 KiB on, pattern); any
failure, or a node or `dcp run` exiting non-zero, stops the benchmark with exit status 1.

Latency samples are pooled over the rounds (median and 99th percentile of all of them);
throughput is the median over rounds. It prints markdown tables; --write-doc replaces the section
between the runner-hop markers in docs/benchmarks.md. --results saves every raw result line
(JSON, with its round) and --from-results re-reports a saved file without running anything.
"""

import argparse
import datetime
import json
import os
import platform
import re
import shlex
import signal
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent
DEFAULT_BUILD = REPO / "build/bench"
DEFAULT_DOC = REPO / "docs/benchmarks.md"
DOC_BEGIN = "<!-- runner-hop:begin (written by bench/runner_hop.sh --write-doc) -->"
DOC_END = "<!-- runner-hop:end -->"

KIB, MIB = 1024, 1024 * 1024
SIZES = [8, 4 * KIB, 64 * KIB, 4 * MIB]
SHARED_MEMORY_THRESHOLD = 4 * KIB

# Per payload size: latency messages, throughput messages, throughput window (messages not yet
# acknowledged) and how often the sink acks. Chosen so that one full round takes well under a
# minute on the reference machine, where first-touch page faults make 4 MiB messages slow.
PLAN = {
    8:        dict(latency=5000, throughput=20000, window=256, ack_every=64),
    4 * KIB:  dict(latency=2000, throughput=5000, window=64, ack_every=16),
    64 * KIB: dict(latency=1000, throughput=2000, window=16, ack_every=4),
    4 * MIB:  dict(latency=60, throughput=60, window=4, ack_every=1),
}
QUICK_DIVISOR = 15          # --quick: this many times fewer messages (at least 8)
FLOOR = dict(round_trips=20000, warmup=1000, samples=200)
QUICK_FLOOR = dict(round_trips=2000, warmup=200, samples=20)
RUN_TIMEOUT_S = 600


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", type=Path, default=DEFAULT_BUILD,
                        help="CMake build folder with tools/cli/dcp and bench/runner/* (default: %(default)s)")
    parser.add_argument("--dcp", type=Path, help="the dcp binary (default: BUILD/tools/cli/dcp)")
    parser.add_argument("--bin-dir", type=Path, help="folder of hop_source, hop_sink, socket_floor "
                                                      "(default: BUILD/bench/runner)")
    parser.add_argument("--work-dir", type=Path, help="dataflow files and node outputs (default: BUILD/runner_hop)")
    parser.add_argument("--quick", action="store_true", help="few messages, 1 round: a smoke test (< 30 s), not a measurement")
    parser.add_argument("--reps", type=int, help="rounds (default 3, or 1 with --quick)")
    parser.add_argument("--sizes", help="comma-separated payload sizes in bytes (default: 8,4096,65536,4194304)")
    parser.add_argument("--results", type=Path, help="save every raw result line (JSON lines) here")
    parser.add_argument("--from-results", type=Path, help="report on a saved --results file instead of running")
    parser.add_argument("--write-doc", action="store_true", help="update the runner-hop section of docs/benchmarks.md")
    parser.add_argument("--doc", type=Path, default=DEFAULT_DOC, help="document for --write-doc (default: %(default)s)")
    args = parser.parse_args()
    if args.reps is None:
        args.reps = 1 if args.quick else 3
    if args.reps < 1:
        parser.error("--reps must be at least 1")
    args.dcp = args.dcp or args.build / "tools/cli/dcp"
    args.bin_dir = args.bin_dir or args.build / "bench/runner"
    args.work_dir = args.work_dir or args.build / "runner_hop"
    if args.sizes:
        try:
            args.sizes = [int(size) for size in args.sizes.split(",")]
        except ValueError:
            parser.error("--sizes takes comma-separated byte counts")
        unknown = [size for size in args.sizes if size not in PLAN]
        if unknown:
            parser.error(f"--sizes: no plan for {unknown}; known sizes: {sorted(PLAN)}")
    else:
        args.sizes = list(SIZES)
    return args


def say(text):
    print(text, file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------------------------
# Running

def plan_for(size, quick):
    plan = dict(PLAN[size])
    if quick:
        for mode in ("latency", "throughput"):
            plan[mode] = max(8, plan[mode] // QUICK_DIVISOR)
    return plan


def dataflow_yaml(args, size, mode, plan, folder):
    """A source -> sink dataflow whose sink acks back to the source (a cycle, as Dora allows)."""
    count = plan[mode]
    warmup = max(2, count // (10 if mode == "latency" else 20))
    window = plan["window"] if mode == "throughput" else 1
    ack_every = plan["ack_every"] if mode == "throughput" else 1
    # The sink's queue holds the whole window, so drop-oldest never fires; acks are cumulative, so a
    # dropped ack (the source reads them only when its window is full) loses nothing.
    queue = max(10, 2 * window)
    source_args = f"mode={mode} size={size} count={count} warmup={warmup} window={window} out={folder / 'source.json'}"
    sink_args = (f"mode={mode} size={size} count={count} warmup={warmup} ack_every={ack_every} "
                 f"out={folder / 'sink.json'}")
    return f"""# Generated by bench/runner/hop.py: {mode}, {size} byte payloads.
nodes:
  - id: source
    path: {args.bin_dir.resolve() / 'hop_source'}
    args: {source_args}
    inputs:
      ack:
        source: sink/ack
        queue_size: 100
    outputs:
      - data
  - id: sink
    path: {args.bin_dir.resolve() / 'hop_sink'}
    args: {sink_args}
    inputs:
      data:
        source: source/data
        queue_size: {queue}
    outputs:
      - ack
"""


def run_process(command, what):
    """Runs `command`; on a hang, interrupts it (dcp then stops its nodes) and fails."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        stdout, stderr = process.communicate(timeout=RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGINT)
        try:
            stdout, stderr = process.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            stdout, stderr = process.communicate()
        sys.stderr.write(stdout + stderr)
        sys.exit(f"hop.py: {what} did not finish within {RUN_TIMEOUT_S} s")
    if process.returncode != 0:
        sys.stderr.write(stdout + stderr)
        sys.exit(f"hop.py: {what} failed with status {process.returncode}: {shlex.join(map(str, command))}")
    return stdout, stderr


def read_json_line(path, what):
    try:
        with open(path) as file:
            return json.loads(file.readline())
    except (OSError, ValueError) as error:
        sys.exit(f"hop.py: {what}: cannot read {path}: {error}")


def run_floor(args):
    floor = QUICK_FLOOR if args.quick else FLOOR
    command = [str(args.bin_dir / "socket_floor")] + [f"{key}={value}" for key, value in floor.items()]
    stdout, _ = run_process(command, "socket_floor")
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def run_hop(args, size, mode, plan, round_number):
    folder = (args.work_dir / f"{mode}-{size}").resolve()
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("source.json", "sink.json"):
        (folder / name).unlink(missing_ok=True)
    dataflow = folder / "dataflow.yml"
    dataflow.write_text(dataflow_yaml(args, size, mode, plan, folder))
    what = f"dcp run ({mode}, {size} B, round {round_number})"
    started = time.monotonic()
    _, stderr = run_process([str(args.dcp), "run", str(dataflow)], what)
    wall = time.monotonic() - started
    source = read_json_line(folder / "source.json", what)
    sink = read_json_line(folder / "sink.json", what)
    if sink["failures"] != 0 or sink["received"] != sink["count"]:
        sys.stderr.write(stderr)
        sys.exit(f"hop.py: {what}: the sink reports {sink['failures']} failure(s), "
                 f"{sink['received']} of {sink['count']} messages")
    dropped = re.search(r"^\s*sink\s+\d+\s+.*?(\d+)\s*$", stderr, re.MULTILINE)
    if dropped and int(dropped.group(1)) != 0:
        sys.exit(f"hop.py: {what}: the runner dropped {dropped.group(1)} message(s) for the sink")
    results = []
    for result in (source, sink):
        result.update(round=round_number, wall_s=round(wall, 3))
        results.append(result)
    return results


def run_all(args):
    missing = [path for path in (args.dcp, args.bin_dir / "hop_source", args.bin_dir / "hop_sink",
                                 args.bin_dir / "socket_floor") if not path.exists()]
    if missing:
        sys.exit(f"hop.py: not built: {', '.join(map(str, missing))} (bench/runner_hop.sh builds them)")
    raw = []
    load_before = os.getloadavg()[0]
    started = time.monotonic()
    for round_number in range(1, args.reps + 1):
        # The floor goes first in odd rounds and last in even ones, so drift hits both sides.
        floor_first = round_number % 2 == 1
        if floor_first:
            say(f"== round {round_number}/{args.reps}: floor")
            raw += [dict(line, round=round_number) for line in run_floor(args)]
        for size in args.sizes:
            plan = plan_for(size, args.quick)
            for mode in ("latency", "throughput"):
                say(f"== round {round_number}/{args.reps}: dcp run, {mode}, {size_label(size)}")
                raw += run_hop(args, size, mode, plan, round_number)
        if not floor_first:
            say(f"== round {round_number}/{args.reps}: floor")
            raw += [dict(line, round=round_number) for line in run_floor(args)]
    meta = dict(meta=True, load_before=load_before, load_after=os.getloadavg()[0],
                seconds=round(time.monotonic() - started, 1), reps=args.reps, quick=args.quick,
                date=datetime.date.today().isoformat())
    return [meta] + raw


# ----------------------------------------------------------------------------------------------
# Statistics and formatting

def percentile(values, fraction):
    """Nearest-rank percentile of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * fraction // 1))  # ceil(n * fraction)
    return ordered[int(rank) - 1]


def median(values):
    return statistics.median(values) if values else None


def size_label(size):
    if size >= MIB and size % MIB == 0:
        return f"{size // MIB} MiB"
    if size >= KIB and size % KIB == 0:
        return f"{size // KIB} KiB"
    return f"{size} B"


def micros(ns):
    """Microseconds with about three significant digits."""
    if ns is None:
        return "—"
    us = ns / 1000.0
    if us < 10:
        return f"{us:.2f}"
    if us < 100:
        return f"{us:.1f}"
    return f"{us:,.0f}"


def rate(value, digits=0):
    return "—" if value is None else f"{value:,.{digits}f}"


def ratio(value, reference):
    return "—" if value is None or not reference else f"{value / reference:.1f}x"


class Summary:
    """Pooled samples and per-round values, by (size, mode) and by floor measurement."""

    def __init__(self, raw):
        self.meta = next((line for line in raw if line.get("meta")), {})
        self.hop = defaultdict(lambda: defaultdict(list))      # size -> field -> pooled samples
        self.throughput = defaultdict(list)                    # size -> [sink result per round]
        self.floor = defaultdict(lambda: defaultdict(list))    # (floor, size) -> field -> pooled samples
        self.counts = defaultdict(int)                          # (size, mode) -> messages per run
        self.round_medians = defaultdict(list)                  # size -> one-hop median of each round
        for line in raw:
            if line.get("meta"):
                continue
            if "floor" in line:
                for field, value in line.items():
                    if isinstance(value, list):
                        self.floor[(line["floor"], line["size"])][field] += value
                continue
            size, mode = line["size"], line["mode"]
            self.counts[(size, mode)] = line["count"]
            if mode == "latency":
                if line["role"] == "sink" and line["hop_ns"]:
                    self.round_medians[size].append(median(line["hop_ns"]))
                for field, value in line.items():
                    if isinstance(value, list):
                        self.hop[size][field] += value
            elif line["role"] == "sink":
                self.throughput[size].append(line)
        self.sizes = sorted({size for size, _ in self.counts})
        self.rounds = max((line.get("round", 1) for line in raw if not line.get("meta")), default=1)

    def floor_median(self, kind, size, field="ns"):
        return median(self.floor[(kind, size)][field])

    def one_way_floor(self, size):
        """Raw socket one way for what fits one small datagram; a wake-up plus one memcpy above."""
        rtt = self.floor[("ping_pong", size)]["rtt_ns"] if size <= SHARED_MEMORY_THRESHOLD else None
        if rtt:
            return median(rtt) / 2, f"socket {size_label(size)}"
        wake = self.floor[("ping_pong", 8)]["rtt_ns"]
        copy = self.floor_median("memcpy", size)
        if not wake or copy is None:
            return None, "—"
        return median(wake) / 2 + copy, "socket 8 B + memcpy"


def main_table(summary):
    lines = [
        "| payload | dcp one hop median (µs) | p99 (µs) | round trip median (µs) | floor one way median (µs) "
        "| floor is | x floor | throughput (msg/s) | throughput (MB/s) |",
        "|---|---:|---:|---:|---:|---|---:|---:|---:|",
    ]
    for size in summary.sizes:
        hop = summary.hop[size]
        hop_median = median(hop["hop_ns"])
        floor, floor_kind = summary.one_way_floor(size)
        throughput = summary.throughput[size]
        msgs = median([t["msgs_per_sec"] for t in throughput])
        mbytes = median([t["bytes_per_sec"] / 1e6 for t in throughput])
        lines.append(
            f"| {size_label(size)} | {micros(hop_median)} | {micros(percentile(hop['hop_ns'], 0.99) if hop['hop_ns'] else None)} "
            f"| {micros(median(hop['round_trip_ns']))} | {micros(floor)} | {floor_kind} | {ratio(hop_median, floor)} "
            f"| {rate(msgs)} | {rate(mbytes, 1 if mbytes is not None and mbytes < 100 else 0)} |")
    return lines


def floor_table(summary):
    lines = [
        "| payload | socket one way median (µs) | p99 (µs) | socket round trip median (µs) | memcpy once (µs) "
        "| memcpy (GB/s) | pattern fill, warm buffer (µs) | pattern fill, fresh memfd (µs) "
        "| memfd create + seal + map + release (µs) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for size in summary.sizes:
        rtt = summary.floor[("ping_pong", size)]["rtt_ns"]
        copy = summary.floor_median("memcpy", size)
        memfd = summary.floor[("memfd", size)]
        overhead = None
        if memfd["create_ns"]:
            overhead = sum(median(memfd[field]) for field in ("create_ns", "seal_ns", "map_ns", "release_ns"))
        lines.append(
            f"| {size_label(size)} | {micros(median(rtt) / 2 if rtt else None)} "
            f"| {micros(percentile(rtt, 0.99) / 2 if rtt else None)} | {micros(median(rtt) if rtt else None)} "
            f"| {micros(copy) if size > 8 else '—'} | {rate(size / copy, 1) if copy and size > 8 else '—'} "
            f"| {micros(summary.floor_median('fill_warm', size)) if size > 8 else '—'} "
            f"| {micros(median(memfd['fill_ns']))} | {micros(overhead)} |")
    return lines


def breakdown_table(summary):
    lines = [
        "| payload | send_with call, source blocked (µs) | before fill: memfd allocation (µs) | fill (µs) "
        "| fill end to receipt (µs) | sink: checks + release before ack (µs) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for size in summary.sizes:
        hop = summary.hop[size]
        cells = [median(hop[field]) for field in ("send_call_ns", "before_fill_ns", "fill_ns", "after_fill_ns", "busy_ns")]
        lines.append(f"| {size_label(size)} | " + " | ".join(micros(cell) for cell in cells) + " |")
    return lines


def command_output(command):
    try:
        return subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout.strip()
    except OSError:
        return ""


def cmake_cache_value(build, name):
    try:
        text = (build / "CMakeCache.txt").read_text()
    except OSError:
        return None
    match = re.search(rf"^{re.escape(name)}:[A-Z]+=(.*)$", text, re.MULTILINE)
    return match.group(1) if match else None


def machine_lines(args, summary):
    meta = summary.meta
    lscpu = command_output(["lscpu"])
    model = re.search(r"^Model name:\s*(.*)$", lscpu, re.MULTILINE)
    hypervisor = re.search(r"^Hypervisor vendor:\s*(.*)$", lscpu, re.MULTILINE)
    virtual = hypervisor.group(1).strip() if hypervisor else ("yes" if re.search(r"\bhypervisor\b", lscpu) else "no")
    compiler = cmake_cache_value(args.build, "CMAKE_CXX_COMPILER") or "c++"
    build_type = cmake_cache_value(args.build, "CMAKE_BUILD_TYPE") or "unknown"
    first = lambda text: text.splitlines()[0] if text else "unknown"
    load = (f"1-minute load average {meta['load_before']:.2f} before the run, {meta['load_after']:.2f} after"
            if "load_before" in meta else "load average not recorded")
    counts = ", ".join(f"{size_label(size)} {summary.counts[(size, 'latency')]:,} / {summary.counts[(size, 'throughput')]:,}"
                       for size in summary.sizes)
    lines = [
        f"- Date: {meta.get('date', datetime.date.today().isoformat())}; {summary.rounds} round(s)"
        + (f", {meta['seconds']:.0f} s" if "seconds" in meta else "")
        + (" (--quick: smoke-test sizes, not a measurement)" if meta.get("quick") else ""),
        f"- CPU: {model.group(1).strip() if model else platform.processor() or 'unknown'}, {os.cpu_count()} logical cores "
        f"(processes not pinned), virtualised: {virtual}; {load}",
        f"- Kernel: {platform.system()} {platform.release()}",
        f"- C++: {Path(compiler).resolve().name}: {first(command_output([compiler, '--version']))}, "
        f"CMAKE_BUILD_TYPE={build_type}",
        f"- Messages per `dcp run` (latency / throughput): {counts}; the first 10 % (latency) or 5 % (throughput) "
        "are not measured",
    ]
    spreads = {size: max(values) / min(values) for size, values in summary.round_medians.items()
               if len(values) > 1 and min(values) > 0}
    if spreads:
        lines.append("- Noise: slowest / fastest round's one-hop median: "
                     + ", ".join(f"{size_label(size)} {spread:.2f}x" for size, spread in sorted(spreads.items()))
                     + " (every sample: build/bench/runner_hop/results.jsonl)")
    fresh = summary.floor[("memfd", 4 * MIB)]["fill_ns"]
    warm = summary.floor_median("fill_warm", 4 * MIB)
    if fresh and warm is not None:
        per_page = (median(fresh) - warm) / (4 * MIB / 4096)
        lines.append(f"- First touch of fresh memory here: {per_page / 1000:.1f} µs per 4 KiB page "
                     "(fresh-memfd fill minus warm fill, 4 MiB, divided by 1024 pages)")
    return lines


def report(args, summary):
    out = []
    if summary.meta.get("quick"):
        out += ["NOTE: --quick sizes; this is a smoke test, not a measurement.", ""]
    out += ["#### One hop, node to node through `dcp run`, next to the floor", ""] + main_table(summary) + [""]
    out += ["#### The floor, measured in the same run (socket_floor)", ""] + floor_table(summary) + [""]
    out += ["#### Where the one hop goes (medians of the latency runs)", ""] + breakdown_table(summary) + [""]
    return out


def write_doc(path, body):
    text = path.read_text()
    begin, end = text.find(DOC_BEGIN), text.find(DOC_END)
    if begin < 0 or end < begin:
        sys.exit(f"hop.py: {path} has no '{DOC_BEGIN}' ... '{DOC_END}' section")
    path.write_text(text[:begin + len(DOC_BEGIN)] + "\n" + body.rstrip() + "\n" + text[end:])


def main():
    args = parse_args()
    if args.from_results:
        with open(args.from_results) as file:
            raw = [json.loads(line) for line in file if line.strip()]
    else:
        raw = run_all(args)
        if args.results:
            args.results.parent.mkdir(parents=True, exist_ok=True)
            with open(args.results, "w") as file:
                for line in raw:
                    file.write(json.dumps(line, separators=(",", ":")) + "\n")
            say(f"raw results: {args.results}")
    summary = Summary(raw)
    body = report(args, summary)
    print("\n".join(machine_lines(args, summary) + [""] + body))
    if args.write_doc:
        write_doc(args.doc, "\n".join(machine_lines(args, summary) + [""] + body))
        say(f"updated {args.doc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
