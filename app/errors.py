"""Errors that the API turns into the contract's typed error codes."""

from __future__ import annotations


class HeraldError(Exception):
    """Base of every error a client may see; its code is the contract's `extensions.code`."""

    code = "INTERNAL"

    def extensions(self) -> dict[str, object]:
        return {"code": self.code}


class NotFound(HeraldError):
    code = "NOT_FOUND"

    def __init__(self, message: str = "no such message") -> None:
        super().__init__(message)


class Conflict(HeraldError):
    code = "CONFLICT"

    def __init__(self, message: str, current_version: int, current_status: str) -> None:
        super().__init__(message)
        self.current_version = current_version
        self.current_status = current_status

    def extensions(self) -> dict[str, object]:
        return {
            "code": self.code,
            "currentVersion": self.current_version,
            "currentStatus": self.current_status,
        }


class ValidationFailed(HeraldError):
    code = "VALIDATION_FAILED"

    def __init__(self, details: dict[str, list[str]]) -> None:
        first = next(iter(details.items()), ("input", ["is invalid"]))
        super().__init__(f"{first[0]}: {first[1][0]}" if first[1] else "invalid input")
        self.details = details

    def extensions(self) -> dict[str, object]:
        return {"code": self.code, "details": self.details}

    @classmethod
    def at(cls, path: str, message: str) -> ValidationFailed:
        return cls({path: [message]})


class Unauthenticated(HeraldError):
    code = "UNAUTHENTICATED"


class Forbidden(HeraldError):
    code = "FORBIDDEN"


class LimitExceeded(HeraldError):
    code = "LIMIT_EXCEEDED"
