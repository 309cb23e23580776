"""Devices: provisioning a kiosk over its serial console, building and deploying firmware."""
