"""Building the Pulumi engine (CLI + kubernetes provider) from Go modules; see build.py."""
