#!/usr/bin/env python3
"""Init-behaviour conformance: the same cases against `tini` and probe-exec, shown as a table.

Usage: conformance.py PROBE_EXEC [TINI]
Each case runs a real wrapper around a real child (sh, or a C program compiled here with cc) and
checks one thing an init must do: pass exit codes through, die like its child, forward signals,
keep I/O byte-exact, reap orphans as PID 1 and as a subreaper, and not lose a SIGTERM sent while
it starts. Exits 1 when probe-exec fails a case tini passes, or fails the start-up race.
"""
import atexit
import hashlib
import shutil
import os
import signal
import subprocess
import sys
import tempfile
import time

probe = sys.argv[1]
tini = sys.argv[2] if len(sys.argv) > 2 else "/usr/bin/tini"
work = tempfile.mkdtemp(prefix="conformance-")
atexit.register(shutil.rmtree, work, True)
env = dict(os.environ, PROBE_EXEC_TRACE_DIR=os.path.join(work, "traces"))

SLEEPER_C = r"""
#include <signal.h>
#include <stdio.h>
#include <unistd.h>
static void on(int s) { char b[16]; int n = snprintf(b, sizeof b, "got %d\n", s); write(1, b, n); if (s == SIGTERM) _exit(42); }
int main(void) {
    struct sigaction sa = {0}; sa.sa_handler = on;
    int sigs[] = {SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2, SIGQUIT, SIGWINCH};
    for (unsigned i = 0; i < sizeof sigs / sizeof *sigs; i++) sigaction(sigs[i], &sa, 0);
    write(1, "ready\n", 6);
    for (;;) pause();
}
"""
sleeper = os.path.join(work, "sleeper")
with open(sleeper + ".c", "w") as f:
    f.write(SLEEPER_C)
subprocess.run(["cc", "-O1", "-o", sleeper, sleeper + ".c"], check=True)

WRAPPERS = {
    "tini": lambda *flags: [tini, *flags, "--"],
    "probe-exec": lambda *flags: [probe, "-q", *flags, "--"],
}


def run(argv, stdin=None, timeout=30):
    r = subprocess.run(argv, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, timeout=timeout)
    return r.returncode, r.stdout


def exit_codes(w):
    return all(run(w() + ["/bin/sh", "-c", f"exit {c}"])[0] == c for c in (0, 3, 126, 255))


def death_by_signal(w):
    return run(w() + ["/bin/sh", "-c", "kill -KILL $$"])[0] == 137 and run(w() + ["/bin/sh", "-c", "kill -SEGV $$"])[0] == 139


