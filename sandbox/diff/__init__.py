"""The diff tool of the offline sandbox."""
