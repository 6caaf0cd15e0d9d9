"""Pulumi components of the secure-api-calls stack, and the pure gateway-policy builder."""
