"""eraseContact: the API of app/erasure.py."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from app.erasure import BATCH, erase_contact

from .checks import Checks
from .context import blocking, context_of


@strawberry.input(description="Whom to erase, and why.")
class EraseContactInput:
    identifier_value: str = strawberry.field(
        description=(
            'The address, as recipients name it (e.g. "+15550100" or "ann@example.com", 1 to 256 '
            "characters). Emails match whatever their case, phone numbers whatever separators."
        )
    )
    reason: str | None = strawberry.field(
        default=None,
        description="Why (at most 2,000 characters); sealed, and erased with each message.",
    )
    actor: str | None = strawberry.field(
        default=None,
        description="Who is acting, recorded on each Redacted event; your key's name by default.",
    )


@strawberry.type(description="What eraseContact did.")
class EraseContactResult:
    erased: int = strawberry.field(description="How many messages this call redacted.")
    pending: list[strawberry.ID] = strawberry.field(
        description=(
            "Messages to this contact still in progress (ACCEPTED or PROCESSING), which cannot "
            "be redacted yet: erase the contact again once they are finished."
        )
    )
    complete: bool = strawberry.field(
        description=(
            f"False when more messages remain than one call redacts ({BATCH}): call again."
        )
    )


async def erase(info: Info, input: EraseContactInput) -> EraseContactResult:
    c = Checks()
    c.short("input.identifierValue", input.identifier_value, required=True)
    c.short("input.actor", input.actor)
    c.reason("input.reason", input.reason)
    c.done()
    ctx = context_of(info)
    p = ctx.principal()
    done = await blocking(
        erase_contact, ctx.herald, p, input.identifier_value, p.actor(input.actor), input.reason
    )
    return EraseContactResult(
        erased=done.erased,
        pending=[strawberry.ID(mid) for mid in done.pending],
        complete=done.complete,
    )
