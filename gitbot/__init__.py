"""gitbot: run Kratix Promise workflows from git, without a Kratix cluster."""

__version__ = "0.1.0"
