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
import hashlib
import json
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

_HERE = Path(__file__).resolve().parent
if str(_HERE.parent / "server") not in sys.path:
    sys.path.insert(0, str(_HERE.parent / "server"))

from server_support import DEMO, ServerProcess, launch  # noqa: E402

PROBE_INTERVAL = 0.05
# The server's OLLAMAKIT_HEADER_TIMEOUT and OLLAMAKIT_BODY_TIMEOUT (its defaults unless a
# test starts a server with others): the slow-client attack paces itself on them.
HEADER_TIMEOUT = 30.0
BODY_TIMEOUT = 60.0


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


# The probe runs in a process of its own: an attack that builds a large body in this one
# would otherwise hold this interpreter and look like a stall of the server.
_PROBE = """
import http.client, json, select, sys, time
host, port, interval = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
connection = http.client.HTTPConnection(host, port, timeout=120)
worst, count, failures = 0.0, 0, []
print("ready", flush=True)
while True:
    started = time.perf_counter()
    try:
        connection.request("GET", "/api/version")
        answer = connection.getresponse()
        answer.read()
        if answer.status != 200:
            failures.append(f"status {answer.status}")
    except OSError as exc:
        failures.append(f"{type(exc).__name__}: {exc}")
        connection.close()
    worst = max(worst, time.perf_counter() - started)
    count += 1
    if select.select([sys.stdin], [], [], interval)[0]:
        break
print(json.dumps({"worst": worst, "count": count, "failures": failures}), flush=True)
"""


