"""The child process that runs llama.cpp's quantizer (``llama_model_quantize``).

``python -m ollamakit.server.quantize_worker INPUT OUTPUT FTYPE THREADS``

It runs in a process of its own so that the server can stop it at any time (the C call has
no cancel hook), and so that llama.cpp aborting on a damaged file cannot take the server
down. It reports on stdout, one line each::

    progress <done> <total>     after each tensor (llama.cpp's ``[ done/ total]`` log line)
    error <message>             llama.cpp's error messages

and exits 0 on success. It exits as soon as its stdin closes, which happens when the server
goes away, so an orphan never keeps writing into the store.
"""

from __future__ import annotations

import ctypes
import os
import re
import sys
import threading
from typing import Any

_PROGRESS = re.compile(rb"\[\s*(\d+)/\s*(\d+)\]")
_LOG_ERROR = 4  # ggml_log_level: NONE, DEBUG, INFO, WARN, ERROR, CONT


def _say(line: str) -> None:
    sys.stdout.write(line.replace("\n", " ").strip() + "\n")
    sys.stdout.flush()


def _exit_with_parent() -> None:
    # The raw descriptor: a buffered stdin read by a daemon thread aborts at shutdown.
    while os.read(0, 4096):
        pass
    os._exit(1)


def main(argv: list[str]) -> int:
    source, target, ftype, threads = argv[0], argv[1], int(argv[2]), int(argv[3])
    threading.Thread(target=_exit_with_parent, daemon=True).start()
    import llama_cpp

    @llama_cpp.llama_log_callback  # type: ignore[untyped-decorator]
    def on_log(level: int, text: bytes, user_data: Any) -> None:
        match = _PROGRESS.match(text.lstrip())
        if match is not None:
            _say(f"progress {int(match.group(1))} {int(match.group(2))}")
        elif level == _LOG_ERROR:
            _say("error " + text.decode(errors="replace"))

    llama_cpp.llama_log_set(on_log, ctypes.c_void_p(0))
    params = llama_cpp.llama_model_quantize_default_params()
    params.nthread = threads
    params.ftype = ftype
    params.allow_requantize = True
    status = llama_cpp.llama_model_quantize(
        os.fsencode(source), os.fsencode(target), ctypes.byref(params)
    )
    return 0 if status == 0 else 1


if __name__ == "__main__":
    code = main(sys.argv[1:])
    sys.stdout.flush()
    os._exit(code)  # not sys.exit: the stdin watcher must not hold up interpreter shutdown
