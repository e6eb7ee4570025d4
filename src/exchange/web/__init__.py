"""HTTP plumbing shared by the public servers (gateway, market data): limits and the error shape."""
