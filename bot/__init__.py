"""Alibaba Mail support bot: a transport-independent core with Telegram and console channels."""

__version__ = "0.1.0"
