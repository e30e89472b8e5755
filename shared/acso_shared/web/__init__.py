"""Web helpers: the app factory, middlewares, health endpoints, OpenAPI, request parsing."""
