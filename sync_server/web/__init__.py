"""The web application: app, access, texts, pages, JSON API, templates and static files."""
