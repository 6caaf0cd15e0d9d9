"""What API Management itself answers, byte for byte: the texts the rehearsal's gateway says and
`verify` expects from the real one. [seen] in captured real responses, except where noted
(shared/reference/azure-facts.md, "Gateway error responses")."""

from __future__ import annotations

MISSING_KEY = (
    "Access denied due to missing subscription key. Make sure to include subscription key "
    "when making requests to an API."
)
INVALID_KEY = (
    "Access denied due to invalid subscription key. Make sure to provide a valid key for an "
    "active subscription."
)
# [doc] reason text; the 404 status [seen].
NO_OPERATION = "Unable to match incoming request to an operation."
