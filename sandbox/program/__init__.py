"""The program tool of the offline sandbox."""
