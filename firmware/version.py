# Firmware version, reported in status, telemetry and on the console.
FW = "1.0.0"
