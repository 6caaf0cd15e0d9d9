"""The rehearsal tool of the offline sandbox."""
