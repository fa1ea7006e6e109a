"""Small building blocks for a dataset on an fsspec filesystem: conditional writes, a lease, errors.

Object stores have no rename, no hard link and no ``flock``; what they do offer for
coordination is a conditional write. :class:`Objects` gives three operations on small
objects, whatever the backend: read (with a token), create-if-absent and
replace-if-unchanged. On S3 the token is the ETag and both conditions are checked by the
server (``If-None-Match: *``, ``If-Match``: AWS S3, MinIO, moto); elsewhere the token is the
content's hash and replace is read-compare-write, which is not atomic against a writer in
the same instant. :class:`Lease` is a lock object built on them that expires when its
holder stops refreshing it. :func:`storage_errors` turns the many exception types of the
backends into one :class:`RemoteError` whose message says what to check.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import socket
import time
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone

from newsmill.config import ConfigError
from newsmill.store.lock import describe, pid_alive

log = logging.getLogger(__name__)

# S3 clients retry and wait a long time by default; an unreachable endpoint should fail in seconds
_S3_DEFAULTS = {"connect_timeout": 10, "read_timeout": 60, "retries": {"max_attempts": 3, "mode": "standard"}}


class RemoteError(RuntimeError):
    """The remote output could not be read or written; the message says what to check."""


class RemoteLockTimeout(RemoteError):
    """Another writer held the remote output's lease for longer than we agreed to wait."""


class Conflict(Exception):
    """A conditional write found another value than the one read."""


def normalize(url: str) -> str:
    """One spelling per dataset (no trailing slash), which also names its mirror."""
    protocol, _, rest = str(url).partition("://")
    return f"{protocol}://{rest.rstrip('/')}"


def display_url(url: str) -> str:
    """The URL without credentials someone may have put in it (``s3://key:secret@bucket``)."""
    return re.sub(r"^([a-zA-Z][\w+.-]*://)[^/@]*@", r"\1", url)


def filesystem(url: str, storage_options: dict | None = None):
    """(fsspec filesystem, root path inside it) for an output URL; a wrong URL is a ConfigError."""
    import fsspec

    protocol = url.split("://", 1)[0].lower()
    opts = dict(storage_options or {})
    if protocol in ("s3", "s3a"):
        opts["config_kwargs"] = {**_S3_DEFAULTS, **(opts.get("config_kwargs") or {})}
    try:
        fs, root = fsspec.core.url_to_fs(url, skip_instance_cache=True, **opts)
    except ImportError as exc:
        raise ConfigError(f"output {display_url(url)}: {exc} (S3 needs the s3 extra: pip install 'newsmill[s3]')") \
            from None
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"output {display_url(url)}: not a usable filesystem URL ({exc})") from None
    root = root.rstrip("/")
    if protocol in ("s3", "s3a") and not root.strip("/"):
        raise ConfigError(f"output {display_url(url)}: give a bucket, e.g. s3://my-bucket/newsmill")
    return fs, root


class Objects:
    """Read, create-if-absent and replace-if-unchanged of small objects under the output root.

    Generic fsspec: the token is the content's hash, and replace is read-compare-write
    (not atomic against a writer in the same instant; see the module docstring).
    """

    atomic = False

    def __init__(self, fs, root: str, url: str):
        self.fs, self.root, self.url = fs, root, url

    def key(self, rel: str = "") -> str:
        return f"{self.root}/{rel}" if rel else self.root

    def read(self, rel: str) -> tuple[bytes, str] | None:
        try:
            data = self.fs.cat_file(self.key(rel))
        except FileNotFoundError:
            return None
        return data, hashlib.sha256(data).hexdigest()

    def create(self, rel: str, data: bytes) -> str:
        self.fs.pipe_file(self.key(rel), data, mode="create")  # FileExistsError when present
        return hashlib.sha256(data).hexdigest()

    def replace(self, rel: str, data: bytes, token: str) -> str:
        cur = self.read(rel)
        if cur is None or cur[1] != token:
            raise Conflict(rel)
        self.fs.pipe_file(self.key(rel), data)
        return hashlib.sha256(data).hexdigest()

    def remove(self, rel: str, token: str) -> None:
        cur = self.read(rel)
        if cur is not None and cur[1] == token:
            self.fs.rm_file(self.key(rel))

    def put_bytes(self, rel: str, data: bytes) -> None:
        self.fs.pipe_file(self.key(rel), data)


