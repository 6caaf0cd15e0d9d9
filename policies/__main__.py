"""Entry point of the secure-api-calls CrossGuard pack: it only assembles the rules.

`PolicyPack(...)` starts the analyzer's gRPC server and never returns, so nothing may import
this file; rules and their tests live in `secure_api_policies`.
"""

from pulumi_policy import EnforcementLevel, PolicyPack
from secure_api_policies import all_policies

PolicyPack(
    name="secure-api-calls",
    # Every policy carries its own level; this default only covers a policy that forgets one.
    enforcement_level=EnforcementLevel.ADVISORY,
    policies=all_policies(),
)
