"""Provider outputs as plain strings.

The engine always fills these outputs in a real deployment; under a test harness's mocks they
may be absent (None). Treating absent as "" keeps string building (`Output.concat`) total, so
the program runs under any mock instead of failing inside the Pulumi runtime.
"""

from __future__ import annotations

import pulumi


def text(value: pulumi.Input[str | None]) -> pulumi.Output[str]:
    return pulumi.Output.from_input(value).apply(lambda item: item or "")
