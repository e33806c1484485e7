"""Token format ``askpro_<public id>_<secret>``: mint, parse, hash and verify.

The public id finds the row; only the SHA-256 of the secret is stored and compared in
constant time, so a database leak does not leak usable tokens.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

PREFIX = "askpro"
PUBLIC_ID_BYTES = 8
SECRET_BYTES = 32
_TOKEN_PATTERN = re.compile(r"^askpro_([0-9a-f]{16})_([A-Za-z0-9_-]{43,128})$")
# Compared against when the public id is unknown, so that case costs the same time.
_DUMMY_HASH = hashlib.sha256(b"askpro-no-such-token").digest()


@dataclass(frozen=True)
class MintedToken:
    public_id: str
    secret: str

    @property
    def plaintext(self) -> str:
        return f"{PREFIX}_{self.public_id}_{self.secret}"

    @property
    def secret_hash(self) -> bytes:
        return hash_secret(self.secret)


@dataclass(frozen=True)
class PresentedToken:
    public_id: str
    secret: str


def mint() -> MintedToken:
    """A new token: 8 random bytes of public id (hex), 32 random bytes of secret (base64url)."""
    return MintedToken(
        public_id=secrets.token_hex(PUBLIC_ID_BYTES), secret=secrets.token_urlsafe(SECRET_BYTES)
    )


def parse(plaintext: str) -> PresentedToken | None:
    match = _TOKEN_PATTERN.match(plaintext)
    if match is None:
        return None
    return PresentedToken(public_id=match.group(1), secret=match.group(2))


def hash_secret(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def secret_matches(secret: str, stored_hash: bytes | None) -> bool:
    """Constant-time comparison of the presented secret with the stored hash."""
    return hmac.compare_digest(hash_secret(secret), stored_hash or _DUMMY_HASH) and (
        stored_hash is not None
    )
