"""free_ports: distinct, bindable, and outside the range the kernel gives outgoing connections."""

import socket

from exchange.engine.ports import _below_ephemeral, free_ports


def test_ports_are_distinct_bindable_and_below_the_ephemeral_range() -> None:
    low, high = _below_ephemeral()
    ports = free_ports(20)
    assert len(set(ports)) == 20
    assert all(low <= port < high for port in ports)
    servers = []
    try:
        for port in ports:
            server = socket.socket()
            server.bind(("127.0.0.1", port))
            servers.append(server)
    finally:
        for server in servers:
            server.close()


def test_a_port_in_use_is_never_chosen() -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", free_ports(1)[0]))
    try:
        busy = taken.getsockname()[1]
        assert all(busy not in free_ports(50) for _ in range(20))
    finally:
        taken.close()
