"""The request portal: pemda IT teams ask for a tenant in a web page and follow it to "ready".

It stands above the product like the CLI does: it validates with the request validator, previews with the
desired state, and provisions by running `spbe tenant up` (and `spbe drift` for the auditors' evidence).
"""
