"""ITSM adapters: ServiceNow, Jira Cloud and a generic signed webhook, with two-way sync."""
