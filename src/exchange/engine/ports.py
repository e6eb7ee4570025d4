"""Distinct free loopback ports, for tests, benchmarks and local runs.

The ports come from below the kernel's ephemeral range (the local ports it
hands to outgoing connections). A port from inside that range, free when
chosen, can be taken by any client's connection before its server binds it:
a process started on it then fails at once with "address in use".
"""

import random
import socket
from pathlib import Path

_EPHEMERAL = Path("/proc/sys/net/ipv4/ip_local_port_range")
_LOWEST = 10_000


def _below_ephemeral() -> tuple[int, int]:
    """[low, high) to choose from: 10,000 up to the ephemeral range (32,768 by default)."""
    try:
        start = int(_EPHEMERAL.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        start = 32_768
    return (_LOWEST, start) if start - _LOWEST >= 1_000 else (_LOWEST, 32_768)


def free_ports(count: int) -> list[int]:
    """`count` distinct ports free now; the probes stay bound until all are chosen."""
    low, high = _below_ephemeral()
    chooser = random.Random()  # seeded from the OS: concurrent callers pick differently
    probes: list[socket.socket] = []
    try:
        for _ in range(count * 100):
            if len(probes) == count:
                break
            probe = socket.socket()
            try:
                probe.bind(("127.0.0.1", chooser.randrange(low, high)))
            except OSError:
                probe.close()
                continue
            probes.append(probe)
        if len(probes) < count:
            raise RuntimeError(f"no {count} free ports between {low} and {high}")
        return [int(probe.getsockname()[1]) for probe in probes]
    finally:
        for probe in probes:
            probe.close()
