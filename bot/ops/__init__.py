"""What an operator needs: health and readiness, one log line per update, Prometheus metrics."""
