"""Channel adapters: render engine replies for a transport (Telegram HTML, console text)."""
