"""Run the real server under uvicorn on a free loopback port (a test and benchmark harness,
kept out of the shipped package: it needs httpx)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

import httpx

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LocalServer:
    """``python -m uvicorn api.main:create_app --factory`` in a subprocess, ready when entered.

    Parameters
    ----------
    config
        TOML settings passed as ``SERVICECIRCLE_CONFIG`` (default: the bundled sample).
    cache_dir
        ``SERVICECIRCLE_CACHE`` for compiled networks (default: a fresh temporary folder).
    workers
        uvicorn worker processes.
    access_log
        Log every request (off for load runs: the log would be what is measured).
    startup_timeout
        Seconds to wait for ``/health``.
    cli
        Start through ``servicecircle serve`` (as users do) instead of uvicorn directly;
        every request is then logged.
    """

    def __init__(
        self,
        *,
        config: str | Path | None = None,
        cache_dir: str | Path | None = None,
        workers: int = 1,
        access_log: bool = False,
        startup_timeout: float = 120.0,
        cli: bool = False,
    ) -> None:
        self.config = config
        self.cache_dir = cache_dir
        self.workers = workers
        self.access_log = access_log
        self.startup_timeout = startup_timeout
        self.cli = cli
        self.port = 0
        self.url = ""
        self._proc: subprocess.Popen[bytes] | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._log: Path | None = None

    def __enter__(self) -> LocalServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Start uvicorn and wait until ``/health`` answers (its regions are loaded)."""
        self._tmp = tempfile.TemporaryDirectory(prefix="servicecircle-server-")
        env = dict(os.environ)
        env["SERVICECIRCLE_CACHE"] = str(self.cache_dir or Path(self._tmp.name) / "cache")
        env.pop("SERVICECIRCLE_CONFIG", None)
        if self.config is not None and not self.cli:
            env["SERVICECIRCLE_CONFIG"] = str(Path(self.config).resolve())
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        where = ["--host", "127.0.0.1", "--port", str(self.port), "--workers", str(self.workers)]
        if self.cli:
            cmd = [sys.executable, "-c", "from planner.cli import app; app()", "serve", *where]
            if self.config is not None:
                cmd += ["--config", str(Path(self.config).resolve())]
        else:
            cmd = [sys.executable, "-m", "uvicorn", "api.main:create_app", "--factory", *where]
            if not self.access_log:
                cmd.append("--no-access-log")
        self._log = Path(self._tmp.name) / "server.log"
        with self._log.open("wb") as log:
            self._proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=log)
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                msg = f"server exited with {self._proc.returncode}:\n{self.log()}"
                raise RuntimeError(msg)
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        self.stop()
        msg = f"server not healthy after {self.startup_timeout:g} s:\n{self.log()}"
        raise RuntimeError(msg)

    def log(self) -> str:
        """What the server printed so far."""
        if self._log is None or not self._log.exists():
            return ""
        return self._log.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL) and remove its temporary folder."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=10)
        self._proc = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
