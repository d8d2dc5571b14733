"""Encryption at rest of the portal's own backup archives (§11.1 暗号化されたバックアップの保管).

AES-256-GCM from the maintained ``cryptography`` package, in 1 MiB chunks so a large dump never
sits in memory. The key is derived with scrypt from ``BACKUP_ENCRYPTION_KEY`` and a random salt
stored in the header. Each chunk's nonce is random and its associated data binds the chunk index
and a last-chunk flag, so chunks cannot be reordered, dropped or the archive truncated unnoticed.

Layout: ``MAGIC | salt(16) | { flag(1) | length(4) | nonce(12) | ciphertext+tag }*``.
"""

from __future__ import annotations

import hashlib
import os
import struct
from pathlib import Path

MAGIC = b"ITSMBKP1"
CHUNK = 1024 * 1024
ENV_KEY = "BACKUP_ENCRYPTION_KEY"


class EncryptionUnavailable(RuntimeError):
    pass


class DecryptionFailed(ValueError):
    pass


def configured_key() -> str:
    return os.environ.get(ENV_KEY, "")


def _aesgcm(passphrase: str, salt: bytes):
    try:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise EncryptionUnavailable(
            f"{ENV_KEY} is set but the 'cryptography' package is not installed"
        ) from exc
    key = hashlib.scrypt(passphrase.encode(), salt=salt, n=2**14, r=8, p=1, dklen=32)
    return AESGCM(key)


def _aad(index: int, last: bool) -> bytes:
    return MAGIC + struct.pack(">Q?", index, last)


def encrypt_file(source: Path, target: Path, passphrase: str) -> None:
    salt = os.urandom(16)
    aes = _aesgcm(passphrase, salt)
    size = source.stat().st_size
    with source.open("rb") as src, target.open("wb") as dst:
        dst.write(MAGIC + salt)
        index, done = 0, 0
        while True:
            chunk = src.read(CHUNK)
            done += len(chunk)
            last = done >= size
            nonce = os.urandom(12)
            sealed = aes.encrypt(nonce, chunk, _aad(index, last))
            dst.write(struct.pack(">?I", last, len(sealed)) + nonce + sealed)
            index += 1
            if last:
                break


def decrypt_file(source: Path, target: Path, passphrase: str) -> None:
    from cryptography.exceptions import InvalidTag

    with source.open("rb") as src, target.open("wb") as dst:
        header = src.read(len(MAGIC) + 16)
        if len(header) != len(MAGIC) + 16 or not header.startswith(MAGIC):
            raise DecryptionFailed("not an encrypted portal backup")
        aes = _aesgcm(passphrase, header[len(MAGIC) :])
        index = 0
        while True:
            frame = src.read(5)
            if len(frame) != 5:
                raise DecryptionFailed("archive is truncated")
            last, length = struct.unpack(">?I", frame)
            nonce = src.read(12)
            sealed = src.read(length)
            if len(nonce) != 12 or len(sealed) != length:
                raise DecryptionFailed("archive is truncated")
            try:
                dst.write(aes.decrypt(nonce, sealed, _aad(index, last)))
            except InvalidTag as exc:
                raise DecryptionFailed("wrong key or corrupted archive") from exc
            index += 1
            if last:
                break
        if src.read(1):
            raise DecryptionFailed("unexpected data after the last chunk")


def is_encrypted(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(len(MAGIC)) == MAGIC
