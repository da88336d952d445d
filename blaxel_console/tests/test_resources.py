"""The leak accounting of the fault suite (`blaxel_console.testing.resources`) on a real
child process: it finds the process by its listening port, counts the connections it
opens by state and remote port, and tells a connection left half-closed from one closed."""

import socket
import subprocess
import sys

import pytest

from blaxel_console.testing.resources import (
    CLIENTS,
    pid_listening_on,
    pid_of_server,
    snapshot,
    wait_until_back,
)
from blaxel_console.testing.servers import free_port
from blaxel_console.testing.waiting import wait_until

# A child that listens on argv[1] and, line by line on stdin, connects to argv[2]
# ("open"), accepts a client ("accept"), closes what it opened or accepted ("close"), or
# allocates ("grow <MB>").
CHILD = """
import socket, sys
listener = socket.socket()
listener.bind(("127.0.0.1", int(sys.argv[1])))
listener.listen()
opened, kept = [], []
print("ready", flush=True)
for line in sys.stdin:
    command = line.split()
    if command[0] == "open":
        opened.append(socket.create_connection(("127.0.0.1", int(sys.argv[2]))))
    elif command[0] == "close":
        while opened:
            opened.pop().close()
    elif command[0] == "accept":
        opened.append(listener.accept()[0])
    elif command[0] == "grow":
        kept.append(b"x" * (int(command[1]) * 1024 * 1024))  # written: resident
    print("done", flush=True)
"""


@pytest.fixture
def peer():
    """A listening socket the child connects to (this process accepts)."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield server


@pytest.fixture
def child(peer):
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(port), str(peer.getsockname()[1])],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout.readline().strip() == "ready"

    def tell(command: str) -> None:
        process.stdin.write(command + "\n")
        process.stdin.flush()
        assert process.stdout.readline().strip() == "done"

    process.tell = tell
    process.port = port
    yield process
    process.kill()
    process.wait()


def test_a_server_is_found_by_its_port(child):
    assert pid_listening_on(child.port) == child.pid
    assert pid_of_server(f"http://127.0.0.1:{child.port}") == child.pid
    assert child.port in snapshot(child.pid).listening
    with pytest.raises(LookupError):
        pid_listening_on(free_port())


def test_connections_are_counted_by_state_and_remote_port(child, peer):
    remote = peer.getsockname()[1]
    baseline = snapshot(child.pid)
    assert baseline.tcp(remote_port=remote) == 0

    child.tell("open")
    child.tell("open")
    accepted = [peer.accept()[0] for _ in range(2)]
    now = snapshot(child.pid)
    assert now.tcp(state="ESTABLISHED", remote_port=remote) == 2
    assert now.fds == baseline.fds + 2
    assert now.excess_over(baseline) == {"fds": 2, ("ESTABLISHED", remote): 2}

    # The peer hangs up; the child has not closed its end: half-closed, a leak.
    for connection in accepted:
        connection.close()
    wait_until(lambda: snapshot(child.pid).tcp(state="CLOSE_WAIT", remote_port=remote) == 2)
    with pytest.raises(AssertionError, match="CLOSE_WAIT"):
        wait_until_back(child.pid, baseline, timeout=0.5)

    child.tell("close")
    back = wait_until_back(child.pid, baseline)
    assert back.tcp(remote_port=remote) == 0
    assert back.fds == baseline.fds


def test_resident_memory_is_read(child):
    before = snapshot(child.pid).rss_bytes
    child.tell("grow 64")
    assert snapshot(child.pid).rss_bytes - before >= 60 * 1024 * 1024


def test_clients_connections_are_counted_together(child):
    baseline = snapshot(child.pid)
    with socket.create_connection(("127.0.0.1", child.port)):
        child.tell("accept")
        now = snapshot(child.pid)
        assert now.tcp(state="ESTABLISHED", remote_port=CLIENTS) == 1
        assert now.excess_over(baseline) == {"fds": 1, ("ESTABLISHED", CLIENTS): 1}
    child.tell("close")
    wait_until_back(child.pid, baseline)