def forwarding(w):
    p = subprocess.Popen(w() + [sleeper], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    ok = p.stdout.readline() == b"ready\n"
    for s in (signal.SIGINT, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2, signal.SIGQUIT, signal.SIGWINCH):
        p.send_signal(s)
        ok = ok and p.stdout.readline() == f"got {int(s)}\n".encode()
    p.send_signal(signal.SIGTERM)
    ok = ok and p.stdout.readline() == f"got {int(signal.SIGTERM)}\n".encode()
    return ok and p.wait(timeout=10) == 42


def io_exact(w):
    data = bytes((i * 7919 + (i >> 8)) % 256 for i in range(3 << 20))  # 3 MiB, NULs, no final newline
    path = os.path.join(work, "blob")
    with open(path, "wb") as f:
        f.write(data)
    status, out = run(w() + ["/bin/sh", "-c", f"cat {path}; cat {path} >&2"])
    piped_in = run(w() + ["/bin/cat"], stdin=data)[1]
    return status == 0 and hashlib.sha256(out).digest() == hashlib.sha256(data).digest() and piped_in == data


ORPHANS = r"""i=0; while [ $i -lt 50 ]; do (sleep 2 &); i=$((i+1)); done
count() { n=0; for s in /proc/[0-9]*/status; do
  if grep -q "^Name:[[:space:]]*sleep" "$s" 2>/dev/null && grep -q "^State:.*$1" "$s" 2>/dev/null && grep -q "^PPid:[[:space:]]*$2\$" "$s" 2>/dev/null; then n=$((n+1)); fi
done; echo $n; }
echo adopted=$(count "[RSD]" $1)
i=0; while [ $i -lt 50 ] && [ "$(count "[RSD]" $1)" != 0 ]; do sleep 0.2; i=$((i+1)); done
sleep 0.3; echo zombies=$(count Z $1)"""


def reaped(status, out):
    """The wrapper adopted the 50 orphans (they are its children while they sleep) and reaped them."""
    return status == 0 and out == b"adopted=50\nzombies=0\n"


def reaping_pid1(w):
    return reaped(*run(["unshare", "-fp", "--mount-proc"] + w() + ["/bin/sh", "-c", ORPHANS, "sh", "1"]))


def reaping_subreaper(w):
    script = "set -- $PPID\n" + ORPHANS
    return reaped(*run(w("-s") + ["/bin/sh", "-c", script]))


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def pid1_sigterm(w):
    """As PID 1 of a PID namespace, SIGTERM from outside reaches the child and ends the run."""
    p = subprocess.Popen(["unshare", "-fp", "--mount-proc"] + w() + [sleeper], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    ok = p.stdout.readline() == b"ready\n"
    init = children(p.pid)
    if not ok or not init:
        p.kill()
        return False
    os.kill(init[0], signal.SIGTERM)
    return p.stdout.readline() == b"got 15\n" and p.wait(timeout=10) == 42


def signals_blocked(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("SigBlk:"):
                    return int(line.split()[1], 16) != 0
    except OSError:
        pass
    return False


def startup_race(w, flags, attempts=30):
    """SIGTERM sent as soon as the wrapper blocks signals, before its child is set up: the child
    must get it (status 42 from the handler, or 143 from the default action) and nothing may keep
    running. Returns how many attempts lost the signal."""
    lost = 0
    for _ in range(attempts):
        p = subprocess.Popen(w(*flags) + [sleeper], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not signals_blocked(p.pid):
            pass
        os.kill(p.pid, signal.SIGTERM)
        try:
            status = p.wait(timeout=1)
            if status not in (42, 143):
                lost += 1
        except subprocess.TimeoutExpired:
            lost += 1
            for c in children(p.pid):
                os.kill(c, signal.SIGKILL)
            p.kill()
            p.wait()
    return lost


CASES = [
    ("exit codes 0/3/126/255 passed through", exit_codes),
    ("child killed by SIGKILL/SIGSEGV -> 137/139", death_by_signal),
    ("INT HUP USR1 USR2 QUIT WINCH TERM forwarded", forwarding),
    ("stdin/stdout/stderr byte-exact (3 MiB binary)", io_exact),
    ("PID 1: 50 orphans adopted and reaped", reaping_pid1),
    ("subreaper (-s): 50 orphans adopted and reaped", reaping_subreaper),
    ("PID 1: SIGTERM from outside reaches the child", pid1_sigterm),
]

results = {}
width = max(len(name) for name, _ in CASES) + 2
print(f"{'case':<{width}}{'tini':>8}{'probe-exec':>12}")
for name, case in CASES:
    row = {}
    for wrapper, prefix in WRAPPERS.items():
        try:
            row[wrapper] = bool(case(prefix))
        except Exception as error:  # a case that errors has failed
            print(f"  {wrapper}: {name}: {error}", file=sys.stderr)
            row[wrapper] = False
    results[name] = row
    print(f"{name:<{width}}{'pass' if row['tini'] else 'FAIL':>8}{'pass' if row['probe-exec'] else 'FAIL':>12}")

attempts = 30
race_tini = startup_race(WRAPPERS["tini"], ["-g"], attempts)
race_probe = startup_race(WRAPPERS["probe-exec"], ["-g"], attempts)
name = f"SIGTERM at start-up, signal lost (of {attempts})"
print(f"{name:<{width}}{race_tini:>8}{race_probe:>12}   (both with -g: signal the process group)")

regressions = [n for n, r in results.items() if r["tini"] and not r["probe-exec"]]
if regressions or race_probe:
    print(f"probe-exec falls short of tini: {regressions or ''} {'start-up race lost ' + str(race_probe) if race_probe else ''}")
    sys.exit(1)
print("probe-exec passes every case tini passes, and loses no start-up SIGTERM.")
