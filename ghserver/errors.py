"""GitHub's error answers, raised by the server's domain code and rendered by the web layer."""

from __future__ import annotations

from typing import Any

DOCS = "https://docs.github.com/rest"


class ApiError(Exception):
    """An HTTP error with GitHub's JSON body (`message`, `documentation_url`, maybe `errors`)."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        errors: list[dict[str, Any]] | None = None,
        documentation_url: str = DOCS,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {message}")
        self.status = status
        self.message = message
        self.errors = errors
        self.documentation_url = documentation_url
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        """The JSON body GitHub sends with this error."""
        out: dict[str, Any] = {"message": self.message}
        if self.errors is not None:
            out["errors"] = self.errors
        out["documentation_url"] = self.documentation_url
        out["status"] = str(self.status)
        return out


def not_found(message: str = "Not Found") -> ApiError:
    """404, which GitHub also answers for things the caller may not see."""
    return ApiError(404, message)


def bad_credentials() -> ApiError:
    """401 for a missing, unknown or expired token."""
    return ApiError(401, "Bad credentials")


def jwt_error(message: str = "A JSON web token could not be decoded") -> ApiError:
    """401 for an App JWT that GitHub rejects, with GitHub's own wording."""
    return ApiError(401, message)


def forbidden(message: str = "Resource not accessible by integration") -> ApiError:
    """403 for an installation lacking a permission."""
    return ApiError(403, message)


def validation_failed(resource: str, code: str, field: str | None = None, **extra: str) -> ApiError:
    """422 "Validation Failed" with one error entry."""
    error: dict[str, Any] = {"resource": resource, "code": code}
    if field is not None:
        error["field"] = field
    error.update(extra)
    return ApiError(422, "Validation Failed", errors=[error])


def unprocessable(message: str) -> ApiError:
    """422 with only a message, as GitHub answers some checks ("No commit found for SHA: ...")."""
    return ApiError(422, message)
