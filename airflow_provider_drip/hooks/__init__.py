"""Hooks of the Drip provider."""
