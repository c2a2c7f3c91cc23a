"""Hostile clients against ``ollamakit serve``: each attack of the reliability review, while a
probe checks that the server still answers everyone else.

    python tests/stress/hostile.py [--only NAME ...] [--list]

Starts a server of its own (temporary store, loopback, no network) and installs gemma3:270m,
then runs the attacks one after the other. During each, a probe thread asks ``/api/version``
every 50 ms. Per attack the report gives what the server answered, how long the attack took,
the longest probe answer (the *stall*: how long any other client would have waited) and the
server's resident memory before, at its peak (sampled every 50 ms) and after.

Prints a Markdown table (README's Reliability section quotes it) and exits 0 when every
attack got its expected answer and no probe waited ``--bound`` seconds (1 by default).
Everything is bounded in size and time; nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

_HERE = Path(__file__).resolve().parent
if str(_HERE.parent / "server") not in sys.path:
    sys.path.insert(0, str(_HERE.parent / "server"))

from server_support import DEMO, ServerProcess, launch  # noqa: E402

PROBE_INTERVAL = 0.05


def rss_mib(pid: int | None) -> float:
    """Resident memory of process ``pid`` in MiB (0 when unknown)."""
    if pid is None:
        return 0.0
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


@dataclass
class Measure:
    """One attack: its outcome, duration, the longest probe answer and memory (MiB)."""

    name: str
    outcome: str
    ok: bool
    seconds: float
    stall: float
    probes: int
    rss_before: float
    rss_peak: float
    rss_after: float

    def row(self) -> str:
        growth = self.rss_peak - self.rss_before
        return (
            f"| {self.name} | {self.outcome} | {self.seconds:.1f} s | "
            f"{self.stall * 1000:.0f} ms | {self.rss_before:.0f} → {self.rss_peak:.0f} "
            f"(+{growth:.0f}) → {self.rss_after:.0f} |"
        )


HEADER = (
    "| attack | answer | took | longest probe | RSS MiB: before → peak (growth) → after |\n"
    "|---|---|---|---|---|"
)


class Probe:
    """Asks ``/api/version`` every 50 ms on its own connection and samples the server's RSS."""

    def __init__(self, url: str, pid: int | None) -> None:
        self.url = url
        self.pid = pid
        self.worst = 0.0
        self.count = 0
        self.failures: list[str] = []
        self.rss_peak = rss_mib(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="probe", daemon=True)

    def _run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=60) as session:
            while not self._stop.is_set():
                started = time.perf_counter()
                try:
                    answer = session.get("/api/version")
                    if answer.status_code != 200:
                        self.failures.append(f"status {answer.status_code}")
                except httpx.HTTPError as exc:
                    self.failures.append(f"{type(exc).__name__}: {exc}")
                self.worst = max(self.worst, time.perf_counter() - started)
                self.count += 1
                self.rss_peak = max(self.rss_peak, rss_mib(self.pid))
                self._stop.wait(PROBE_INTERVAL)

    def __enter__(self) -> Probe:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=120)


# An attack takes the server's URL and a scale (1 = the sizes of the review) and returns
# (what happened, whether that is the expected answer).
Attack = Callable[[str, float], tuple[str, bool]]


def _error(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:120]
    if isinstance(body, dict) and "error" in body:
        return str(body["error"])[:120]
    return response.text[:120]


def _render(url: str, template: str, timeout: float = 300) -> httpx.Response:
    body = {
        "model": DEMO,
        "prompt": "hi",
        "template": template,
        "_debug_render_only": True,
        "stream": False,
    }
    return httpx.post(url + "/api/generate", json=body, timeout=timeout)


def _refused(response: httpx.Response, status: int, text: str) -> tuple[str, bool]:
    message = _error(response)
    return f"{response.status_code} {message}", (response.status_code == status and text in message)


def template_nested_range(url: str, scale: float) -> tuple[str, bool]:
    """Two nested ranges of 12,000: 144 million iterations, no output."""
    loop = "{{range " + str(int(12000 * scale)) + "}}"
    response = _render(url, loop + loop + "{{end}}{{end}}")
    return _refused(response, 500, "steps")


def template_huge_range(url: str, scale: float) -> tuple[str, bool]:
    """``{{range 10000000}}``: a list of ten million pairs if built eagerly."""
    count = int(10_000_000 * scale)
    response = _render(url, "{{range " + str(count) + "}}{{end}}")
    return _refused(response, 500, "steps")


