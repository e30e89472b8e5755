"""The shipped playbooks (YAML), loaded by `acso_incident_response.playbook`."""
