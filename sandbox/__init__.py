"""Offline tooling: plan, check, diff, rehearse and doctor, with no Azure and no Pulumi CLI."""
