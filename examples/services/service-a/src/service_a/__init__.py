"""service-a: a small FastAPI service."""
