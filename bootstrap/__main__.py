"""secure-api-calls-bootstrap: the GitHub Actions identities, with no secret. Run once, by a person.

Config in (`Pulumi.<stack>.yaml`, one strict model), identities out, GitHub variables exported.
"""

import sys
from pathlib import Path

# `pulumi up` puts only this folder on sys.path; the modules live in the `bootstrap` package so
# that Pulumi, the tests, mypy and the offline sandbox all import them by one name.
_REPOSITORY = str(Path(__file__).resolve().parent.parent)
if _REPOSITORY not in sys.path:
    sys.path.insert(0, _REPOSITORY)

import pulumi  # noqa: E402

from bootstrap.config import ConfigError  # noqa: E402
from bootstrap.stack import build, load_config  # noqa: E402

try:
    config = load_config()
except ConfigError as error:
    # RunError prints the one-line message without a Python traceback.
    raise pulumi.RunError(str(error)) from None

for name, value in build(config).items():
    pulumi.export(name, value)