class S3Objects(Objects):
    """S3: the token is the ETag, create is ``If-None-Match: *`` and replace ``If-Match`` (server-side)."""

    atomic = True

    def read(self, rel):
        key = self.key(rel)
        self.fs.invalidate_cache(key)
        try:
            etag = self.fs.info(key)["ETag"]  # before the body: a change in between makes the CAS fail, never pass
            data = self.fs.cat_file(key)
        except FileNotFoundError:
            return None
        return data, etag

    def create(self, rel, data):
        try:
            return self.fs.pipe_file(self.key(rel), data, mode="create")["ETag"]
        except OSError as exc:
            if _precondition_failed(exc):
                raise FileExistsError(self.key(rel)) from None
            raise

    def replace(self, rel, data, token):
        try:
            return self.fs.pipe_file(self.key(rel), data, IfMatch=token)["ETag"]
        except FileNotFoundError:
            raise Conflict(rel) from None
        except OSError as exc:
            if _precondition_failed(exc):
                raise Conflict(rel) from None
            raise


def _precondition_failed(exc: BaseException) -> bool:
    cause = exc.__cause__ or exc.__context__
    code = (getattr(cause, "response", None) or {}).get("Error", {}).get("Code")
    return code in ("PreconditionFailed", "ConditionalRequestConflict", "412", "409")


def objects(fs, root: str, url: str) -> Objects:
    protocols = fs.protocol if isinstance(fs.protocol, (tuple, list)) else (fs.protocol,)
    return (S3Objects if "s3" in protocols else Objects)(fs, root, url)


@contextmanager
def storage_errors(url: str, doing: str):
    """Storage and network errors as one clear RemoteError (the CLI prints it, no traceback)."""
    try:
        yield
    except (RemoteError, ConfigError, Conflict):
        raise
    except Exception as exc:  # noqa: BLE001 (every backend has its own exception zoo)
        raise RemoteError(f"cannot {doing} {display_url(url)}: {explain(exc)}") from exc


def explain(exc: BaseException) -> str:
    chain, e = [], exc
    while e is not None and len(chain) < 8:
        chain.append(e)
        e = e.__cause__ or e.__context__
    names = {type(e).__name__ for e in chain}
    if names & {"NoCredentialsError", "PartialCredentialsError", "CredentialRetrievalError"}:
        return ("no credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE), or give "
                "them in [output] storage_options of newsmill.toml")
    if names & {"EndpointConnectionError", "ConnectTimeoutError", "ClientConnectorError", "ConnectionRefusedError",
                "ServerDisconnectedError", "ReadTimeoutError", "ConnectionError", "ClientOSError"}:
        return ("the storage endpoint cannot be reached: check AWS_ENDPOINT_URL (or [output] storage_options "
                "client_kwargs.endpoint_url) and the network")
    if any(isinstance(e, PermissionError) for e in chain) or names & {"AccessDenied", "InvalidAccessKeyId",
                                                                       "SignatureDoesNotMatch"}:
        return f"access denied ({exc}): check the credentials and their permissions on this bucket"
    text = str(exc)
    if "NoSuchBucket" in text or "bucket does not exist" in text.lower() or "The specified bucket" in text:
        return "the bucket does not exist: create it first"
    return f"{type(exc).__name__}: {exc}"


