"""The Pulumi engine spbe-kit drives (the CLI and the kubernetes provider): where it is, which versions,
and the offline environment it runs in. Building it is dev tooling: spbe_kit.devenv.engine."""
