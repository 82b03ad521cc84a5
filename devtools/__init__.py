"""Local stand-ins for outside services (the Telegram Bot API), used by tests and benchmarks."""
