"""`spbe verify`: the testinfra suite that proves a tenant's running components are configured as the baseline says."""
