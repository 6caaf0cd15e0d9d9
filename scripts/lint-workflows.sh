#!/usr/bin/env bash
# Offline lint of .github/workflows: actionlint (syntax, expressions, shellcheck-free checks),
# zizmor (security audits, offline), and the GitHub workflow JSON schema.
# The linters come from requirements-dev.txt (make venv); nothing is downloaded here.
set -euo pipefail
cd "$(dirname "$0")/.."

bin=venv/bin
workflows=(.github/workflows/*.yml)

echo "== actionlint"
"$bin/actionlint" "${workflows[@]}"

echo "== zizmor --offline"
"$bin/zizmor" --offline --no-progress .github/workflows

echo "== check-jsonschema (vendor.github-workflows)"
"$bin/check-jsonschema" --builtin-schema vendor.github-workflows "${workflows[@]}"
