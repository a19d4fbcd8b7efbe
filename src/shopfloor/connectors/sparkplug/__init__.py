"""Sparkplug B: codec (protobuf), a pure edge-node encoder, topic and asset mapping; see docs/sparkplug.md."""
