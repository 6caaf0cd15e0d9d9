"""The doctor tool of the offline sandbox."""
