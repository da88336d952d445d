"""Processes the benchmark starts (pinned to a core) and what it reads about them from /proc."""

import os
import shutil
import signal
import socket
import subprocess
from pathlib import Path

from blaxel_console.readiness import ServerNotServing, wait_until_serving

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pinned(command: list[str], core: int | None) -> list[str]:
    """`command` run on one CPU core (`taskset -c`), when the machine has that core."""
    if core is None or core >= (os.cpu_count() or 1) or not shutil.which("taskset"):
        return command
    return ["taskset", "-c", str(core), *command]


class Process:
    """A child process with its log file; stopped by its own pid (never by name)."""

    def __init__(self, name: str, command: list[str], *, env: dict, cwd: Path, log_dir: Path):
        self.name = name
        self.command = command
        self.log_path = log_dir / f"{name}.log"
        log = self.log_path.open("w")
        self.popen = subprocess.Popen(
            command, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT
        )
        log.close()

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def wait_for_http(self, url: str, timeout: float = 60.0) -> None:
        """Return once `url` answers; when the process died first, say so with its log."""
        try:
            wait_until_serving(
                url, process=self.popen, timeout=timeout, interval=0.2, name=self.name
            )
        except ServerNotServing as error:
            if error.exit_status is None:
                raise
            raise ServerNotServing(
                f"{error}:\n{self.log_tail()}", exit_status=error.exit_status
            ) from error

    def stop(self, timeout: float = 15.0) -> None:
        if not self.alive():
            return
        self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads) so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # After the command name: state is field 3, so utime (14) and stime (15) sit at 11, 12.
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def memory_kib(pid: int) -> dict[str, int]:
    """VmRSS (resident now) and VmHWM (peak resident) of a process, in KiB."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            values[name] = int(rest.split()[0])
    return values


def children(pid: int) -> list[int]:
    """Direct children of a process (LiteLLM's CLI may serve from a child)."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def serving_pid(pid: int, port: int) -> int:
    """The process of the tree rooted at `pid` that listens on `port` (the worker)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            columns = row.split()
            local, state, inode = columns[1], columns[3], columns[9]
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:  # LISTEN
                inodes.add(inode)
    pending = [pid]
    while pending:
        candidate = pending.pop(0)
        try:
            for descriptor in Path(f"/proc/{candidate}/fd").iterdir():
                try:
                    target = os.readlink(descriptor)
                except OSError:
                    continue
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    return candidate
        except OSError:
            pass
        pending += children(candidate)
    return pid