class Probe:
    """Asks ``/api/version`` every 50 ms on its own connection, from another process, and
    samples the server's RSS meanwhile."""

    def __init__(self, url: str, pid: int | None) -> None:
        self.url = url
        self.pid = pid
        self.worst = 0.0
        self.count = 0
        self.failures: list[str] = []
        self.rss_peak = rss_mib(pid)
        self._stop = threading.Event()
        self._sampler = threading.Thread(target=self._sample, name="rss", daemon=True)
        self._process: subprocess.Popen[str] | None = None

    def _sample(self) -> None:
        while not self._stop.wait(PROBE_INTERVAL):
            self.rss_peak = max(self.rss_peak, rss_mib(self.pid))

    def __enter__(self) -> Probe:
        host, port = self.url.removeprefix("http://").split(":")
        self._process = subprocess.Popen(
            [sys.executable, "-c", _PROBE, host, port, str(PROBE_INTERVAL)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._process.stdout is not None
        if self._process.stdout.readline().strip() != "ready":
            raise RuntimeError("the probe did not start")
        self._sampler.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._sampler.join(timeout=10)
        process = self._process
        if process is None:
            return
        output, _ = process.communicate(timeout=180)  # closing its stdin stops it
        result = json.loads(output.strip().splitlines()[-1])
        self.worst, self.count = result["worst"], result["count"]
        self.failures = result["failures"]


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


def _chat(count: int, content: str = "hello there", numbered: bool = True) -> list[dict[str, str]]:
    roles = ("user", "assistant")
    return [
        {"role": roles[i % 2], "content": f"{content} {i}" if numbered else content}
        for i in range(count)
    ]


TINY = {"num_predict": 1, "temperature": 0, "seed": 1}
# A small context keeps the evaluation of a truncated prompt short on a slow machine.
SMALL_CONTEXT = {**TINY, "num_ctx": 512}


def _timed_generation(url: str, options: dict[str, Any]) -> tuple[float, dict[str, Any]]:
    """Seconds a raw generation of "Hi" with ``options`` takes, and its answer."""
    body = {"model": DEMO, "prompt": "Hi", "raw": True, "stream": False, "options": options}
    started = time.perf_counter()
    response = httpx.post(url + "/api/generate", json=body, timeout=300)
    response.raise_for_status()
    return time.perf_counter() - started, response.json()


def _tiny_generation(url: str) -> float:
    """Seconds a one-token generation takes (the demo model is loaded first)."""
    return _timed_generation(url, SMALL_CONTEXT)[0]


def chat_truncation(url: str, scale: float) -> tuple[str, bool]:
    """1,500 short messages (about 90 KB) that do not fit the context: old turns are dropped
    until the prompt fits, which re-rendered the whole chat once per dropped turn."""
    messages = _chat(max(2, int(1500 * scale)))
    body = {"model": DEMO, "messages": messages, "stream": False, "options": SMALL_CONTEXT}
    response = httpx.post(url + "/api/chat", json=body, timeout=600)
    if response.status_code != 200:
        return f"{response.status_code} {_error(response)}", False
    prompt_tokens = response.json()["prompt_eval_count"]
    return f"200, prompt cut to {prompt_tokens} tokens", 0 < prompt_tokens <= 512


def departed_client(url: str, scale: float) -> tuple[str, bool]:
    """A generation whose template takes many seconds to render; its client leaves after
    one second. How long does the next request then wait for the model?"""
    alone = _tiny_generation(url)
    slow = "{{range 12000}}{{range 12000}}{{end}}{{end}}{{ .Prompt }}"
    body = {
        "model": DEMO,
        "prompt": "Hi",
        "template": slow,
        "stream": False,
        "options": SMALL_CONTEXT,
    }
    try:
        httpx.post(url + "/api/generate", json=body, timeout=1.0)
    except httpx.TimeoutException:
        pass
    waited = _tiny_generation(url)
    return (
        f"next request took {waited:.1f} s (alone {alone:.1f} s)",
        waited < alone + 2.0,
    )


def chat_debug_render(url: str, scale: float) -> tuple[str, bool]:
    """``_debug_render_only`` of a chat of 100,000 messages (4.6 MB)."""
    messages = _chat(int(100_000 * scale), "hi")
    body = {"model": DEMO, "messages": messages, "stream": False, "_debug_render_only": True}
    response = httpx.post(url + "/api/chat", json=body, timeout=600)
    if response.status_code != 200:
        return f"{response.status_code} {_error(response)}", False
    rendered = response.json()["_debug_info"]["rendered_template"]
    return f"200, {len(rendered) / 1e6:.1f} MB prompt", rendered.count("<start_of_turn>") > 1


def huge_body(url: str, scale: float) -> tuple[str, bool]:
    """A 60 MB chat of 1.8 million tiny messages (the largest body the default allows is
    64 MiB)."""
    count = int(1_800_000 * scale)
    body = json.dumps(
        {
            "model": DEMO,
            "stream": False,
            "options": SMALL_CONTEXT,
            "messages": _chat(count, "x", False),
        }
    ).encode()
    response = httpx.post(url + "/api/chat", content=body, timeout=600)
    if response.status_code != 200:
        return f"{response.status_code} {_error(response)}", False
    tokens = response.json()["prompt_eval_count"]
    return f"200 ({len(body) / 1e6:.0f} MB body), prompt cut to {tokens} tokens", tokens > 0


def responses_huge_input(url: str, scale: float) -> tuple[str, bool]:
    """/v1/responses with 1.8 million input items (60 MB), the last of an unknown type: all
    of them are translated before it is refused."""
    count = int(1_800_000 * scale)
    items: list[dict[str, Any]] = [*_chat(count - 1, "x", False), {"type": "bogus"}]
    body = json.dumps({"model": DEMO, "input": items}).encode()
    response = httpx.post(url + "/v1/responses", content=body, timeout=600)
    expected = f'input[{count - 1}]: unknown input item type: "bogus"'
    message = response.json().get("error", {}).get("message")
    outcome = f"{response.status_code} ({len(body) / 1e6:.0f} MB body): {message}"
    return outcome, response.status_code == 400 and message == expected


def many_stop_strings(url: str, scale: float) -> tuple[str, bool]:
    """1,001 stop strings are refused; 1,000 of 16 KB each (16 MB), all starting like the
    text, against a generation of 64 tokens without them."""
    refused = httpx.post(
        url + "/api/generate",
        json={"model": DEMO, "prompt": "Hi", "options": {"stop": [str(i) for i in range(1001)]}},
        timeout=60,
    )
    count = max(1, int(1000 * scale))
    stops = [" " * 16_000 + str(index) for index in range(count)]
    options = {"num_predict": 64, "temperature": 0, "seed": 1, "num_ctx": 512}
    plain, alone = _timed_generation(url, options)
    slowed, answer = _timed_generation(url, {**options, "stop": stops})
    outcome = (
        f"{refused.status_code} for 1,001; {count:,} of 16 KB: {answer['eval_count']} tokens "
        f"in {slowed:.1f} s (without them {plain:.1f} s)"
    )
    same = answer["response"] == alone["response"]
    return outcome, refused.status_code == 400 and same and slowed < 2 * plain + 1


def _closed_after(sock: socket.socket, limit: float) -> float | None:
    """Seconds until the server closes ``sock`` (None if still open after ``limit``)."""
    started = time.perf_counter()
    sock.settimeout(limit)
    try:
        while sock.recv(4096):
            pass
    except TimeoutError:
        return None
    except OSError:
        pass
    return time.perf_counter() - started


def slow_clients(url: str, scale: float) -> tuple[str, bool]:
    """Ten connections that send nothing, one that sends its headers a byte at a time, one
    that stops in the middle of its body, and an upload that keeps sending a little at a
    time for twice the body timeout (a slow but live client, which must succeed)."""
    host, port = url.removeprefix("http://").split(":")
    limit = HEADER_TIMEOUT + BODY_TIMEOUT + 30
    results: dict[str, Any] = {}

    def connect() -> socket.socket:
        return socket.create_connection((host, int(port)), timeout=10)

    def silent() -> None:
        sockets = [connect() for _ in range(10)]
        times = [_closed_after(sock, limit) for sock in sockets]
        for sock in sockets:
            sock.close()
        results["silent"] = times

    def trickle_headers() -> None:
        sock = connect()
        request = b"GET /api/version HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 1000
        started = time.perf_counter()
        try:
            for byte in request:
                sock.sendall(bytes([byte]))
                time.sleep(min(1.0, HEADER_TIMEOUT / 10))
                if time.perf_counter() - started > limit:
                    break
        except OSError:
            pass
        results["trickle"] = time.perf_counter() - started
        sock.close()

    def stalled_body() -> None:
        sock = connect()
        sock.sendall(b"POST /api/chat HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\n{")
        started = time.perf_counter()
        sock.settimeout(limit)
        try:
            answer = sock.recv(4096)
        except OSError:
            answer = b""
        results["stalled"] = (time.perf_counter() - started, answer.split(b"\r\n", 1)[0])
        sock.close()

    def live_upload() -> None:
        pieces = [bytes([index]) * 1024 for index in range(8)]
        digest = "sha256:" + hashlib.sha256(b"".join(pieces)).hexdigest()
        pause = 2 * BODY_TIMEOUT / len(pieces)

        def body() -> Iterator[bytes]:
            for piece in pieces:
                time.sleep(pause)
                yield piece

        response = httpx.post(url + f"/api/blobs/{digest}", content=body(), timeout=limit)
        results["upload"] = response.status_code

    threads = [
        threading.Thread(target=work)
        for work in (silent, trickle_headers, stalled_body, live_upload)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(limit + 30)
    silent_times = results.get("silent") or [None]
    stalled = results.get("stalled", (None, b""))
    closed = [t for t in silent_times if t is not None]
    outcome = (
        f"idle: {len(closed)} of {len(silent_times)} closed after "
        f"{max(closed, default=0):.1f} s; "
        f"header trickle cut after {results.get('trickle', 0):.1f} s; "
        f"stalled body: {stalled[1].decode(errors='replace')} after {stalled[0] or 0:.1f} s; "
        f"live upload: {results.get('upload')}"
    )
    ok = (
        len(closed) == len(silent_times)
        and max(closed) < HEADER_TIMEOUT + 5
        and results.get("trickle", limit) < HEADER_TIMEOUT + 5
        and stalled[1].startswith(b"HTTP/1.1 408")
        and results.get("upload") == 201
    )
    return outcome, ok


ATTACKS: dict[str, Attack] = {
    "template: nested ranges 12,000²": template_nested_range,
    "template: range 10,000,000": template_huge_range,
    'template: printf "%*d" 300000000': template_printf_width,
    "template: output amplification": template_amplification,
    "template: 2 MB source": template_too_large,
    "template: 8 distinct 16 KiB sources": template_distinct,
    "chat: 1,500 messages to truncate": chat_truncation,
    "generate: client leaves during a slow render": departed_client,
    "chat: _debug_render_only of 100,000 messages": chat_debug_render,
    "chat: 60 MB body, 1.8 million messages": huge_body,
    "responses: 60 MB body, 1.8 million input items": responses_huge_input,
    "generate: 1,000 stop strings of 16 KB": many_stop_strings,
    "connections: silent, trickling and stalled clients": slow_clients,
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
        _tiny_generation(server.url)  # the model loaded before any memory is measured
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
