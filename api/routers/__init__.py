"""Routers of the hedger web server: front-end API, websockets, admin, health and metrics."""
