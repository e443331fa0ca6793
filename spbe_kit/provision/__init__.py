"""Provisioning tenants for real: the Pulumi tenant stack run through the Automation API."""
