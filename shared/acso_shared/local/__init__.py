"""The local stack: the AWS emulator and PostgreSQL from PyPI, and the launcher behind `make run`."""
