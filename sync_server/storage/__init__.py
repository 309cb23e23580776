"""Storage: the SQLite connection, schema and migrations, the registry of
sites and kiosks, the rollups. The only package that knows the tables."""
