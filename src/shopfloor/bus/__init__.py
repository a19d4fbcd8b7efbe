"""Message buses: in-process (embedded) and NATS JetStream (production)."""
