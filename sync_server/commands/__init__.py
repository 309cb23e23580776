"""The `borne` command line and each of its command groups."""
