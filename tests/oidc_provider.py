"""A minimal OpenID Connect provider for tests: the company's identity provider as seen by `st.login`,
served over HTTP on loopback from a thread.

It publishes the discovery document, signs RS256 ID tokens with a key made at start and publishes its
public half as the JWKS. `/authorize` has no login screen: it signs in `provider.email` at once and
redirects back with a code, which `/token` exchanges (client secret and PKCE checked) for an access
token and an ID token. `/userinfo` answers for the access token and `/logout` (the end-session
endpoint) returns to the app, as real providers do.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

from joserfc import jwt
from joserfc.jwk import RSAKey

TOKEN_LIFETIME = 300


@dataclass
class Grant:
    """An authorization code waiting for its exchange."""

    client_id: str
    redirect_uri: str
    nonce: str | None
    code_challenge: str | None
    email: str
    name: str


@dataclass
class OIDCProvider:
    """The provider for one client. Set `email` and `name` to choose who the next sign-in is."""

    client_id: str = "receivables-app"
    client_secret: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    email: str = ""
    name: str = ""
    signed_in: list[str] = field(default_factory=list)  # the e-mail of each ID token issued
    signed_out: int = 0  # calls of the end-session endpoint
    _server: ThreadingHTTPServer | None = field(default=None, repr=False)
    _key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(2048, parameters={"kid": "test"}))
    _grants: dict[str, Grant] = field(default_factory=dict, repr=False)
    _access_tokens: dict[str, dict[str, object]] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def issuer(self) -> str:
        if self._server is None:
            raise RuntimeError("the provider is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def metadata_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    def start(self) -> OIDCProvider:
        provider = self

        class Handler(_Handler):
            pass

        Handler.provider = provider
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True, name="oidc-provider").start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def metadata(self) -> dict[str, object]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "userinfo_endpoint": f"{self.issuer}/userinfo",
            "jwks_uri": f"{self.issuer}/jwks",
            "end_session_endpoint": f"{self.issuer}/logout",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "email", "profile"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "code_challenge_methods_supported": ["S256"],
            "claims_supported": ["iss", "sub", "aud", "iat", "exp", "nonce", "email", "name"],
        }

    def authorize(self, query: dict[str, str]) -> str:
        """The redirect back to the client after signing in `self.email` (or an OAuth error)."""
        redirect_uri = query.get("redirect_uri", "")
        if query.get("client_id") != self.client_id or not redirect_uri:
            raise ValueError("unknown client or no redirect_uri")
        answer = {"state": query["state"]} if "state" in query else {}
        if query.get("response_type") != "code" or "openid" not in query.get("scope", "").split():
            answer |= {"error": "unsupported_response_type"}
        else:
            code = secrets.token_urlsafe(24)
            with self._lock:
                self._grants[code] = Grant(
                    client_id=self.client_id,
                    redirect_uri=redirect_uri,
                    nonce=query.get("nonce"),
                    code_challenge=query.get("code_challenge"),
                    email=self.email,
                    name=self.name,
                )
            answer |= {"code": code}
        return f"{redirect_uri}{'&' if '?' in redirect_uri else '?'}{urlencode(answer)}"

    def token(self, form: dict[str, str], authorization: str | None) -> dict[str, object]:
        """Exchange a code for tokens; raises ValueError (an OAuth error code) when refused."""
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        if authorization and authorization.startswith("Basic "):
            decoded = base64.b64decode(authorization[6:]).decode()
            client_id, _, client_secret = decoded.partition(":")
        if client_id != self.client_id or client_secret != self.client_secret:
            raise ValueError("invalid_client")
        with self._lock:
            grant = self._grants.pop(form.get("code", ""), None)
        if grant is None or form.get("grant_type") != "authorization_code":
            raise ValueError("invalid_grant")
        if form.get("redirect_uri") != grant.redirect_uri:
            raise ValueError("invalid_grant")
        if grant.code_challenge is not None:
            digest = hashlib.sha256(form.get("code_verifier", "").encode()).digest()
            if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != grant.code_challenge:
                raise ValueError("invalid_grant")
        now = int(time.time())
        claims: dict[str, object] = {
            "iss": self.issuer,
            "sub": hashlib.sha256(grant.email.encode()).hexdigest()[:16],
            "aud": grant.client_id,
            "iat": now,
            "exp": now + TOKEN_LIFETIME,
            "email": grant.email,
            "email_verified": True,
            "name": grant.name,
        }
        if grant.nonce is not None:
            claims["nonce"] = grant.nonce
        access_token = secrets.token_urlsafe(24)
        with self._lock:
            self._access_tokens[access_token] = {
                key: claims[key] for key in ("sub", "email", "email_verified", "name")
            }
            self.signed_in.append(grant.email)
        id_token = jwt.encode({"alg": "RS256", "kid": self._key.kid}, claims, self._key)
        return {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": TOKEN_LIFETIME,
            "scope": "openid email profile",
            "id_token": id_token,
        }

    def userinfo(self, authorization: str | None) -> dict[str, object] | None:
        if not authorization or not authorization.startswith("Bearer "):
            return None
        with self._lock:
            return self._access_tokens.get(authorization[7:])

    def jwks(self) -> dict[str, object]:
        return {"keys": [self._key.as_dict(private=False) | {"use": "sig", "alg": "RS256"}]}


class _Handler(BaseHTTPRequestHandler):
    provider: OIDCProvider

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass  # quiet: pytest shows failures, not each request

    def _json(self, status: int, body: dict[str, object], headers: dict[str, str] | None = None) -> None:
        content = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(content)))
        self.send_header("Cache-Control", "no-store")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(content)

    def _redirect(self, location: str) -> None:
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = {key: values[0] for key, values in parse_qs(url.query).items()}
        provider = self.provider
        if url.path == "/.well-known/openid-configuration":
            self._json(200, provider.metadata())
        elif url.path == "/jwks":
            self._json(200, provider.jwks())
        elif url.path == "/authorize":
            try:
                self._redirect(provider.authorize(query))
            except ValueError as error:
                self._json(400, {"error": "invalid_request", "error_description": str(error)})
        elif url.path == "/userinfo":
            claims = provider.userinfo(self.headers.get("Authorization"))
            if claims is None:
                self._json(401, {"error": "invalid_token"}, {"WWW-Authenticate": "Bearer"})
            else:
                self._json(200, claims)
        elif url.path == "/logout":
            with provider._lock:
                provider.signed_out += 1
            self._redirect(query.get("post_logout_redirect_uri") or "/")
        else:
            self._json(404, {"error": "not_found"})

    def do_POST(self) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        form = {key: values[0] for key, values in parse_qs(self.rfile.read(length).decode()).items()}
        if url.path != "/token":
            self._json(404, {"error": "not_found"})
            return
        try:
            self._json(200, self.provider.token(form, self.headers.get("Authorization")))
        except ValueError as error:
            self._json(400, {"error": str(error)})
