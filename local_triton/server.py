"""A real CPU Triton server from the ``nvidia-pytriton`` wheel, for tests and for running without a GPU.

The wheel carries ``tritonserver`` (2.51) with its libraries, the Python backend and one backend stub per Python
version. We copy the backend to a writable folder, put the stub of *this* interpreter next to it, and start the
server with this interpreter's ``bin`` first on ``PATH``: the stub then runs our virtual environment's Python
(numpy, onnxruntime). Servers listen on 127.0.0.1 only.

    with local_triton("model_repository") as server:
        client = tritonclient.grpc.InferenceServerClient(server.grpc_url)

    python -m local_triton --repository model_repository   # foreground; Ctrl-C stops it
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from rare.errors import RareError

HOST = "127.0.0.1"


class TritonStartError(RareError, RuntimeError):
    """tritonserver is missing, exited, or did not become ready in time (the message ends with its log)."""


@dataclass(frozen=True)
class TritonInstall:
    binary: Path
    libraries: Path
    python_backend: Path
    stub: Path


@dataclass(frozen=True)
class Ports:
    grpc: int
    http: int
    metrics: int


def find_install() -> TritonInstall:
    """Locate tritonserver, its libraries, the Python backend and this Python's stub in the installed wheel."""
    spec = importlib.util.find_spec("pytriton")  # finds the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise TritonStartError("nvidia-pytriton is not installed: pip install --no-deps nvidia-pytriton==0.7.0")
    root = Path(next(iter(spec.submodule_search_locations))) / "tritonserver"
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    install = TritonInstall(
        binary=root / "bin" / "tritonserver",
        libraries=root.parent.parent / "nvidia_pytriton.libs",
        python_backend=root / "backends" / "python",
        stub=root / "python_backend_stubs" / version / "triton_python_backend_stub",
    )
    missing = [
        str(p) for p in (install.binary, install.libraries, install.python_backend, install.stub) if not p.exists()
    ]
    if missing:
        raise TritonStartError(f"nvidia-pytriton install is incomplete (Python {version}): missing {missing}")
    return install


def prepare_backends(install: TritonInstall, workdir: Path) -> Path:
    """``workdir/backends/python`` = the wheel's Python backend + this Python's stub; returns ``workdir/backends``."""
    backends = workdir / "backends"
    target = backends / "python"
    if not (target / "triton_python_backend_stub").is_file():
        shutil.copytree(
            install.python_backend, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__")
        )
        shutil.copy2(install.stub, target / "triton_python_backend_stub")
    return backends


def free_ports(count: int) -> list[int]:
    """``count`` distinct free TCP ports on 127.0.0.1 (all sockets held open until every port is picked)."""
    with ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) for _ in range(count)]
        for sock in sockets:
            sock.bind((HOST, 0))
        return [int(sock.getsockname()[1]) for sock in sockets]


def server_env(install: TritonInstall) -> dict[str, str]:
    """This interpreter first on PATH (the stub runs it); the wheel's and this Python's libraries on LD path."""
    env = dict(os.environ)
    python_bin = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join([python_bin, env.get("PATH", "")])
    # the stub links libpython3.X.so: prefer the one of this interpreter over a system copy of another patch release
    libs = [str(install.libraries), sysconfig.get_config_var("LIBDIR") or "", env.get("LD_LIBRARY_PATH", "")]
    env["LD_LIBRARY_PATH"] = os.pathsep.join(p for p in libs if p)
    return env


