"""Alerts: rules per organisation and site (`rules`), their evaluation
(`evaluate`), the messages that carry them (`delivery`) and the server loop
that runs both (`service`)."""
