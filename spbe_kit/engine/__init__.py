"""The Pulumi engine spbe-kit drives: the CLI, the Python language host and the providers,
built from Go modules at the versions the installed Python packages pin (see ``toolchain``)."""