class TritonProcess:
    """One tritonserver process on a loopback address (127.0.0.1, or another of 127.0.0.0/8 for a second server on
    the same ports); :meth:`start` then :meth:`wait_ready`, or use :func:`local_triton`."""

    def __init__(
        self,
        repository: str | Path,
        ports: Ports,
        workdir: Path,
        log_path: Path | None = None,
        extra_args: Sequence[str] = (),
        host: str = HOST,
    ) -> None:
        self.repository = Path(repository).resolve()
        if not self.repository.is_dir():
            raise TritonStartError(f"{self.repository}: model repository not found")
        self.ports = ports
        self.host = host
        self.install = find_install()
        self.backends = prepare_backends(self.install, workdir)
        self.log_path = log_path
        self.extra_args = list(extra_args)
        self.process: subprocess.Popen | None = None

    @property
    def grpc_url(self) -> str:
        return f"{self.host}:{self.ports.grpc}"

    @property
    def http_url(self) -> str:
        return f"http://{self.host}:{self.ports.http}"

    @property
    def metrics_url(self) -> str:
        return f"http://{self.host}:{self.ports.metrics}/metrics"

    def command(self) -> list[str]:
        return [
            str(self.install.binary),
            f"--model-repository={self.repository}",
            f"--backend-directory={self.backends}",
            f"--grpc-address={self.host}",
            f"--grpc-port={self.ports.grpc}",
            f"--http-address={self.host}",
            f"--http-port={self.ports.http}",
            f"--metrics-address={self.host}",
            f"--metrics-port={self.ports.metrics}",
            "--allow-gpu-metrics=false",
            "--pinned-memory-pool-byte-size=0",  # CPU only: no CUDA pinned memory
            "--model-control-mode=none",
            "--disable-auto-complete-config",
            "--exit-timeout-secs=10",
            *self.extra_args,
        ]

    def start(self) -> None:
        if self.running:
            raise TritonStartError(f"tritonserver is already running (pid {self.process.pid})")
        output = self.log_path.open("ab") if self.log_path is not None else None
        try:
            self.process = subprocess.Popen(
                self.command(),
                env=server_env(self.install),
                stdout=output,
                stderr=subprocess.STDOUT if output is not None else None,
                start_new_session=True,  # its own process group: kill() also reaches the backend stubs
            )
        finally:
            if output is not None:
                output.close()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def is_ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.http_url}/v2/health/ready", timeout=2) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def wait_ready(self, timeout: float = 120.0) -> None:
        """Block until ``/v2/health/ready`` answers 200; on exit or timeout, stop and raise with the log."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running:
                code = self.process.returncode if self.process is not None else None
                raise TritonStartError(f"tritonserver exited with code {code} before ready\n{self.log_tail()}")
            if self.is_ready():
                return
            time.sleep(0.25)
        self.kill()
        raise TritonStartError(f"tritonserver not ready after {timeout:.0f} s\n{self.log_tail()}")

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM and wait (Triton finishes in-flight requests and unloads models); SIGKILL if it hangs."""
        if not self.running:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """SIGKILL the server's process group (the server and its Python-backend stubs)."""
        if self.process is None or self.process.returncode is not None:
            return
        with suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def restart(self, timeout: float = 120.0) -> None:
        self.stop()
        self.start()
        self.wait_ready(timeout)

    def log_tail(self, lines: int = 60) -> str:
        if self.log_path is None or not self.log_path.is_file():
            return "(log on the console)"
        text = self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()
        return "--- tritonserver log (tail) ---\n" + "\n".join(text[-lines:])


@contextmanager
def local_triton(
    repository: str | Path,
    grpc_port: int | None = None,
    http_port: int | None = None,
    metrics_port: int | None = None,
    timeout: float = 120.0,
    extra_args: Sequence[str] = (),
) -> Iterator[TritonProcess]:
    """A ready tritonserver on ``repository`` (free ports unless given), stopped on exit."""
    spare = iter(free_ports(3))
    ports = Ports(grpc_port or next(spare), http_port or next(spare), metrics_port or next(spare))
    with tempfile.TemporaryDirectory(prefix="rare_triton_") as scratch:
        workdir = Path(scratch)
        server = TritonProcess(repository, ports, workdir, workdir / "tritonserver.log", extra_args)
        server.start()
        try:
            server.wait_ready(timeout)
            yield server
        finally:
            server.stop()
            server.kill()


def raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m local_triton",
        description="Run the CPU tritonserver of nvidia-pytriton on a model repository (127.0.0.1, foreground; "
        "Ctrl-C or SIGTERM stops it).",
    )
    parser.add_argument("--repository", type=Path, default=Path("model_repository"))
    parser.add_argument("--grpc-port", type=int, default=8001)
    parser.add_argument("--http-port", type=int, default=8000)
    parser.add_argument("--metrics-port", type=int, default=8002)
    args = parser.parse_args(argv)
    # the server runs in its own session (see TritonProcess.start), so we forward Ctrl-C and SIGTERM ourselves
    signal.signal(signal.SIGINT, raise_interrupt)
    signal.signal(signal.SIGTERM, raise_interrupt)
    with tempfile.TemporaryDirectory(prefix="rare_triton_") as scratch:
        ports = Ports(args.grpc_port, args.http_port, args.metrics_port)
        try:
            server = TritonProcess(args.repository, ports, Path(scratch))
        except RareError as exc:
            sys.stderr.write(f"local_triton: error: {exc}\n")
            return 2
        server.start()
        try:
            return server.process.wait()
        except KeyboardInterrupt:
            server.stop()
            return 0
        finally:
            server.kill()


if __name__ == "__main__":
    sys.exit(main())
