"""Screening for generated and filter-altered images: each signal a small module, each explained.

A screening signal, never a verdict: the words are "suspected" and "no signal found".
"""
