"""Measures probe-exec against bare exec and tini in the same run; prints figures and ratios.

Called by scripts/bench.sh with the path of the static release binary.
"""
import json
import os
import subprocess
import sys
import tempfile
import time

probe = sys.argv[1]
quick = "--quick" in sys.argv
trace_dir = tempfile.mkdtemp(prefix="probe-bench-")
os.environ["PROBE_EXEC_TRACE_DIR"] = trace_dir
tini = "/usr/bin/tini"
here = os.path.dirname(os.path.abspath(__file__))

# Both binaries are read back from disk, as a container's first start reads its image: a binary just
# built sits in the page cache in the large folios its writes made, and a page fault maps a whole
# folio, so its resident size and fault count depend on how it was written (a fresh copy of
# probe-exec: 0.45 MB more VmHWM and 26 fewer faults than the same bytes read from disk).
# A page not yet written back is not dropped: written back first (a binary just linked is).
def drop_from_page_cache(path):
    fd = os.open(path, os.O_RDONLY)
    os.fdatasync(fd)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    os.close(fd)


for binary in (probe, tini):
    drop_from_page_cache(binary)


def hyperfine(commands, runs, shell):
    out = os.path.join(trace_dir, "hf.json")
    args = ["hyperfine", "--style", "none", "--warmup", "5" if shell else "20", "--runs", str(runs), "--export-json", out]
    if not shell:
        args.append("-N")
    subprocess.run(args + commands, check=True, stdout=subprocess.DEVNULL)
    with open(out) as f:
        results = json.load(f)["results"]
    return [(r["mean"], r["stddev"], r["median"]) for r in results]


def linkage(path):
    """What ldd says of a binary, on one line."""
    r = subprocess.run(["ldd", path], capture_output=True, text=True)
    return " ".join((r.stdout + r.stderr).split()) or "?"


print(f"probe-exec binary: {probe} ({os.path.getsize(probe) / 1e6:.1f} MB); ldd: {linkage(probe)}")
print(f"tini binary:       {tini} ({os.path.getsize(tini) / 1e6:.2f} MB); ldd: {linkage(tini)}")
print(f"machine: {os.cpu_count()} cores, kernel {os.uname().release}")
print()

# Rounds: tini and probe-exec are timed one after the other within each round, and rounds are
# repeated, because this shared VM drifts between hyperfine runs more than within one. The
# ratio judged is the median of the rounds' ratios of medians; every round is printed.
rounds = 1 if quick else 3
runs = 50 if quick else 150
# The floor: a static Swift program linked as probe-exec is that only spawns and waits
# (scripts/bench/spawn_floor.swift). What a ratio target leaves probe-exec for its own work is
# the target times tini less this.
floor = os.path.join(trace_dir, "spawn_floor")
built = subprocess.run(
    ["swiftc", "-O", "-static-executable", "-o", floor, os.path.join(here, "bench", "spawn_floor.swift")],
    capture_output=True, text=True,
)
if built.returncode != 0:  # (its linker warns about dlopen in a static binary: shown only on failure)
    sys.exit(built.stdout + built.stderr)
drop_from_page_cache(floor)
# The traced floor, in C (scripts/bench/traced_floor.c): exec and exit stops, two hardware
# breakpoints, a trace file; no backtrace, no naming. It shows what the tracing mechanism costs.
traced_floor = os.path.join(trace_dir, "traced_floor")
subprocess.run(["cc", "-O2", "-static", "-o", traced_floor, os.path.join(here, "bench", "traced_floor.c")], check=True)
drop_from_page_cache(traced_floor)
results = []
for _ in range(rounds):
    results.append(hyperfine(
        ["/bin/true", f"{tini} -s -- /bin/true", f"{floor} /bin/true", f"{traced_floor} {trace_dir}/floor.ndjson /bin/true",
         f"{probe} --no-ptrace -- /bin/true", f"{probe} -- /bin/true"],
        runs, shell=False,
    ))
