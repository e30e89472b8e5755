"""ATT&CK knowledge: cloud techniques and tactics, and where in AWS each is observed (see README.md)."""
