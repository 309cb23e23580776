"""The wire format shared by the firmware and the server (`protocol.borne_wire`)."""
