"""Async AWS access: one client factory and thin typed wrappers per service."""
