"""What a live server process holds, read from `/proc` (Linux): its open file
descriptors, its TCP connections by state and by remote port, and its resident memory;
and waiting until they are back to a baseline after a test has put it through a fault.

    pid = pid_listening_on(port)            # the uvicorn process of `run_asgi_server`
    baseline = snapshot(pid)
    ...                                     # calls, faults
    wait_until_back(pid, baseline)          # AssertionError naming what was left

A process's TCP connections are the sockets among its fds (`socket:[inode]`) matched to
the rows of `/proc/<pid>/net/tcp` and `tcp6` (those list every socket of the process's
network namespace, not only its own). Listening sockets are counted apart.

Back to baseline means: no more fds than the baseline, and for every (state, remote port)
no more connections than the baseline had — a pooled keep-alive connection the baseline
already held may stay, a new one or one left half-closed (`CLOSE_WAIT`: the peer hung up,
the process never closed its end) may not. Connections clients opened to the process
(on one of its listening ports) come from ever-new ports: they are counted together, as
(state, CLIENTS).
"""

import os
from collections import Counter
from dataclasses import dataclass, field

from .waiting import wait_until

# /proc/net/tcp's `st` column (include/net/tcp_states.h).
TCP_STATES = {
    "01": "ESTABLISHED",
    "02": "SYN_SENT",
    "03": "SYN_RECV",
    "04": "FIN_WAIT1",
    "05": "FIN_WAIT2",
    "06": "TIME_WAIT",
    "07": "CLOSE",
    "08": "CLOSE_WAIT",
    "09": "LAST_ACK",
    "0A": "LISTEN",
    "0B": "CLOSING",
    "0C": "NEW_SYN_RECV",
}


# The "remote port" under which connections from clients are counted.
CLIENTS = "clients"


@dataclass(frozen=True)
class Connection:
    state: str  # "ESTABLISHED", "CLOSE_WAIT", … (TCP_STATES)
    local_port: int
    remote_port: int
    inbound: bool = False  # a client's connection to one of the process's listening ports

    @property
    def peer(self) -> int | str:
        return CLIENTS if self.inbound else self.remote_port


@dataclass(frozen=True)
class Resources:
    """One reading of a process: fds, TCP connections (listening sockets apart), RSS."""

    pid: int
    fds: int
    connections: tuple[Connection, ...] = ()
    listening: tuple[int, ...] = ()  # local ports
    rss_bytes: int = 0
    by_state_and_port: Counter = field(default_factory=Counter, compare=False)

    def tcp(self, *, state: str | None = None, remote_port: int | str | None = None) -> int:
        """How many connections match (any state / any remote port when not given;
        `remote_port=CLIENTS` for the clients' connections)."""
        return sum(
            1
            for connection in self.connections
            if (state is None or connection.state == state)
            and (remote_port is None or connection.peer == remote_port)
        )

    def excess_over(self, baseline: "Resources") -> dict:
        """What this reading holds beyond `baseline` (empty when nothing): `fds`, and
        `(state, remote_port)` → how many more connections."""
        excess = {}
        if self.fds > baseline.fds:
            excess["fds"] = self.fds - baseline.fds
        for key, count in self.by_state_and_port.items():
            more = count - baseline.by_state_and_port.get(key, 0)
            if more > 0:
                excess[key] = more
        return excess


def _socket_inodes(pid: int) -> tuple[int, set[int]]:
    """The process's fd count and the inodes of its sockets."""
    fd_dir = f"/proc/{pid}/fd"
    count = 0
    inodes = set()
    for name in os.listdir(fd_dir):
        try:
            target = os.readlink(f"{fd_dir}/{name}")
        except FileNotFoundError:  # closed while we read the directory
            continue
        count += 1
        if target.startswith("socket:["):
            inodes.add(int(target[8:-1]))
    return count, inodes


def _port(address: str) -> int:
    # "0100007F:1F90" (IPv4) or 32 hex digits + ":PORT" (IPv6): the port is big-endian hex.
    return int(address.rsplit(":", 1)[1], 16)


def tcp_rows(pid: int):
    """(local port, remote port, state, inode) of every TCP socket in the process's
    network namespace."""
    for table in ("tcp", "tcp6"):
        try:
            with open(f"/proc/{pid}/net/{table}") as rows:
                next(rows)  # the header
                for row in rows:
                    fields = row.split()
                    yield (
                        _port(fields[1]),
                        _port(fields[2]),
                        TCP_STATES.get(fields[3], fields[3]),
                        int(fields[9]),
                    )
        except FileNotFoundError:  # no IPv6 in this kernel / namespace
            continue


def rss_bytes(pid: int) -> int:
    """The process's resident set size (VmRSS), in bytes."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def snapshot(pid: int) -> Resources:
    """Read the process's fds, TCP connections and RSS now."""
    fds, inodes = _socket_inodes(pid)
    rows = [row for row in tcp_rows(pid) if row[3] in inodes]
    listening = {local_port for local_port, _remote, state, _inode in rows if state == "LISTEN"}
    connections = [
        Connection(state, local_port, remote_port, inbound=local_port in listening)
        for local_port, remote_port, state, _inode in rows
        if state != "LISTEN"
    ]
    return Resources(
        pid=pid,
        fds=fds,
        connections=tuple(connections),
        listening=tuple(sorted(listening)),
        rss_bytes=rss_bytes(pid),
        by_state_and_port=Counter((c.state, c.peer) for c in connections),
    )


def wait_until_back(pid: int, baseline: Resources, timeout: float = 15.0) -> Resources:
    """Wait until the process holds no more fds and connections than `baseline`; returns
    the reading that showed it. Raises AssertionError with what is still held beyond it."""
    last: list[Resources] = []

    def back() -> bool:
        last[:] = [snapshot(pid)]
        return not last[0].excess_over(baseline)

    try:
        wait_until(back, timeout=timeout)
    except AssertionError:
        now = last[0]
        raise AssertionError(
            f"process {pid} did not return to its baseline within {timeout}s: "
            f"held beyond it {now.excess_over(baseline)}; connections now "
            f"{dict(now.by_state_and_port)}, at baseline {dict(baseline.by_state_and_port)}"
        ) from None
    return last[0]


def pid_listening_on(port: int) -> int:
    """The pid of the process (one of this user's) holding a listening TCP socket on
    `port` on loopback or any address, e.g. the server `run_asgi_server` started."""
    listening_inodes = {
        inode
        for local_port, _remote, state, inode in tcp_rows(os.getpid())
        if state == "LISTEN" and local_port == port
    }
    if not listening_inodes:
        raise LookupError(f"nothing listens on port {port}")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            _fds, inodes = _socket_inodes(int(entry))
        except (FileNotFoundError, PermissionError, ProcessLookupError):
            continue
        if inodes & listening_inodes:
            return int(entry)
    raise LookupError(f"no readable process holds the socket listening on port {port}")


def pid_of_server(url: str) -> int:
    """The pid of the server answering at `url` ("http://127.0.0.1:PORT")."""
    return pid_listening_on(int(url.rsplit(":", 1)[1].split("/", 1)[0]))