def template_printf_width(url: str, scale: float) -> tuple[str, bool]:
    """A 28-byte template asking for a 300 MB number: Go's fmt refuses such widths."""
    response = _render(url, '{{printf "%*d" 300000000 1}}')
    rendered = response.json().get("_debug_info", {}).get("rendered_template")
    return f"{response.status_code} {rendered!r}", rendered == "%!(BADWIDTH)1"


def template_amplification(url: str, scale: float) -> tuple[str, bool]:
    """The widest width Go allows (a million), printed in a loop, and a string doubled
    forty times in a variable."""
    loops = str(int(1000 * scale))
    wide = _render(url, "{{range " + loops + '}}{{printf "%*d" 1000000 1}}{{end}}')
    doubled = _render(url, '{{$x := "abcdefgh"}}{{range 40}}{{$x = print $x $x}}{{end}}')
    first, ok_first = _refused(wide, 500, "output is longer than")
    second, ok_second = _refused(doubled, 500, "function results are longer than")
    return f"{first}; {second}", ok_first and ok_second


def template_too_large(url: str, scale: float) -> tuple[str, bool]:
    """A 2 MB template."""
    response = _render(url, "{{ .Prompt }}" * int(160_000 * scale))
    return _refused(response, 400, "more than the")


def template_distinct(url: str, scale: float) -> tuple[str, bool]:
    """Eight different templates of the largest size allowed (each parsed, some cached)."""
    statuses = []
    for index in range(max(1, int(8 * scale))):
        source = f"{index:04d}" + "{{ .Prompt }}" * 1250  # just under 16 KiB
        statuses.append(_render(url, source).status_code)
    return f"statuses {sorted(set(statuses))}", set(statuses) == {200}


ATTACKS: dict[str, Attack] = {
    "template: nested ranges 12,000²": template_nested_range,
    "template: range 10,000,000": template_huge_range,
    'template: printf "%*d" 300000000': template_printf_width,
    "template: output amplification": template_amplification,
    "template: 2 MB source": template_too_large,
    "template: 8 distinct 16 KiB sources": template_distinct,
}


def run_attack(url: str, pid: int | None, name: str, attack: Attack, scale: float) -> Measure:
    before = rss_mib(pid)
    with Probe(url, pid) as probe:
        started = time.perf_counter()
        try:
            outcome, ok = attack(url, scale)
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            outcome, ok = f"{type(exc).__name__}: {exc}", False
        seconds = time.perf_counter() - started
    if probe.failures:
        outcome, ok = f"{outcome}; probe failed: {probe.failures[0]}", False
    return Measure(
        name=name,
        outcome=outcome,
        ok=ok,
        seconds=seconds,
        stall=probe.worst,
        probes=probe.count,
        rss_before=before,
        rss_peak=max(probe.rss_peak, rss_mib(pid)),
        rss_after=rss_mib(pid),
    )


@contextmanager
def own_server(env: dict[str, str] | None = None) -> Iterator[ServerProcess]:
    """A server with a temporary store and the demo model installed."""
    with tempfile.TemporaryDirectory(prefix="ollamakit-hostile-") as temp:
        base = Path(temp)
        server = launch(
            base / "models", base / "server.log", {"OLLAMAKIT_OFFLINE": "1", **(env or {})}
        )
        try:
            reply = httpx.post(
                server.url + "/api/pull", json={"model": DEMO, "stream": False}, timeout=300
            )
            if reply.json() != {"status": "success"}:
                raise RuntimeError(f"could not install {DEMO}: {reply.text}")
            yield server
        finally:
            server.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="*", help="attacks whose name contains one of these")
    parser.add_argument("--list", action="store_true", help="list the attacks and exit")
    parser.add_argument("--scale", type=float, default=1.0, help="attack sizes (1 = review)")
    parser.add_argument("--bound", type=float, default=1.0, help="longest probe allowed (s)")
    args = parser.parse_args(argv)
    if args.list:
        print("\n".join(ATTACKS))
        return 0
    chosen = {
        name: attack
        for name, attack in ATTACKS.items()
        if not args.only or any(part in name for part in args.only)
    }
    ok = True
    with own_server() as server:
        print(HEADER, flush=True)
        for name, attack in chosen.items():
            measure = run_attack(server.url, server.process.pid, name, attack, args.scale)
            print(measure.row(), flush=True)
            ok = ok and measure.ok and measure.stall < args.bound
        tracebacks = server.log_text().count("Traceback")
        alive = server.process.poll() is None
    print(f"\nserver alive: {alive}, tracebacks in its log: {tracebacks}")
    return 0 if ok and alive and not tracebacks else 1


if __name__ == "__main__":
    sys.exit(main())