print(f"start-up of `W /bin/true` (hyperfine -N, {rounds} round(s) of {runs} runs: mean ± sd, median):")
plain_ratios, traced_ratios, floor_ratios, traced_floor_ratios, room = [], [], [], [], []
for number, (bare, tini_t, floor_t, traced_floor_t, plain_t, probe_t) in enumerate(results, 1):
    if rounds > 1:
        print(f"  round {number}:")
    for label, r, note in [
        ("bare                  ", bare, ""),
        ("tini -s --            ", tini_t, ""),
        ("static Swift spawn    ", floor_t, "   (the floor: spawn and wait, nothing else)"),
        ("C: stops + breakpoints", traced_floor_t, "   (tracing's floor: exec and exit stops, 2 hw breakpoints, trace file)"),
        ("probe-exec --no-ptrace", plain_t, "   (supervise + trace file)"),
        ("probe-exec (default)  ", probe_t, "   (+ ptrace, breakpoints, exit backtrace)"),
    ]:
        print(f"  {label}  {r[0]*1e3:6.2f} ms ± {r[1]*1e3:.2f}, median {r[2]*1e3:.2f}{note}")
    plain_ratios.append(plain_t[2] / tini_t[2])
    traced_ratios.append(probe_t[2] / tini_t[2])
    floor_ratios.append(floor_t[2] / tini_t[2])
    traced_floor_ratios.append(traced_floor_t[2] / tini_t[2])
    room.append(1.5 * tini_t[2] - floor_t[2])
    print(f"  overhead over bare (medians): tini {1e3*(tini_t[2]-bare[2]):.2f} ms, floor {1e3*(floor_t[2]-bare[2]):.2f} ms, "
          f"--no-ptrace {1e3*(plain_t[2]-bare[2]):.2f} ms, default {1e3*(probe_t[2]-bare[2]):.2f} ms")
    print(f"  over the floor (medians): --no-ptrace {1e3*(plain_t[2]-floor_t[2]):.2f} ms, default {1e3*(probe_t[2]-floor_t[2]):.2f} ms; "
          f"1.5 x tini leaves {1e3*room[-1]:.2f} ms over the floor")
