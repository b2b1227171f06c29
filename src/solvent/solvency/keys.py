"""The venue's Ed25519 signing key: created once, kept private, its public half in every header.

The key file is PKCS#8 PEM, unencrypted, written with permissions 0600 and never overwritten (a
new key would break the chain of headers signed by the old one)."""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from solvent.errors import SolventInputError
from solvent.files import is_directory, read_bytes, shown_path


def public_key_hex(key: Ed25519PrivateKey) -> str:
    """The raw 32-byte public key, lowercase hex (as headers carry it)."""
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return raw.hex()


def create_key(path: str | Path, field: str = "out") -> Ed25519PrivateKey:
    """A new random key written to ``path`` (refused if the file exists or its folder does not)."""
    p = Path(path)
    if is_directory(p, field):
        raise SolventInputError(field, f"{shown_path(p)} is a directory")
    if not is_directory(p.parent, field):
        raise SolventInputError(field, f"{shown_path(p)}: the folder does not exist")
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    try:
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise SolventInputError(
            field, f"{shown_path(p)} exists; a key is never overwritten"
        ) from None
    except OSError as exc:
        raise SolventInputError(field, f"{shown_path(p)}: cannot write ({exc.strerror})") from None
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    return key


def load_key(path: str | Path, field: str = "key") -> Ed25519PrivateKey:
    """The Ed25519 private key in the PEM file at ``path``."""
    data = read_bytes(path, field)
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise SolventInputError(
            field, f"{shown_path(path)} is not an unencrypted PEM key"
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SolventInputError(field, f"{shown_path(path)} is not an Ed25519 key")
    return key
