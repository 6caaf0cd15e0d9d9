"""YAML read as the Pulumi CLI reads it, JSON written as the CLI (Go) writes it.

The CLI decodes `Pulumi.yaml` and stack files with gopkg.in/yaml.v3 into Go `any` values
(pulumi/pulumi sdk/go/common/encoding/marshal.go) and hands objects to the program as
`encoding/json` text. PyYAML resolves plain scalars by YAML 1.1 (`yes` and `on` are booleans,
`1e3` is a string, a date becomes datetime.date); yaml.v3 does not. So this loader resolves every
plain (unquoted, untagged) scalar the way yaml.v3 resolve.go `resolve()` does:

- null: empty, `~`, `null`, `Null`, `NULL`; booleans: only true/True/TRUE and false/False/FALSE
  (yes/no/on/off stay strings);
- integers: underscores dropped, then Go `strconv.ParseInt(s, 0, 64)`: `0x1F` is 31, `017` and
  `0o17` are 15, `0b101` is 5, `+5` is 5; past int64 `ParseUint`; past uint64 a float;
- floats: yaml.v3's `yamlStyleFloat` (`1e3`, `08`, `1.`, `.5`); `.inf`/`.nan` resolve but
  encoding/json then refuses them (`json: unsupported value`);
- `-0.0` becomes the integer 0: the CLI re-encodes the file with yaml.v3 (`'g'` format, "-0")
  and reads it back as an integer (workspace/loaders.go LoadProjectStackBytes);
- timestamps (`2024-01-31`, `2024-01-31T10:00:00Z`, `2024-01-31 10:00:00`) become GoTime;
- a mapping key given twice is an error, as in yaml.v3 (`mapping key "a" already defined`);
  non-string keys are refused as workspace/project.go `SimplifyMarshalledValue` refuses them.
"""

from __future__ import annotations

import datetime
import json
import math
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import yaml

_PLAIN = "tag:sandbox:plain"
_MERGE = "tag:yaml.org,2002:merge"
_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
_BOOLS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_FLOATS = {
    **dict.fromkeys((".nan", ".NaN", ".NAN"), math.nan),
    **dict.fromkeys((".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"), math.inf),
    **dict.fromkeys(("-.inf", "-.Inf", "-.INF"), -math.inf),
}
# Go ParseInt base 0 after the sign: hex, octal (0o or a leading 0), binary, decimal.
_GO_INT = re.compile(r"([+-]?)(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)")
_YAML_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_DOT_FLOAT = re.compile(r"\.[0-9]+([eE][-+]?[0-9]+)?")  # Go ParseFloat of a ".5"-style value
_DATE = r"(\d{4})-(\d{1,2})-(\d{1,2})"
_CLOCK = r"(\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.(\d{1,9}))?"
# resolve.go allowedTimestampFormats: RFC 3339 with short fields, space-separated, date only.
_TIMESTAMPS = (
    re.compile(rf"{_DATE}[Tt]{_CLOCK}(Z|[+-]\d{{2}}:\d{{2}})"),
    re.compile(rf"{_DATE} {_CLOCK}()"),
    re.compile(rf"{_DATE}()()()()()"),
)


class YamlError(ValueError):
    """The file cannot be read as the CLI reads it; the message is one line."""


@dataclass(frozen=True)
class GoTime:
    """A YAML timestamp as yaml.v3 decodes it into a Go time.Time (nanoseconds kept as text)."""

    date: datetime.date
    clock: tuple[int, int, int]
    fraction: str  # digits after the point, trailing zeros removed
    offset_minutes: int | None  # None: UTC (a Z suffix or no zone at all)

    def go_string(self) -> str:
        """time.Time.String(), which config/object.go unmarshalObject stores for a time.

        A numeric zone prints as Go's fabricated zone ("+0200 +0200"), as on a machine whose
        local zone is UTC; an offset of zero then prints as that local zone, UTC."""
        zone = "+0000 UTC"
        if self.offset_minutes:
            sign = "-" if self.offset_minutes < 0 else "+"
            hours, minutes = divmod(abs(self.offset_minutes), 60)
            zone = f"{sign}{hours:02d}{minutes:02d} {sign}{hours:02d}{minutes:02d}"
        return f"{self.date.isoformat()} {self._clock()} {zone}"

    def rfc3339(self) -> str:
        """time.RFC3339Nano, which encoding/json writes for a time.Time."""
        zone = "Z"
        if self.offset_minutes:
            sign = "-" if self.offset_minutes < 0 else "+"
            hours, minutes = divmod(abs(self.offset_minutes), 60)
            zone = f"{sign}{hours:02d}:{minutes:02d}"
        return f"{self.date.isoformat()}T{self._clock()}{zone}"

    def _clock(self) -> str:
        hour, minute, second = self.clock
        fraction = f".{self.fraction}" if self.fraction else ""
        return f"{hour:02d}:{minute:02d}:{second:02d}{fraction}"


