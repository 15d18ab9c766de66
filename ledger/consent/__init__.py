"""Consent states and scopes (GA4GH DUO), withdrawal impact, per-subject keys and erasure."""
