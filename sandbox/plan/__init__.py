"""The plan tool of the offline sandbox."""
