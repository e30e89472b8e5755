"""A snapshot of moto's in-memory state, saved when the emulator stops and restored when it starts.

moto 5.2 keeps every service's data in module-level `BackendDict`s and has no persistence of its
own. Its recorder (`/moto-api/recorder/*`) replays the requests it saw, which cannot restore what
the launcher needs: ids are drawn at random again on replay (the Cognito pool id, each user's
`sub`, instance ids), long polls replay their waits, and receipt handles no longer match. The
backends are plain Python objects, so this module pickles them whole (every in-use BackendDict in
one pickle, so references between services stay shared) and puts them back into the same
module-level dicts before the server answers its first request. Locks are recreated empty and
private keys (Cognito's signing key, KMS key material) travel as DER bytes.

The snapshot names the moto and Python versions it was written by; another version starts fresh
(pickles are not stable across versions). The file is written atomically, mode 0600, in the
launcher's data directory: loading a pickle runs code, so it must only ever come from there.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import pickle
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FORMAT = 1
_LOCK_TYPES = (type(threading.Lock()), type(threading.RLock()))


def _versions() -> dict[str, Any]:
    from importlib.metadata import version

    return {"format": FORMAT, "moto": version("moto"), "python": list(sys.version_info[:2])}


def _load_private_key(der: bytes) -> Any:
    from cryptography.hazmat.primitives.serialization import load_der_private_key

    return load_der_private_key(der, password=None)


def _load_public_key(der: bytes) -> Any:
    from cryptography.hazmat.primitives.serialization import load_der_public_key

    return load_der_public_key(der)


def _new_lock(kind: str) -> Any:
    return threading.RLock() if kind == "rlock" else threading.Lock()


class _Pickler(pickle.Pickler):
    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, _LOCK_TYPES):
            return _new_lock, ("rlock" if isinstance(obj, _LOCK_TYPES[1]) else "lock",)
        if type(obj).__module__.startswith("cryptography."):
            from cryptography.hazmat.primitives import serialization

            if hasattr(obj, "private_bytes"):
                der = obj.private_bytes(
                    serialization.Encoding.DER,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
                return _load_private_key, (der,)
            if hasattr(obj, "public_bytes") and hasattr(obj, "verify"):
                der = obj.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
                return _load_public_key, (der,)
        return NotImplemented


def _backend_dicts() -> dict[tuple[str, str], Any]:
    """Every in-use moto BackendDict, keyed by a module attribute that holds it (its own module's first)."""
    from moto.core.base_backend import BackendDict

    in_use = {id(b): b for b in BackendDict._instances if len(b)}  # type: ignore[misc]
    holders: dict[int, list[tuple[int, str, str]]] = {}
    for name, module in list(sys.modules.items()):
        if not name.startswith("moto.") or module is None:
            continue
        for attr, value in list(vars(module).items()):
            if id(value) in in_use:
                rank = 0 if name == value.backend.__module__ else 1
                holders.setdefault(id(value), []).append((rank, name, attr))
    # A dict re-exported by other modules is seen several times: one key per dict.
    return {min(found)[1:]: in_use[ident] for ident, found in holders.items()}


def dumps() -> bytes:
    """The whole state of this process's moto backends as bytes (retries while requests mutate it)."""
    last: Exception | None = None
    for _ in range(5):
        dicts = _backend_dicts()
        payload = {key: dict(value) for key, value in dicts.items()}
        buffer = io.BytesIO()
        try:
            _Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump({"versions": _versions(), "backends": payload})
        except RuntimeError as err:  # a dict changed size under a concurrent request
            last = err
            continue
        return buffer.getvalue()
    raise RuntimeError(f"the emulator's state kept changing while it was saved: {last}")


def save(path: Path) -> None:
    """Write the snapshot atomically (a crash mid-write leaves the previous file or none)."""
    data = dumps()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)
    _failure_path(path).unlink(missing_ok=True)


def _failure_path(path: Path) -> Path:
    return path.with_suffix(".error")


def record_failure(path: Path, reason: str) -> None:
    """Note why no snapshot was written, for the next start to say."""
    path.parent.mkdir(parents=True, exist_ok=True)
    _failure_path(path).write_text(reason)


@dataclass(frozen=True)
class RestoreResult:
    restored: bool
    reason: str = ""
    services: int = 0


def restore(path: Path) -> RestoreResult:
    """Put a snapshot back into moto's backends; the file is consumed (a later crash cannot reuse it)."""
    if not path.exists():
        failure = _failure_path(path)
        if failure.exists():
            reason = f"the emulator could not save its state when it stopped ({failure.read_text().strip()})"
            failure.unlink()
            return RestoreResult(False, reason)
        return RestoreResult(False, "no saved emulator state")
    try:
        with path.open("rb") as source:
            snapshot = pickle.load(source)  # noqa: S301 - our own file, mode 0600, in the launcher's data dir
    except Exception as err:  # any unreadable snapshot means a fresh start, said plainly
        return RestoreResult(False, f"the saved emulator state could not be read ({type(err).__name__}: {err})")
    finally:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    if snapshot.get("versions") != _versions():
        return RestoreResult(
            False, f"the saved emulator state is from {snapshot.get('versions')}, this is {_versions()}"
        )
    from moto.core.base_backend import BackendDict

    backends: dict[tuple[str, str], dict[str, Any]] = snapshot["backends"]
    try:
        for (module_name, attr), accounts in backends.items():
            holder = getattr(importlib.import_module(module_name), attr)
            holder.clear()
            holder.update(accounts)
            if holder not in BackendDict._instances:  # type: ignore[misc]
                BackendDict._instances.append(holder)  # type: ignore[misc]
    except (ImportError, AttributeError) as err:
        BackendDict.reset()  # nothing half-restored
        return RestoreResult(False, f"the saved emulator state does not fit this moto ({err})")
    return RestoreResult(True, services=len(backends))
