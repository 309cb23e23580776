"""The wire format shared by the firmware and the server: `kiosk_wire` (all a
kiosk runs) and `server_wire` (the server's half, built on it)."""
