"""Ingest: votes, status and telemetry from MQTT into the store, and the
control messages (config, time) sent back to kiosks."""
