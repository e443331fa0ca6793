"""Configuration inside a tenant's running components: which role runs where, with what (the plan), and running it."""
