"""A tenant's life after `up`: its final backup, and its decommission (backup, export for the pemda,
restore drill, destroy, signed evidence). Stands above the engine (provision) and the platform's
backups, which know nothing of it."""
