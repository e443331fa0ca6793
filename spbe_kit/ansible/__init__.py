"""The Ansible content the kit runs: roles/ (spbe_identity, spbe_database, ...) and requirements.yml."""
