"""Admission of each operation: priced before it runs (app.api.cost), refused over the budget,
charged to its caller's rate, run within its workspace's fair share of the process, given back
what it did not use, and its cost reported in the answer's extensions."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

from graphql import ExecutionResult as GraphQLExecutionResult
from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from app.errors import HeraldError, LimitExceeded
from app.workspaces import NotRemembered

from .context import AFTER_ANSWER, Bill, Context, blocking
from .cost import Price, Unpriceable, pricer
from .prices import answer_points


class OverBudget(LimitExceeded):
    def __init__(self, cost: int, budget: int) -> None:
        super().__init__(
            f"this operation may cost {cost} points, over the budget of {budget} an operation "
            "may spend; ask for fewer items, or fewer fields (see extensions.cost)"
        )
        self.cost = cost
        self.budget = budget

    def extensions(self) -> dict[str, object]:
        return {**super().extensions(), "cost": self.cost, "budget": self.budget}


class Admission(SchemaExtension):
    def __init__(self, *, execution_context: Any = None) -> None:
        self.report: dict[str, Any] | None = None
        self.priced = False

    def on_operation(self) -> Iterator[None]:
        yield
        context = self.execution_context.context
        if (
            isinstance(context, Context)
            and not self.priced
            and self.execution_context.pre_execution_errors
        ):
            # A document that did not parse or validate: reading it cost a point per KiB.
            context.refused(1 + _kib(self.execution_context.query))

    async def on_execute(self) -> AsyncIterator[None]:
        context = self.execution_context.context
        if not isinstance(context, Context):
            yield
            return
        self.priced = True
        try:
            price = self._price(context.herald.settings.max_cost)
            async with context.turn:
                try:
                    bill = context.charge(price.requested, remembered=True)
                except NotRemembered:
                    # In a thread: looking the key up waits for the database; the loop must not.
                    bill = await blocking(context.charge, price.requested)
        except HeraldError as refusal:
            if self.execution_context.operation_type is OperationType.SUBSCRIPTION:
                raise  # a subscription is not run from a result: strawberry answers the error
            # An answer instead of an exception: the operation is refused as a result, so that
            # every extension sees it as it sees any other.
            error = GraphQLError(str(refusal), extensions=refusal.extensions())
            self.execution_context.result = GraphQLExecutionResult(data=None, errors=[error])
            yield
            return
        release = await context.share(bill, price.requested)
        try:
            yield
        finally:
            if AFTER_ANSWER not in context.request.scope:
                release()
        result = self.execution_context.result
        data = getattr(result, "data", None)
        actual = price.floor + answer_points(data)
        self._report(price.requested, actual, bill.settle(price.requested, actual), bill)

    def _price(self, budget: int) -> Price:
        ec = self.execution_context
        assert ec.graphql_document is not None
        try:
            price = pricer(ec.schema._schema).price(
                ec.graphql_document, ec.operation_name, ec.variables or {}
            )
        except Unpriceable:
            price = Price(budget + 1, 0)
        # The document is input too: reading it costs a point per KiB, whatever it asks for.
        read = _kib(ec.query)
        price = Price(price.requested + read, price.floor + read)
        self.report = {"requestedQueryCost": price.requested, "maximumQueryCost": budget}
        if price.requested > budget:
            context = ec.context
            assert isinstance(context, Context)
            context.refused()
            raise OverBudget(price.requested, budget)
        return price

    def _report(self, requested: int, actual: int, available: float, bill: Bill) -> None:
        self.report = {
            "requestedQueryCost": requested,
            "actualQueryCost": actual,
            "maximumQueryCost": self.report["maximumQueryCost"] if self.report else requested,
            "throttleStatus": {
                "maximumAvailable": bill.limiter.burst,
                "currentlyAvailable": int(available),
                "restoreRate": bill.limiter.rate,
            },
        }

    def get_results(self) -> dict[str, Any]:
        return {"cost": self.report} if self.report is not None else {}


def _kib(query: str | None) -> int:
    return len(query or "") // 1024