class Lease:
    """A lock object ``name`` under the root: created if absent, taken over once expired (its
    holder stopped refreshing it) or, on the same host, once its process is gone. Context
    manager; waits up to ``timeout`` seconds (None: as long as it takes)."""

    def __init__(self, obj: Objects, name: str, run_id: str, *, lease: float, timeout: float | None,
                 poll: float = 1.0):
        self.obj, self.name, self.run_id, self.lease, self.timeout, self.poll = obj, name, run_id, lease, timeout, poll
        self.token: str | None = None
        self.refreshed = 0.0

    def _body(self) -> bytes:
        now = datetime.now(timezone.utc)
        body = json.dumps({"run_id": self.run_id, "pid": os.getpid(), "host": socket.gethostname(),
                           "since": now.isoformat(timespec="seconds"),
                           "expires_at": (now + timedelta(seconds=self.lease)).isoformat(timespec="seconds")})
        return body.encode()

    def __enter__(self) -> "Lease":
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        told = False
        while True:
            try:
                self.token = self.obj.create(self.name, self._body())
                self._check_conditions()
                break
            except FileExistsError:
                pass
            got = self.obj.read(self.name)
            if got is None:
                continue  # released meanwhile
            holder = _parse(got[0])
            if _expired(holder) or _dead_here(holder):
                try:
                    self.token = self.obj.replace(self.name, self._body(), got[1])
                    log.warning("took over the expired lock of %s from %s", display_url(self.obj.url), describe(holder))
                    break
                except Conflict:
                    continue
            if deadline is not None and time.monotonic() >= deadline:
                raise RemoteLockTimeout(
                    f"{display_url(self.obj.url)} is being published by {describe(holder)} (lease until "
                    f"{holder.get('expires_at')}); gave up after {self.timeout} s. Run again later; a writer "
                    f"that died releases it when its lease expires.")
            if not told:
                log.warning("waiting for %s/%s: held by %s", display_url(self.obj.url), self.name, describe(holder))
                told = True
            time.sleep(self.poll)
        self.refreshed = time.monotonic()
        return self

    def _check_conditions(self) -> None:
        """A server that ignores ``If-None-Match`` (older S3-compatible ones) would let a second
        create pass: say so, since the guarantees then rest on one writer at a time."""
        if not self.obj.atomic:
            return
        body = self._body()
        try:
            self.token = self.obj.create(self.name, body)
        except FileExistsError:
            return
        log.warning("%s ignores conditional writes (If-None-Match): concurrent writers are not detected there; "
                    "publish from one writer at a time", display_url(self.obj.url))

    def refresh(self) -> None:
        if time.monotonic() - self.refreshed < self.lease / 3:
            return
        try:
            self.token = self.obj.replace(self.name, self._body(), self.token)
        except Conflict:
            raise RemoteError(f"lost the lock of {display_url(self.obj.url)} (another writer took it over after "
                              f"our lease expired): nothing of this run was committed; run again") from None
        self.refreshed = time.monotonic()

    def __exit__(self, *exc) -> None:
        try:
            self.obj.remove(self.name, self.token)
        except Exception as e:  # noqa: BLE001 (an unreleased lease expires by itself)
            log.warning("could not release %s/%s (%s); it expires after %s s", display_url(self.obj.url), self.name, e,
                        self.lease)


def _parse(raw: bytes) -> dict:
    try:
        out = json.loads(raw)
        return out if isinstance(out, dict) else {}
    except ValueError:
        return {}


def _dead_here(holder: dict) -> bool:
    """A lease of a process of this host that no longer exists (killed mid-push): no need to wait for it."""
    pid = holder.get("pid")
    return holder.get("host") == socket.gethostname() and isinstance(pid, int) and not pid_alive(pid)


def _expired(holder: dict) -> bool:
    try:
        return datetime.fromisoformat(holder["expires_at"]) < datetime.now(timezone.utc)
    except (KeyError, TypeError, ValueError):
        return True  # not a lease this code wrote
