"""The client gateway for brokers: HTTP in front of the engine (in progress, see issue 3)."""

from exchange.gateway.app import Gateway, GatewayConfig, create_app

__all__ = ["Gateway", "GatewayConfig", "create_app"]
