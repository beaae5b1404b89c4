"""The review log's Ed25519 key and its signed checkpoints.

- The private key is a secret of the case (``DIR/keys/review-log.ed25519``, 32 raw bytes, mode 0600,
  made on the first review write through ``cibwatch.store.secrets``); the public key is published
  beside the data as ``DIR/review_log.pub.pem`` and inside every checkpoint.
- Each log entry carries a signature over its ``entry_hash``; a checkpoint is a signed statement
  "the log had ``count`` entries and entry ``seq`` hashed to ``head`` at ``time``". Every write
  replaces the case's own checkpoint (``DIR/review_log.checkpoint.json``); ``cibwatch review
  checkpoint --out FILE`` writes one to keep elsewhere.

Signatures are domain-separated (an entry signature can never pass as a checkpoint's and back).

>>> key = Ed25519PrivateKey.generate()
>>> cp = make_checkpoint(key, seq=0, head="0" * 64, count=0, at="2026-01-01T00:00:00+00:00")
>>> checkpoint_problems(cp, "the checkpoint")
[]
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from cibwatch.errors import AuditLogError
from cibwatch.store.case import Case, write_atomic
from cibwatch.store.secrets import secret, secret_path

KEY_SECRET = "review-log.ed25519"
PUBLIC_KEY_FILE = "review_log.pub.pem"
CHECKPOINT_FILE = "review_log.checkpoint.json"
CHECKPOINT_FORMAT = "cibwatch-review-checkpoint/1"
CHECKPOINT_FIELDS = ("format", "case_id", "seq", "head", "count", "time", "public_key")
_ENTRY_DOMAIN = b"cibwatch review_log entry v1\n"
_CHECKPOINT_DOMAIN = b"cibwatch review_log checkpoint v1\n"
HASH_RE = re.compile(r"[0-9a-f]{64}")


def has_signing_key(case_root: str | Path) -> bool:
    return secret_path(case_root, KEY_SECRET).exists()


def signing_key(case_root: str | Path) -> Ed25519PrivateKey:
    """The case's log signing key, made (and its public key published) the first time."""
    raw = secret(case_root, KEY_SECRET, lambda: Ed25519PrivateKey.generate().private_bytes_raw())
    key = Ed25519PrivateKey.from_private_bytes(raw)
    path = Path(case_root) / PUBLIC_KEY_FILE
    if not path.exists():  # never overwritten: a replaced file must show up in verify, not be repaired
        write_atomic(path, pem_of(key.public_key()))
    return key


def pem_of(public: Ed25519PublicKey) -> str:
    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def public_key_pem(case: Case | str | Path) -> str | None:
    """The PEM public key that checks the case's review log (a ``Case`` or its directory), or None
    before its first entry.

    >>> public_key_pem(case).startswith("-----BEGIN PUBLIC KEY-----")  # doctest: +SKIP
    True
    """
    path = Path(case.root if isinstance(case, Case) else case) / PUBLIC_KEY_FILE
    return path.read_text() if path.exists() else None


def derived_public_pem(case_root: str | Path) -> str | None:
    """The public key of the private key in ``keys/`` (None when it is absent or unreadable)."""
    if not has_signing_key(case_root):
        return None
    try:
        raw = secret_path(case_root, KEY_SECRET).read_bytes()
        return pem_of(Ed25519PrivateKey.from_private_bytes(raw).public_key())
    except (OSError, ValueError):
        return None


def load_public_key(pem: str, where: str) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(pem.encode())
    except ValueError as exc:
        raise AuditLogError(f"{where}: not a PEM public key ({exc})") from None
    if not isinstance(key, Ed25519PublicKey):
        raise AuditLogError(f"{where}: the public key is not an Ed25519 key")
    return key


def key_id(pem: str) -> str:
    """A short name for a public key: sha256 of its PEM text, 32 hex digits."""
    return hashlib.sha256(pem.encode()).hexdigest()[:32]


def sign_entry(key: Ed25519PrivateKey, entry_hash: str) -> str:
    return key.sign(_ENTRY_DOMAIN + entry_hash.encode()).hex()


def entry_signature_ok(public: Ed25519PublicKey, entry_hash: str, signature: str) -> bool:
    try:
        public.verify(bytes.fromhex(signature), _ENTRY_DOMAIN + entry_hash.encode())
    except (InvalidSignature, ValueError):
        return False
    return True


def _checkpoint_payload(cp: Mapping[str, Any]) -> bytes:
    body = {k: cp.get(k) for k in CHECKPOINT_FIELDS}
    return _CHECKPOINT_DOMAIN + json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def make_checkpoint(key: Ed25519PrivateKey, *, seq: int, head: str, count: int, at: str) -> dict[str, Any]:
    """A signed checkpoint of the log: ``count`` entries, entry ``seq`` hashes to ``head``."""
    pem = pem_of(key.public_key())
    cp: dict[str, Any] = {
        "format": CHECKPOINT_FORMAT,
        "case_id": key_id(pem),
        "seq": seq,
        "head": head,
        "count": count,
        "time": at,
        "public_key": pem,
    }
    cp["signature"] = key.sign(_checkpoint_payload(cp)).hex()
    return cp


def checkpoint_problems(cp: Mapping[str, Any], label: str) -> list[str]:
    """What is wrong with checkpoint ``cp`` on its own (fields, signature by its own key); [] if fine."""
    if cp.get("format") != CHECKPOINT_FORMAT:
        return [f"{label} is not a cibwatch review checkpoint (format {cp.get('format')!r})"]
    seq, count, head = cp.get("seq"), cp.get("count"), cp.get("head")
    if not (isinstance(seq, int) and isinstance(count, int) and 0 <= seq <= count):
        return [f"{label} has a bad seq/count ({seq!r}/{count!r})"]
    if not (isinstance(head, str) and HASH_RE.fullmatch(head)):
        return [f"{label} has a bad head hash {head!r}"]
    try:
        public = load_public_key(str(cp.get("public_key")), label)
        public.verify(bytes.fromhex(str(cp.get("signature"))), _checkpoint_payload(cp))
    except (AuditLogError, InvalidSignature, ValueError):
        return [f"{label}'s signature does not verify: it was edited or not made with the log's key"]
    if cp.get("case_id") != key_id(str(cp["public_key"])):
        return [f"{label}'s case_id does not belong to its public key"]
    return []


def case_checkpoint_path(case_root: str | Path) -> Path:
    return Path(case_root) / CHECKPOINT_FILE


def write_checkpoint(path: str | Path, cp: Mapping[str, Any]) -> None:
    write_atomic(Path(path), json.dumps(cp, indent=2, sort_keys=True) + "\n")


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """A checkpoint file, parsed; ``AuditLogError`` naming the file if it is not JSON."""
    try:
        value = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AuditLogError(f"{path}: no such checkpoint file") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise AuditLogError(f"{path}: not a checkpoint (bad JSON: {exc})") from None
    if not isinstance(value, dict):
        raise AuditLogError(f"{path}: not a checkpoint (expected a JSON object)")
    return value
