"""Tests of the channel adapters and the fake Bot API they run against."""
