"""The local development environment: the embedded cluster and the Pulumi engine, built from Go modules.

Dev tooling, apart from the product: the domain modules (request, catalog, desired, stacks,
provision, drift, configure, verify) never import it. The CLI uses it for `spbe cluster ...`,
`spbe engine build`, and to build a missing engine before `spbe tenant up`.
"""
