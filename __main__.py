"""secure-api-calls: service-to-service calls with no secrets, one stack per environment.

Config in (`Pulumi.<stack>.yaml`, parsed by one strict model), components out, outputs exported.
"""

from pathlib import Path

import pulumi

from components.config import ConfigError
from components.stack import build, load_stack_config

PROJECT_DIR = Path(__file__).resolve().parent

try:
    config = load_stack_config(pulumi.get_stack(), PROJECT_DIR)
except ConfigError as error:
    # RunError prints the one-line message without a Python traceback.
    raise pulumi.RunError(str(error)) from None

for name, value in build(config, pulumi.get_stack(), PROJECT_DIR).items():
    pulumi.export(name, value)
