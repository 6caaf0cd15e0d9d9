"""The CI deployment identities for GitHub Actions: a separate, once-per-tenant Pulumi program.

Run by a person (see docs/first-deployment.md), never by CI itself: it creates the identities
that CI then uses, with federated credentials instead of secrets.
"""
