"""Scoring: the satisfaction figures (METHOD.md) and the reports built on the rollups."""
