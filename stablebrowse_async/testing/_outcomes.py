"""Task outcomes: the scripted `Outcome`, text directives, and generated content."""

from __future__ import annotations

import dataclasses
import random
import re
from typing import Any

__all__ = [
    "DEFAULT_RESULT",
    "DESIGN_EXTRACTORS",
    "Outcome",
    "design_results",
    "generate_from_schema",
    "parse_directives",
    "step_details",
]

DESIGN_EXTRACTORS = ("images", "fonts", "colors", "icons", "tokens", "logo")


class _DefaultResult:
    """Marker: let the emulator write its default result text."""

    _instance: _DefaultResult | None = None

    def __new__(cls) -> _DefaultResult:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "DEFAULT_RESULT"


DEFAULT_RESULT: Any = _DefaultResult()


@dataclasses.dataclass(frozen=True)
class Outcome:
    """How one task ends. Fields left at their defaults are filled in by the emulator.

    ``status`` may be "completed", "failed", "cancelled" or any other string
    (the record then stays in that status). ``duration`` None = random from
    the emulator's ``durations``.
    """

    duration: float | None = None
    status: str = "completed"
    result: Any = DEFAULT_RESULT
    error: str | None = None
    structured_content: dict[str, Any] | None = None
    steps: int | None = None
    visited_urls: list[str] | None = None


_DIRECTIVE = re.compile(r"\[\[\s*([A-Za-z_]+)\s*(?:=([^\]]*))?\]\]")


def parse_directives(text: str) -> tuple[str, dict[str, str]]:
    """Split ``[[name=value]]`` directives out of a task text.

    Returns the text without directives (trimmed) and the directives found:
    ``[[fail]]``, ``[[duration=2.5]]``, ``[[status=cancelled]]``,
    ``[[result=some text]]``, ``[[steps=3]]``.
    """
    found: dict[str, str] = {}
    for match in _DIRECTIVE.finditer(text):
        found[match.group(1).lower()] = (match.group(2) or "").strip()
    clean = " ".join(_DIRECTIVE.sub(" ", text).split())
    return clean, found


_WORDS = [
    "alpha",
    "bravo",
    "charlie",
    "delta",
    "echo",
    "foxtrot",
    "golf",
    "hotel",
    "india",
    "juliet",
    "kilo",
    "lima",
    "mike",
    "november",
    "oscar",
    "papa",
    "quebec",
    "romeo",
    "sierra",
    "tango",
]


def generate_from_schema(schema: Any, rng: random.Random, depth: int = 0) -> Any:
    """A small value conforming to a (simple) JSON Schema: object/properties/required,
    string, number, integer, boolean, array/items, enum, const, and type lists."""
    if not isinstance(schema, dict) or depth > 8:
        return None
    if "const" in schema:
        return schema["const"]
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        return rng.choice(enum)
    kind = schema.get("type")
    if isinstance(kind, list):
        options = [k for k in kind if k != "null"] or ["null"]
        kind = options[0]
    if kind is None:
        if "properties" in schema:
            kind = "object"
        elif "items" in schema:
            kind = "array"
        else:
            kind = "string"
    if kind == "object":
        props = schema.get("properties")
        out: dict[str, Any] = {}
        if isinstance(props, dict):
            for name, sub in props.items():
                out[str(name)] = generate_from_schema(sub, rng, depth + 1)
        return out
    if kind == "array":
        low = schema.get("minItems", 1)
        high = schema.get("maxItems", max(low, 3))
        low = low if isinstance(low, int) and low >= 0 else 1
        high = high if isinstance(high, int) and high >= low else low
        items = schema.get("items", {"type": "string"})
        return [generate_from_schema(items, rng, depth + 1) for _ in range(rng.randint(low, high))]
    if kind == "integer":
        low = schema.get("minimum", 0)
        high = schema.get("maximum", 1000)
        low = int(low) if isinstance(low, (int, float)) else 0
        high = int(high) if isinstance(high, (int, float)) and high >= low else low + 1000
        return rng.randint(low, high)
    if kind == "number":
        low = schema.get("minimum", 0.0)
        high = schema.get("maximum", 1000.0)
        low = float(low) if isinstance(low, (int, float)) else 0.0
        high = float(high) if isinstance(high, (int, float)) and high >= low else low + 1000.0
        return round(rng.uniform(low, high), 2)
    if kind == "boolean":
        return rng.random() < 0.5
    if kind == "null":
        return None
    words = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(1, 3)))
    fmt = schema.get("format")
    if fmt == "uri":
        return f"https://example.com/{words.replace(' ', '-')}"
    if fmt == "email":
        return f"{words.split()[0]}@example.com"
    if fmt == "date-time":
        return "2026-04-21T10:00:00.000Z"
    return words


_STEP_TYPES = ("navigate", "click", "type", "scroll", "extract", "wait")


def step_details(
    seed: int, steps: int, start_url: str | None, visited: list[str] | None, succeeded: bool
) -> tuple[list[str], list[dict[str, Any]]]:
    """Visited URLs and step summaries, derived from a per-task seed on read
    (so 100 000 stored tasks cost a few numbers each, not lists of dicts)."""
    rng = random.Random(seed)
    base = (start_url or "https://example.com").rstrip("/")
    if visited is None:
        visited = [base] + [
            f"{base}/{rng.choice(_WORDS)}" for _ in range(min(steps, rng.randint(0, 4)))
        ]
    summaries: list[dict[str, Any]] = []
    for n in range(1, steps + 1):
        kind = "navigate" if n == 1 else rng.choice(_STEP_TYPES)
        last = n == steps
        summaries.append(
            {
                "n": n,
                "type": kind,
                "msg": f"{kind} {visited[min(n - 1, len(visited) - 1)] if visited else base}",
                "success": succeeded or not last,
            }
        )
    return visited, summaries


def design_results(url: str, extractors: list[str], seed: int) -> dict[str, Any]:
    """Plausible design-extraction output, one entry per requested extractor."""
    rng = random.Random(seed)
    base = url.rstrip("/")
    palette = [f"#{rng.randrange(0x1000000):06x}" for _ in range(5)]
    all_results: dict[str, Any] = {
        "images": [
            {"url": f"{base}/img/hero-{i}.jpg", "alt": f"image {i}", "width": 1200, "height": 630}
            for i in range(1, rng.randint(2, 4))
        ],
        "fonts": [
            {"family": "Inter", "weights": [400, 600], "source": "google"},
            {"family": "JetBrains Mono", "weights": [400], "source": "self-hosted"},
        ],
        "colors": [
            {"hex": hex_, "usage": usage}
            for hex_, usage in zip(
                palette, ("primary", "secondary", "background", "text", "accent"), strict=False
            )
        ],
        "icons": [{"name": name, "url": f"{base}/icons/{name}.svg"} for name in ("menu", "search")],
        "tokens": [
            {"name": "spacing-1", "value": "4px"},
            {"name": "radius-md", "value": "8px"},
            {"name": "color-primary", "value": palette[0]},
        ],
        "logo": [{"url": f"{base}/logo.svg", "format": "svg", "width": 120, "height": 32}],
    }
    return {name: all_results[name] for name in extractors}