def _timestamp(text: str) -> GoTime | None:
    for pattern in _TIMESTAMPS:
        match = pattern.fullmatch(text)
        if match is None:
            continue
        year, month, day, hour, minute, second, fraction, zone = match.groups()
        try:
            date = datetime.date(int(year), int(month), int(day))
        except ValueError:  # Go's time.Parse: month or day out of range
            return None
        clock = (int(hour or 0), int(minute or 0), int(second or 0))
        if clock[0] > 23 or clock[1] > 59 or clock[2] > 59:
            return None
        offset = None
        if zone and zone != "Z":
            offset = (int(zone[1:3]) * 60 + int(zone[4:6])) * (-1 if zone[0] == "-" else 1)
        return GoTime(date, clock, (fraction or "").rstrip("0"), offset)
    return None


def resolve_plain(text: str) -> Any:
    """A plain scalar as yaml.v3 resolve.go resolves it (see the module docstring)."""
    if text in _NULLS:
        return None
    if text in _BOOLS:
        return _BOOLS[text]
    if text in _FLOATS:
        return _FLOATS[text]
    if text[0] == "." and _DOT_FLOAT.fullmatch(text):
        return float(text)
    if not (text[0].isdigit() or text[0] in "+-"):
        return text
    if (stamp := _timestamp(text)) is not None:
        return stamp
    plain = text.replace("_", "")
    match = _GO_INT.fullmatch(plain)
    if match is not None:
        digits = match.group(2)
        base = 8 if len(digits) > 1 and digits[0] == "0" and digits[1].isdigit() else 0
        value = int(digits, base) * (-1 if match.group(1) == "-" else 1)
        if -(2**63) <= value < 2**63 or (not match.group(1) and value < 2**64):
            return value
    if _YAML_FLOAT.fullmatch(plain):
        number = float(plain)
        if not math.isinf(number):  # Go ParseFloat fails with ErrRange: the text stays a string
            return 0 if number == 0 else number
    return text


class _Loader(yaml.SafeLoader):
    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is yaml.ScalarNode and implicit[0]:
            return _MERGE if value == "<<" else _PLAIN
        return super().resolve(kind, value, implicit)  # type: ignore[no-untyped-call]

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        seen: dict[str, int] = {}
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag != _MERGE:
                line = key_node.start_mark.line + 1
                if key_node.value in seen:
                    raise YamlError(
                        f"line {line}: mapping key {json.dumps(key_node.value)} already "
                        f"defined at line {seen[key_node.value]}"
                    )
                seen[key_node.value] = line
        return super().construct_mapping(node, deep=deep)


_Loader.add_constructor(_PLAIN, lambda loader, node: resolve_plain(node.value))


def _check_keys(value: Any) -> Any:
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                shown = key.go_string() if isinstance(key, GoTime) else go_json(key)
                raise YamlError(f"expected only string keys, got '{shown}'")
            _check_keys(item)
    elif isinstance(value, list):
        for item in value:
            _check_keys(item)
    return value


def load_yaml(text: str) -> Any:
    """The document as yaml.v3 decodes it into `any`; YamlError (one line) when it cannot."""
    try:
        return _check_keys(yaml.load(text, Loader=_Loader))
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f"line {mark.line + 1}: " if mark else ""
        raise YamlError(f"{where}{error.problem or error.context}") from None
    except yaml.YAMLError as error:
        raise YamlError(str(error).replace("\n", " ")) from None


def _go_float(number: float) -> str:
    """encoding/json's float64 text: 'f' form, 'e' below 1e-6 or from 1e21, e-07 as e-7."""
    if math.isnan(number) or math.isinf(number):
        shown = "NaN" if math.isnan(number) else ("+Inf" if number > 0 else "-Inf")
        raise YamlError(f"json: unsupported value: {shown}")
    if number == 0:
        return "-0" if math.copysign(1, number) < 0 else "0"
    text = repr(number)  # the shortest digits that read back, as Go's strconv uses
    if abs(number) < 1e-6 or abs(number) >= 1e21:
        mantissa, exponent = text.split("e")
        if exponent[0] == "-" and len(exponent) == 3 and exponent[1] == "0":
            exponent = "-" + exponent[2]
        return f"{mantissa}e{exponent}"
    text = format(Decimal(text), "f")
    return text[:-2] if text.endswith(".0") else text


def _go_string(text: str) -> str:
    """A JSON string as encoding/json writes it: <, >, & and U+2028/U+2029 escaped."""
    encoded = json.dumps(text, ensure_ascii=False)
    for char, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        encoded = encoded.replace(char, escape)
    return encoded.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def go_json(value: Any) -> str:
    """encoding/json.Marshal: compact, map keys sorted, Go's number and string forms."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _go_float(value)
    if isinstance(value, str):
        return _go_string(value)
    if isinstance(value, GoTime):
        return _go_string(value.rfc3339())
    if isinstance(value, list):
        return "[" + ",".join(go_json(item) for item in value) + "]"
    if isinstance(value, dict):
        items = sorted(value.items())
        return "{" + ",".join(f"{_go_string(k)}:{go_json(v)}" for k, v in items) + "}"
    raise YamlError(f"a {type(value).__name__} value, which the Pulumi CLI cannot read")
