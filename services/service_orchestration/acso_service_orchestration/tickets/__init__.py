"""ITSM tickets: outbound sync of incidents, inbound ticket changes, the external-id mapping."""
