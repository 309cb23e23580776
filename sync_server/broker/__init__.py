"""The MQTT broker side: topic rules, Mosquitto configuration, the embedded broker."""
