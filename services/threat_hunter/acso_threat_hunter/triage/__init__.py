"""Alert triage: intel matches, ATT&CK techniques, CloudTrail context, and a deterministic verdict."""
