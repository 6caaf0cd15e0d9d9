"""The check tool of the offline sandbox."""
