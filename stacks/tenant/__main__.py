"""`pulumi -C stacks/tenant up -s TENANT`: the tenant program of `spbe tenant up`, from stack config."""

from spbe_kit.stacks.project import main

main()
