"""Hugging Face Hub support: loading and publishing agents, model cards, a Hub-compatible server."""
