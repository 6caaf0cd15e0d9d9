"""`secure-api-calls verify`: the rehearsal's proof, run against a deployed gateway."""
