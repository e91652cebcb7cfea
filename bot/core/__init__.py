"""The transport-independent core: knowledge, matching and dialogue. No I/O, no Telegram."""
