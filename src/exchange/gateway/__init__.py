"""The client gateway for brokers: REST + WebSocket in front of the engine."""

from exchange.gateway.app import create_app
from exchange.gateway.resources import Gateway, GatewayConfig, Limits

__all__ = ["Gateway", "GatewayConfig", "Limits", "create_app"]
