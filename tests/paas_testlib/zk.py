"""ZooKeeper probes for tests: four-letter words and a kazoo client."""
from __future__ import annotations

import socket
import time


def four_letter_word(address, word="srvr", timeout=2.0):
    host, _, port = address.rpartition(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.settimeout(timeout)
        sock.sendall(word.encode())
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while True:
            data = sock.recv(4096)
            if not data:
                break
            chunks.append(data)
    return b"".join(chunks).decode("utf-8", "replace")


def mode(address, timeout=2.0):
    """'leader', 'follower', 'standalone'; 'looking' when the process answers but
    does not serve (no quorum, election under way); None when it is down."""
    try:
        text = four_letter_word(address, "srvr", timeout)
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("Mode:"):
            return line.split(":", 1)[1].strip()
    return "looking"


def modes(addresses):
    return {a: mode(a) for a in addresses}


def wait_for(predicate, timeout, interval=0.5, message="condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError("timed out after %ss waiting for %s (last: %r)" % (timeout, message, last))
