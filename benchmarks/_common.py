"""Helpers shared by the benchmark scripts: statistics, child processes, machine state.

Every benchmark script runs as its own process and prints one JSON document on its last line
of stdout; ``run.py`` starts them with a deadline and turns their results into RESULTS.md.
"""

from __future__ import annotations

import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
SRC = REPO / "src"


def use_repo_source() -> None:
    """Measure the ollamakit in this checkout, not whatever copy happens to be installed."""
    if str(SRC) not in sys.path:
        sys.path.insert(0, str(SRC))


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    parts = [str(SRC), str(BENCH_DIR)]
    if env.get("PYTHONPATH"):
        parts.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(parts)
    # Proxies from the environment must never capture loopback traffic.
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    return env


@dataclass(frozen=True)
class Summary:
    median: float
    min: float
    max: float
    n: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Summary:
        if not values:
            raise ValueError("no samples")
        return cls(statistics.median(values), min(values), max(values), len(values))

    def as_dict(self) -> dict[str, float]:
        return {"median": self.median, "min": self.min, "max": self.max, "n": self.n}


def rotated(items: Sequence[Any], round_index: int) -> list[Any]:
    """The contenders of one round, starting one later each round (A B C, B C A, ...), so
    that no contender always runs right after the same neighbour."""
    shift = round_index % len(items) if items else 0
    return list(items[shift:]) + list(items[:shift])


def stop_children_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit, so the ``finally`` blocks that stop the servers a
    benchmark started run when it is killed, instead of leaving them running."""

    def _exit(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, _exit)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_ollamakit(
    workdir: Path, settings: dict[str, str] | None = None
) -> tuple[subprocess.Popen[bytes], str, Path]:
    """``python -m ollamakit.server`` from this checkout on a free 127.0.0.1 port, its store in
    ``workdir/models`` and its log in ``workdir/ollamakit.log``, offline, with extra
    ``settings`` in its environment. Returns the process, its URL and its log."""
    port = free_port()
    log_path = workdir / "ollamakit.log"
    env = child_env()
    env.pop("OLLAMA_HOST", None)
    env.update({"OLLAMAKIT_OFFLINE": "1", **(settings or {})})
    with open(log_path, "wb") as handle:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ollamakit.server",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--models",
                str(workdir / "models"),
            ],
            stdout=handle,
            stderr=subprocess.STDOUT,
            env=env,
        )  # same process group as the script, so a harness timeout kills it too
    return process, f"http://127.0.0.1:{port}", log_path


def wait_ready(process: subprocess.Popen[bytes], url: str, probe: str, log_path: Path) -> None:
    """Wait until ``GET url+probe`` answers 200, for at most 120 s; raise with the end of the
    log if the server exits or never answers."""
    import httpx

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"{url} exited early:\n{log_path.read_text(errors='replace')[-2000:]}"
            )
        try:
            if httpx.get(url + probe, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(
        f"{url} did not become ready:\n{log_path.read_text(errors='replace')[-2000:]}"
    )


def stop(process: subprocess.Popen[bytes]) -> int | None:
    """Terminate, then kill after 15 s; returns the exit status."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)
    return process.returncode


def direct_llama(model_path: Path, threads: int, num_ctx: int) -> Any:
    """llama-cpp-python's ``Llama`` with the settings the server's runner uses (the anchor of
    the server rows)."""
    import llama_cpp

    return llama_cpp.Llama(
        model_path=str(model_path),
        n_ctx=num_ctx,
        n_batch=512,
        n_ubatch=512,
        n_threads=threads,
        n_threads_batch=threads,
        verbose=False,
    )


def emit(result: dict[str, Any]) -> None:
    """A benchmark script's answer: one JSON line, last on stdout."""
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()


def run_script(
    script: str, args: Sequence[str], *, timeout: float, log: Callable[[str], None]
) -> dict[str, Any]:
    """Run ``benchmarks/<script>`` in a fresh interpreter and return its JSON answer."""
    command = [sys.executable, str(BENCH_DIR / script), *args]
    log(f"  $ {' '.join(command[1:])}")
    with subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(),
        cwd=str(REPO),
        start_new_session=True,
    ) as process:
        try:
            out, err = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(process)
            out, err = process.communicate()
            raise RuntimeError(
                f"{script} did not finish within {timeout:.0f} s\n{_tail(err)}"
            ) from None
        finally:
            if process.poll() is None:
                _kill_group(process)
    lines = [line for line in out.splitlines() if line.strip()]
    if process.returncode != 0 or not lines:
        raise RuntimeError(f"{script} failed (exit {process.returncode})\n{_tail(err)}")
    for line in err.splitlines():
        if line.strip():
            log(f"    {line}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def _tail(text: str, lines: int = 30) -> str:
    return "\n".join(text.splitlines()[-lines:])


def _kill_group(process: subprocess.Popen[Any]) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        process.kill()


@contextmanager
def ndjson_server(max_seconds: float) -> Iterator[int]:
    """The raw-socket NDJSON server in its own process; yields its port, kills it after."""
    command = [
        sys.executable,
        str(BENCH_DIR / "ndjson_server.py"),
        "--max-seconds",
        str(max_seconds),
    ]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=child_env(),
        start_new_session=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line.startswith("PORT "):
            raise RuntimeError(f"ndjson_server.py did not start: {line!r}")
        yield int(line.split()[1])
    finally:
        _kill_group(process)
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


# -- machine state -------------------------------------------------------------------------


def _cpu_times() -> tuple[int, int]:
    with open("/proc/stat", encoding="ascii") as handle:
        fields = [int(value) for value in handle.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return sum(fields), idle


class CpuMeter:
    """Busy share of the whole machine between ``start()`` and ``stop()``, in cores."""

    def __init__(self) -> None:
        self._start = (0, 0)

    def start(self) -> None:
        self._start = _cpu_times()

    def stop(self) -> float:
        total, idle = _cpu_times()
        d_total = total - self._start[0]
        d_idle = idle - self._start[1]
        if d_total <= 0:
            return 0.0
        return (d_total - d_idle) / d_total * (os.cpu_count() or 1)


def busy_cores(seconds: float = 2.0) -> float:
    """Cores kept busy by everything else while this process sleeps."""
    meter = CpuMeter()
    meter.start()
    time.sleep(seconds)
    return meter.stop()


def loadavg() -> tuple[float, float, float]:
    try:
        with open("/proc/loadavg", encoding="ascii") as handle:
            one, five, fifteen = handle.read().split()[:3]
        return float(one), float(five), float(fifteen)
    except OSError:
        return (0.0, 0.0, 0.0)


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def memory_gib() -> float:
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) / (1024 * 1024)
    except OSError:
        pass
    return 0.0


def peak_rss_mib() -> float:
    """Peak resident set size of this process (VmHWM), MiB."""
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mib() -> float:
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0
