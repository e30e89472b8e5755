"""Authentication, authorization and secret redaction primitives.

Pure library code: no web framework, database or AWS calls. The web middleware and the auth
Lambda wire these together (token verification, the permission matrix, signed webhooks, rate
limits and log redaction).
"""
