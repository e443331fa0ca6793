"""Tenant requests: what a pemda asks for, validated into a TenantSpec."""

from spbe_kit.request.model import Component, ContactRole, Tier
from spbe_kit.request.spec import TenantSpec
from spbe_kit.request.validate import load_request, parse_request

__all__ = ["Component", "ContactRole", "TenantSpec", "Tier", "load_request", "parse_request"]