median = lambda values: sorted(values)[len(values) // 2]
print(f"  ratio --no-ptrace / tini = {median(plain_ratios):.2f}   (median of rounds {', '.join(f'{r:.2f}' for r in plain_ratios)}; target <= 1.5)")
print(f"  ratio default / tini     = {median(traced_ratios):.2f}   (rounds {', '.join(f'{r:.2f}' for r in traced_ratios)})")
print(f"  ratio floor / tini       = {median(floor_ratios):.2f}   (rounds {', '.join(f'{r:.2f}' for r in floor_ratios)})")
print(f"  ratio C tracing / tini   = {median(traced_floor_ratios):.2f}   (rounds {', '.join(f'{r:.2f}' for r in traced_floor_ratios)})")
print()

# Cold: the machine's first perf event after a second without any waits for an RCU grace period
# in the kernel. probe-exec asks on its own thread at start; the program waits at its exec stop
# for the rest, and the trace's longest stop includes it. Each cold run follows 1.5 s of quiet.
def one_traced_run(trace):
    start = time.monotonic()
    subprocess.run([probe, "-q", "-o", trace, "--", "/bin/true"], check=False)
    wall = time.monotonic() - start
    events = [json.loads(line) for line in open(trace) if line.strip()]
    exit_event = next(e for e in events if e["event"] == "exit")
    fell_back = any(e["event"] == "warning" and "had not answered" in e.get("message", "") for e in events)
    return wall * 1e3, exit_event.get("longest_stop_ms", 0.0), fell_back
cold, warm = [], []
for i in range(3 if quick else 7):
    time.sleep(1.5)
    cold.append(one_traced_run(os.path.join(trace_dir, f"cold{i}.ndjson")))
    warm.append(one_traced_run(os.path.join(trace_dir, f"warm{i}.ndjson")))
print(f"`probe-exec -- /bin/true` cold (after 1.5 s without perf events) and warm just after ({len(cold)} pairs):")
for label, runs_ in [("cold", cold), ("warm", warm)]:
    walls = sorted(r[0] for r in runs_)
    stops = sorted(r[1] for r in runs_)
    print(f"  {label}: wall median {walls[len(walls)//2]:.2f} ms (max {walls[-1]:.2f}), longest stop median "
          f"{stops[len(stops)//2]:.2f} ms (max {stops[-1]:.2f}), int3 fallback in {sum(r[2] for r in runs_)}")
print()

loop = "sh -c 'for i in $(seq 2000); do /bin/true; done'"
runs = 3 if quick else 5
fb, fp, ft = hyperfine([loop, f"{probe} --no-ptrace -- {loop}", f"{probe} -- {loop}"], runs, shell=True)
print(f"fork/exec-heavy child: {loop} ({runs} runs):")
print(f"  bare                    {fb[0]*1e3:7.0f} ms ± {fb[1]*1e3:.0f}")
print(f"  probe-exec --no-ptrace  {fp[0]*1e3:7.0f} ms ± {fp[1]*1e3:.0f}")
print(f"  probe-exec (default)    {ft[0]*1e3:7.0f} ms ± {ft[1]*1e3:.0f}")
print(f"  ratio default / bare = {ft[0] / fb[0]:.2f}   (target <= 1.3)")
print()

crash = os.path.join(trace_dir, "deep_crash")
subprocess.run(["cc", "-O0", "-fno-omit-frame-pointer", "-o", crash, os.path.join(here, "..", "Tests", "Fixtures", "deep_crash.c")], check=True)
gaps, frames = [], 0
for i in range(5 if quick else 20):
    t = os.path.join(trace_dir, f"crash{i}.ndjson")
    subprocess.run([probe, "-q", "-o", t, "--", crash], stderr=subprocess.DEVNULL)
    events = [json.loads(line) for line in open(t) if line.strip()]
    fault = next(e["t_ms"] for e in events if e["event"] == "target_signal")
    exit_ = next(e["t_ms"] for e in events if e["event"] == "exit")
    bt = [e for e in events if e["event"] == "backtrace" and e.get("crashed")]
    frames = len(bt[0]["frames"]) if bt else 0
    gaps.append(exit_ - fault)
gaps.sort()
print(f"crash-to-exit, SIGSEGV {frames} frames deep (fault delivered -> exit recorded, {len(gaps)} runs):")
print(f"  median {gaps[len(gaps)//2]:.1f} ms, max {gaps[-1]:.1f} ms   (target <= 20 ms; includes loading libunwind once)")
print()

threads = os.path.join(trace_dir, "tracee")
subprocess.run(["cc", "-O0", "-g", "-fno-omit-frame-pointer", "-pthread", "-o", threads, os.path.join(here, "..", "Tests", "Fixtures", "tracee.c")], check=True)
gaps, unwound = [], 0
for i in range(3 if quick else 10):
    t = os.path.join(trace_dir, f"threads{i}.ndjson")
    subprocess.run([probe, "-q", "-o", t, "--", threads, "threads-segv", "200"], stderr=subprocess.DEVNULL)
    events = [json.loads(line) for line in open(t) if line.strip()]
    fault = next(e["t_ms"] for e in events if e["event"] == "target_signal")
    exit_ = next(e["t_ms"] for e in events if e["event"] == "exit")
    unwound = sum(1 for e in events if e["event"] == "backtrace")
    gaps.append(exit_ - fault)
gaps.sort()
print(f"crash-to-exit, SIGSEGV with 200 threads ({unwound} thread backtraces written, {len(gaps)} runs):")
print(f"  median {gaps[len(gaps)//2]:.1f} ms, max {gaps[-1]:.1f} ms")
print()

mb = 100 if quick else 500
if "--stdout-mb" in sys.argv:  # e.g. --stdout-mb 10240 for the 10 GB run
    mb = int(sys.argv[sys.argv.index("--stdout-mb") + 1])
producer = f"dd if=/dev/zero bs=1M count={mb} status=none"
runs = 3 if quick else 10
times = hyperfine(
    [f"{producer} | cat > /dev/null", f"{tini} -s -- {producer} | cat > /dev/null", f"{probe} -- {producer} | cat > /dev/null"],
    runs,
    shell=True,
)
names = ["bare", "tini -s --", "probe-exec"]
print(f"stdout throughput, {mb} MB from dd into `cat > /dev/null` through a pipe ({runs} runs):")
for name, (mean, sd, _) in zip(names, times):
    print(f"  {name:11} {mb / mean:8.0f} MB/s   ({mean*1e3:.0f} ms ± {sd*1e3:.0f})")
print(f"  ratio probe-exec / bare = {times[0][0] / times[2][0]:.2f}   (target >= 0.8)")
counted = subprocess.run(f"{probe} -q -- {producer} | wc -c", shell=True, stdout=subprocess.PIPE, text=True).stdout.strip()
print(f"  bytes through probe-exec: {counted} of {mb << 20}")
print()

# Peak RSS (VmHWM) read at the process's own exit stop (scripts/bench/peak_rss.c): exact, where
# sampling /proc/PID/status misses the end and getrusage mixes in the children's peaks.
peak_rss = os.path.join(trace_dir, "peak_rss")
subprocess.run(["cc", "-O2", "-o", peak_rss, os.path.join(here, "bench", "peak_rss.c")], check=True)


def peak_at_exit(argv, runs=3):
    """The median over `runs` of (VmHWM, RssAnon, RssFile) in kB of argv[0]'s process as it ends."""
    found = []
    out = os.path.join(trace_dir, "peak.txt")
    for _ in range(runs):
        if os.path.exists(out):
            os.unlink(out)
        subprocess.run([peak_rss, out] + argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if os.path.exists(out):
            found.append(tuple(int(v) for v in open(out).read().split()))
    found.sort()
    return found[len(found) // 2] if found else (0, 0, 0)


def mib(kib):
    return f"{kib / 1024:5.1f} MB"


rss_tini = peak_at_exit([tini, "-s", "--"] + ["sh", "-c", f"{producer} && sleep 0.05"])
rss_probe = peak_at_exit([probe, "--", "sh", "-c", f"{producer} && sleep 0.05"])
print(f"peak RSS (VmHWM) of the wrapper itself, read as it exits, after {mb} MB passed through it (median of 3):")
print(f"  tini        {mib(rss_tini[0])}")
print(f"  probe-exec  {mib(rss_probe[0])}   (target <= 8 MiB; of it at the end {mib(rss_probe[1])} private memory and "
      f"{mib(rss_probe[2])} pages of its own executable, shared with the page cache)")
print()
# --- Rows of issue 14: real programs, signals, an idle server, SIGTERM latency ---------------
import shlex
import shutil
import signal as signals_module
import statistics

signals_bin = os.path.join(trace_dir, "signals")
subprocess.run(["cc", "-O1", "-o", signals_bin, os.path.join(here, "bench", "signals.c")], check=True)
go_bin = None
if shutil.which("go"):
    go_bin = os.path.join(trace_dir, "goroutines")
    env = dict(os.environ, GOCACHE=os.path.join(trace_dir, "gocache"), GOPATH=os.path.join(trace_dir, "gopath"))
    built = subprocess.run(["go", "build", "-o", go_bin, os.path.join(here, "bench", "goroutines.go")], env=env)
    go_bin = go_bin if built.returncode == 0 else None
frontend = shutil.which("swift-frontend") or os.path.join(os.path.dirname(os.path.realpath(shutil.which("swift") or "/")), "swift-frontend")
programs = [("/bin/true", ["/bin/true"], 30 if quick else 100)]
if shutil.which("node"):
    programs.append(("node -e 0", [shutil.which("node"), "-e", "0"], 5 if quick else 20))
if os.path.exists(frontend):
    programs.append(("swift-frontend --version", [frontend, "--version"], 5 if quick else 20))
if go_bin:
    programs.append(("Go: 8 goroutines busy 300 ms", [go_bin], 3 if quick else 7))
else:
    print("(no Go row: `go` is not installed; apt-get install golang-go)")
programs.append(("signal storm: 50,000 self-sent SIGUSR1", [signals_bin, "storm", "50000"], 3 if quick else 7))


def ms(result):
    return f"{result[2]*1e3:8.2f} ms"


print("real programs, same run each (hyperfine -N medians; ratio to bare):")
print(f"  {'program':40} {'bare':>11} {'--no-ptrace':>11} {'ratio':>6} {'traced':>11} {'ratio':>6}")
for label, argv, runs in programs:
    command = " ".join(shlex.quote(a) for a in argv)
    bare, plain, traced = hyperfine([command, f"{probe} --no-ptrace -- {command}", f"{probe} -- {command}"], runs, shell=False)
    print(f"  {label:40} {ms(bare)} {ms(plain)} {plain[2]/bare[2]:6.2f} {ms(traced)} {traced[2]/bare[2]:6.2f}")
print("  (targets: traced swift-frontend within +30 ms of --no-ptrace; signal storm traced <= 1.5x bare)")
print()

if os.path.exists(frontend):
    print("probe-exec tracing `swift-frontend --version` (a 210 MB binary): its peak RSS read as it exits, and the")
    print("longest stop its trace records (median of 3 each; targets: VmHWM <= 8 MiB, no stop over 5 ms):")
    for mode in [["--no-ptrace"], []]:
        hwm = peak_at_exit([probe] + mode + ["--", frontend, "--version"])
        line = f"  {' '.join(mode) or 'traced':12} VmHWM {mib(hwm[0])} ({mib(hwm[1])} private, {mib(hwm[2])} its executable's pages)"
        if not mode:
            stops = []
            for i in range(3):
                t = os.path.join(trace_dir, f"frontend{i}.ndjson")
                subprocess.run([probe, "-q", "-o", t, "--", frontend, "--version"], stdout=subprocess.DEVNULL)
                events = [json.loads(l) for l in open(t) if l.strip()]
                stops.append(next((e.get("longest_stop_ms", 0.0) for e in events if e["event"] == "exit"), 0.0))
            stops.sort()
            line += f"; longest stop {stops[1]:.2f} ms (max {stops[-1]:.2f})"
        print(line)
    print()


def cpu_seconds(pid):
    """utime + stime of a process, from /proc/PID/stat (after the command name)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


idle = 10 if quick else 60
print(f"probe-exec's own CPU next to an idle `python3 -m http.server` for {idle} s (from /proc/PID/stat):")
for mode in ["--no-ptrace", None]:
    argv = [probe] + ([mode] if mode else []) + ["-q", "--", "python3", "-m", "http.server", "0", "--bind", "127.0.0.1"]
    wrapper = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(idle)
    try:
        child = int(open(f"/proc/{wrapper.pid}/task/{wrapper.pid}/children").read().split()[0])
        own, server = cpu_seconds(wrapper.pid), cpu_seconds(child)
    except (OSError, IndexError, ValueError):
        own, server = float("nan"), float("nan")
    wrapper.send_signal(signals_module.SIGTERM)
    wrapper.wait()
    label = mode or "traced"
    print(f"  {label:12} probe-exec {own:5.2f} CPU-s, the server {server:5.2f} CPU-s   (target <= 0.1 CPU-s in 60 s)")
print()


def term_latencies(argv, count):
    """Start argv (the `signals term` program, bare or wrapped), send SIGTERM `count` times to the
    first process, 20 ms apart (50 a second: below the tracer's storm threshold), and return each
    delay from kill() to the program's handler, in microseconds."""
    p = subprocess.Popen(argv + [signals_bin, "term", str(count)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert p.stdout.readline() == b"ready\n"
    delays = []
    for _ in range(count):
        time.sleep(0.02)
        sent = time.monotonic_ns()
        os.kill(p.pid, signals_module.SIGTERM)
        line = p.stdout.readline()
        if not line:
            break
        delays.append((int(line) - sent) / 1e3)
    p.wait()
    return delays


count = 30 if quick else 100
print(f"SIGTERM -> the program's handler ({count} signals 20 ms apart to the first process; median, p90):")
for label, prefix in [("bare", []), ("tini -s --", [tini, "-s", "--"]), ("probe-exec --no-ptrace", [probe, "--no-ptrace", "-q", "--"]), ("probe-exec (traced)", [probe, "-q", "--"])]:
    d = sorted(term_latencies(prefix, count))
    if d:
        print(f"  {label:24} {statistics.median(d):7.0f} us, p90 {d[int(len(d)*0.9)]:7.0f} us   ({len(d)} delivered)")
subprocess.run(["rm", "-rf", trace_dir])
