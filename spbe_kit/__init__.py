"""spbe-kit: identical, verified, auditable SPBE tenants for Indonesian local governments."""

__version__ = "0.1.0"
