"""shopfloor: an open-source Industrial IoT platform."""

__version__ = "0.1.0"
