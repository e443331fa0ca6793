"""Rolling a catalog version over a fleet of tenants: plan, waves, health gates, rollback, journal."""
