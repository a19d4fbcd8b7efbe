"""OPC UA connector: subscriptions with monitored items, reconnect and re-subscribe (see docs/edge.md)."""
