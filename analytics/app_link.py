"""The link between the running app and the commands of the same data folder: the file the app leaves
in the folder while it runs (DIR/.app.json: its loopback URL and a random token, readable by its
owner alone), the checks the app's daily-run route makes on a request, and the request through which
`python -m analytics daily` asks the app to do the run it cannot do itself.

Why: DuckDB lets one process open a file, and the app holds DIR/collections.duckdb while it runs, so
a scheduled command could not log the recovery steps it sends. The app does the run instead, with its
own collections database, so that one cron line works whether or not the app is running.

Who may ask: whoever can read DIR/.app.json (mode 0600: the user the app runs as, or root), from the
same machine. Behind a reverse proxy on the same host every request comes from loopback, so the
token is what counts, and a request a proxy forwarded (Forwarded, X-Forwarded-For) is refused.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import os
import secrets
import urllib.error
import urllib.request
from collections.abc import Mapping
from datetime import UTC, date, datetime
from pathlib import Path

APP_FILE = ".app.json"
ROUTE = "/_ar/daily"
TOKEN_HEADER = "X-AR-Token"
# A daily run on a large folder (an import, hundreds of e-mails) takes minutes; a dead app answers at once.
ANSWER_SECONDS = 1800.0
FORWARDED_HEADERS = ("forwarded", "x-forwarded-for", "x-real-ip")


class AppUnreachable(RuntimeError):
    """The app did not take the daily run. `maybe_running`: it may be doing it still (no answer in
    time, or the connection dropped after the request was sent)."""

    def __init__(self, message: str, *, maybe_running: bool = False) -> None:
        super().__init__(message)
        self.maybe_running = maybe_running


def loopback_url(address: str | None, port: int) -> str:
    """The URL of the app's daily-run route from the same machine, for the address it listens on."""
    host = (address or "").strip().strip("[]")
    if host in ("", "0.0.0.0", "::", "localhost"):  # every interface (or loopback's name)
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}{ROUTE}"


def announce(root: str | os.PathLike[str], url: str) -> str:
    """Write DIR/.app.json (mode 0600) for the app serving `url`; returns the token it holds."""
    token = secrets.token_urlsafe(32)
    path = Path(root) / APP_FILE
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    record = {
        "url": url,
        "token": token,
        "pid": os.getpid(),
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    # Created 0600 from the start: the token is never readable by others, not even for a moment.
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(record, handle)
    os.chmod(partial, 0o600)  # O_CREAT's mode does not change a file left by a crash
    partial.replace(path)
    return token


def withdraw(root: str | os.PathLike[str], token: str) -> None:
    """Remove DIR/.app.json as the app stops, unless another app has written its own since."""
    path = Path(root) / APP_FILE
    found = read(root)
    if found is not None and found.get("token") == token:
        path.unlink(missing_ok=True)


def read(root: str | os.PathLike[str]) -> dict[str, object] | None:
    """What DIR/.app.json holds, or None (no app announced, or a file cut short)."""
    try:
        found = json.loads((Path(root) / APP_FILE).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError):
        return None
    return found if isinstance(found, dict) and found.get("url") and found.get("token") else None


def _loopback(host: str | None, own_address: str | None) -> bool:
    if not host:
        return False
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    if ip.is_loopback or (mapped is not None and mapped.is_loopback):
        return True
    # Bound to one address of this machine: a local command connects from that address.
    return bool(own_address) and host == own_address


def refusal(
    client_host: str | None, headers: Mapping[str, str], token: str, own_address: str | None = None
) -> str | None:
    """Why a request to the daily-run route is refused (None: accepted). `headers` lower-cased."""
    if not _loopback(client_host, own_address):
        return (
            f"the daily run is asked from this machine only, not from {client_host or 'an unknown address'}"
        )
    if any(name in headers for name in FORWARDED_HEADERS):
        return "the daily run is not asked through a proxy"
    given = headers.get(TOKEN_HEADER.lower(), "")
    if not given or not hmac.compare_digest(given.encode(), token.encode()):
        return f"the request does not carry the app's token ({APP_FILE} of the data folder)"
    return None


def ask_daily(
    root: str | os.PathLike[str],
    as_of: date,
    user: str,
    environ: Mapping[str, str],
    *,
    timeout: float = ANSWER_SECONDS,
) -> dict[str, object]:
    """Ask the app announced in DIR/.app.json to do the daily run; its summary (DailyResult.to_json).
    The SMTP password of the command's environment goes along (the app may have been started without
    it): over loopback only. Raises AppUnreachable when the app does not take the run."""
    from analytics import settings

    found = read(root)
    if found is None:
        raise AppUnreachable(f"no running app announces itself in {Path(root) / APP_FILE}")
    url = str(found["url"])
    body: dict[str, object] = {"data": str(Path(root).resolve()), "as_of": as_of.isoformat(), "user": user}
    password = environ.get(settings.PASSWORD_VARIABLE)
    if password:
        body["smtp_password"] = password
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode("utf-8"),
        headers={"Content-Type": "application/json", TOKEN_HEADER: str(found["token"])},
        method="POST",
    )
    # Straight to loopback: a proxy of the environment (http_proxy) must not see the token.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=timeout) as response:
            answer = json.loads(response.read().decode("utf-8"))
    except urllib.error.HTTPError as error:
        try:
            detail = json.loads(error.read().decode("utf-8")).get("error") or error.reason
        except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
            detail = error.reason
        raise AppUnreachable(f"the app at {url} refused the daily run ({error.code}): {detail}") from None
    except TimeoutError:
        raise AppUnreachable(
            f"the app at {url} did not answer in {timeout:.0f} s (it may still be doing the run)",
            maybe_running=True,
        ) from None
    except urllib.error.URLError as error:
        reason = error.reason
        if isinstance(reason, TimeoutError):
            raise AppUnreachable(
                f"the app at {url} did not answer in {timeout:.0f} s (it may still be doing the run)",
                maybe_running=True,
            ) from None
        raise AppUnreachable(f"the app at {url} does not answer: {reason}") from None
    except (ConnectionError, OSError) as error:
        raise AppUnreachable(
            f"the connection to the app at {url} broke: {error} (it may still be doing the run)",
            maybe_running=True,
        ) from None
    if not isinstance(answer, dict) or "as_of" not in answer:
        raise AppUnreachable(f"the app at {url} answered something else than a daily run's summary")
    return answer
