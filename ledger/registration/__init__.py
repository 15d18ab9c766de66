"""Registering images: discovery, parallel analysis, signed image.registered entries."""
