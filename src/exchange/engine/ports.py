"""Distinct free loopback ports, for tests, benchmarks and local runs."""

import socket


def free_ports(count: int) -> list[int]:
    """All probe sockets stay open until every port is chosen, so the ports differ."""
    probes = [socket.socket() for _ in range(count)]
    try:
        for probe in probes:
            probe.bind(("127.0.0.1", 0))
        return [int(probe.getsockname()[1]) for probe in probes]
    finally:
        for probe in probes:
            probe.close()
