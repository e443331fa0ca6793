"""Drift: does the live cluster still hold each tenant's desired state? Read-only, no Pulumi state."""
