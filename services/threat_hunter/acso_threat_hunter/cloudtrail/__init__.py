"""CloudTrail: the local event store, its record extraction, and the LookupEvents client (AWS only)."""
