"""Threat-intelligence ingestion (STIX 2.1, MISP, plain and CSV feeds, TAXII 2.1) and indicator matching."""
