"""Test builders and fakes shared by the test suites (the fake Telegram Bot API server)."""
