"""The baseline's own container images: recipes, a reproducible OCI builder, and their SBOMs."""
