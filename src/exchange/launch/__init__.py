"""Starting the exchange's services as processes from one config, with one lifecycle."""

from exchange.launch.launcher import (
    KINDS,
    Fleet,
    command,
    on_free_ports,
    probe,
    service,
)
from exchange.launch.process import Service, ServiceFailedError

__all__ = ["KINDS", "Fleet", "Service", "ServiceFailedError", "command", "on_free_ports", "probe",
           "service"]  # fmt: skip
