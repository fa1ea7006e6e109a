"""Layered settings: built-in defaults, then ``newsmill.toml``, then environment.

Secrets (the author pseudonym key) only ever come from the environment, so a
project file can be committed and shared safely.
"""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

AUTHOR_KEY_ENV = "NEWSMILL_AUTHOR_KEY"
# What comment rows say about their authors (see README "Privacy"):
#   keep          names as shown, plus the keyed author_id
#   pseudonymize  author, reply_to_name and '@name' mentions -> 'user-<author_id>'
#   drop          author and author_id null, reply_to_name '[author]', mentions '@[author]'
# Reply and quote links are resolved from the real names first, so they survive every mode.
AUTHOR_MODES = ("keep", "pseudonymize", "drop")
_AUTHOR_MODE_ALIASES = {"pseudonymise": "pseudonymize", "pseudonymized": "pseudonymize", "pseudonymised": "pseudonymize"}


class ConfigError(ValueError):
    """A setting is missing or wrong; the message says which and where."""


@dataclass(frozen=True)
class Settings:
    output_dir: Path = Path("output")
    batch_size: int = 50  # pages per task: big enough to amortise orchestration, small enough to bound memory
    profiles_dir: str | None = None  # extra site profiles, on top of the bundled ones
    min_date: str = "1990-01-01"  # earliest plausible publication/comment date
    max_days_before_article: float = 2.0  # a comment this long before its article means a bad date
    author_key: bytes | None = field(default=None, repr=False)
    authors: str = "keep"  # keep | pseudonymize | drop: see AUTHOR_MODES
    inputs: tuple[str, ...] = ()

    def __post_init__(self):
        if self.authors not in AUTHOR_MODES:
            raise ConfigError(f"setting 'authors' is {self.authors!r}: must be one of {', '.join(AUTHOR_MODES)}")

    def with_overrides(self, **kw) -> "Settings":
        return replace(self, **{k: v for k, v in kw.items() if v is not None})


_ENV = {
    "NEWSMILL_OUTPUT": "output_dir",
    "NEWSMILL_BATCH_SIZE": "batch_size",
    "NEWSMILL_PROFILES_DIR": "profiles_dir",
    "NEWSMILL_AUTHORS": "authors",
}


def _coerce(name: str, value, origin: str):
    kinds = {f.name: f.type for f in fields(Settings)}
    try:
        if name == "output_dir":
            return Path(value)
        if name == "batch_size":
            n = int(value)
            if n < 1:
                raise ValueError("must be at least 1")
            return n
        if name == "max_days_before_article":
            return float(value)
        if name == "inputs":
            return tuple(value)
        if name == "authors":
            mode = str(value).strip().lower()
            mode = _AUTHOR_MODE_ALIASES.get(mode, mode)
            if mode not in AUTHOR_MODES:
                raise ValueError(f"{value!r} is not one of {', '.join(AUTHOR_MODES)}")
            return mode
        return value
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{origin}: setting {name!r} ({kinds.get(name)}): {exc}") from exc


def load_settings(project_file: Path | None = None, env: dict | None = None) -> Settings:
    """Defaults < ``newsmill.toml`` (``[newsmill]`` table) < ``NEWSMILL_*`` environment variables."""
    env = os.environ if env is None else env
    values: dict = {}
    path = project_file or Path("newsmill.toml")
    if path.exists():
        try:
            doc = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
        known = {f.name for f in fields(Settings)} - {"author_key"}
        for key, value in doc.get("newsmill", {}).items():
            if key not in known:
                raise ConfigError(f"{path}: unknown setting {key!r} in [newsmill] (known: {', '.join(sorted(known))})")
            values[key] = _coerce(key, value, str(path))
    elif project_file is not None:
        raise ConfigError(f"project file {project_file} does not exist")
    for var, key in _ENV.items():
        if env.get(var):
            values[key] = _coerce(key, env[var], f"environment {var}")
    if env.get(AUTHOR_KEY_ENV):
        values["author_key"] = env[AUTHOR_KEY_ENV].encode()
    return Settings(**values)
