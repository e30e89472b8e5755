"""Test support: the local stack started by the test session, and helpers to talk to it."""
