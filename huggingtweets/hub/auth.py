"""Tokens, users and organisations of the local Hub, and who may read or write a repo."""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass

from huggingtweets.errors import InputError

# fullmatch, not match with "$": "$" also matches before a trailing newline, so "a\n" would pass.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,95}")


@dataclass(frozen=True)
class Principal:
    """Who a token belongs to: a user and the organisations it may write to."""

    user: str
    orgs: tuple[str, ...] = ()

    def namespaces(self) -> tuple[str, ...]:
        return (self.user, *self.orgs)

    def may_write(self, namespace: str) -> bool:
        return namespace in self.namespaces()


# Token specs from the environment: whitespace-separated (a spec holds no whitespace).
TOKENS_ENV = "HUGGINGTWEETS_HUB_TOKENS"


def parse_token_spec(spec: str, where: str = "a --token value") -> tuple[str, Principal]:
    """``TOKEN:USER[:ORG,ORG...]`` -> (token, Principal). The token never appears in the error."""
    parts = spec.split(":")
    if len(parts) not in (2, 3) or not parts[0] or not _NAME.fullmatch(parts[1]):
        raise InputError(
            f"{where} does not look like TOKEN:USER[:ORG,...] (user and org names use letters, "
            "digits, '.', '_' and '-')",
            hint="a line such as hf_xxx:alice:myorg",
        )
    orgs = tuple(o for o in (parts[2].split(",") if len(parts) == 3 else []) if o)
    for org in orgs:
        if not _NAME.fullmatch(org):
            raise InputError(f"organisation name {org!r} in {where} is not a valid Hub name")
    return parts[0], Principal(parts[1], orgs)


def token_specs(
    flags: tuple[str, ...] | list[str] = (), tokens_file: str | None = None, environ: dict | None = None
) -> list[str]:
    """Every ``TOKEN:USER[:ORGS]`` spec from ``--token`` flags, a tokens file and ``TOKENS_ENV``, checked.

    A tokens file holds one spec per line; blank lines and lines starting with '#' are skipped.
    Errors name the flag, the file and line, or the variable; never the token.
    """
    from pathlib import Path

    found = [(spec, "a --token value") for spec in flags]
    if tokens_file is not None:
        try:
            text = Path(tokens_file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            raise InputError(
                f"cannot read the tokens file {tokens_file}: {getattr(err, 'strerror', None) or err}",
                hint="pass a readable UTF-8 file with one TOKEN:USER[:ORG,...] per line",
            ) from None
        for number, line in enumerate(text.splitlines(), 1):
            if line.strip() and not line.lstrip().startswith("#"):
                found.append((line.strip(), f"line {number} of the tokens file {tokens_file}"))
    env_value = (environ or {}).get(TOKENS_ENV, "")
    found += [(spec, f"a value in {TOKENS_ENV}") for spec in env_value.split()]
    for spec, where in found:
        parse_token_spec(spec, where)
    return [spec for spec, _ in found]


class TokenTable:
    """Maps bearer tokens to principals; comparisons are constant-time."""

    def __init__(self, specs: list[str] | tuple[str, ...] = ()) -> None:
        self._tokens: list[tuple[bytes, Principal]] = []
        for spec in specs:
            token, principal = parse_token_spec(spec)
            self._tokens.append((token.encode(), principal))

    def lookup(self, authorization: str | None) -> tuple[Principal | None, bool]:
        """(principal, presented): ``presented`` is True when a token was sent at all."""
        if not authorization:
            return None, False
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            return None, True
        candidate = value.strip().encode()
        found = None
        for token, principal in self._tokens:
            if hmac.compare_digest(token, candidate):
                found = principal
        return found, True

    def users(self) -> set[str]:
        return {p.user for _, p in self._tokens}

    def orgs(self) -> set[str]:
        return {o for _, p in self._tokens for o in p.orgs}


def may_read(principal: Principal | None, namespace: str, private: bool) -> bool:
    return not private or (principal is not None and principal.may_write(namespace))


def valid_name(name: str) -> bool:
    return bool(_NAME.fullmatch(name)) and ".." not in name and not name.endswith(".git")
