"""Public market data: books, trades and day statistics from the engine's events."""
