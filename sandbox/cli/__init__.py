"""The command line, `secure-api-calls` (also `python -m sandbox`): parse, call a tool, print,
exit. No tool logic lives here; each command is a few lines over its tool's package."""
