"""given/when/then: passes when the decider agrees, fails loudly with both sides when not."""

from __future__ import annotations

import pytest
from test_runtime import (
    Account,
    AccountDecider,
    Deposit,
    Deposited,
    NotOpenError,
    Open,
    Opened,
    Touch,
)

from kiroku import DomainError
from kiroku.testing import given


class OtherRejection(DomainError):
    pass


def test_then_passes_on_the_decided_events_and_chains_to_then_state() -> None:
    (
        given(AccountDecider(), Opened("ann"))
        .when(Deposit(5))
        .then(Deposited(5))
        .then_state(Account("ann", 5))
    )


def test_then_with_no_events_means_the_command_decides_nothing() -> None:
    given(AccountDecider, Opened("ann")).when(Open("bob")).then()
    given(AccountDecider).when(Touch()).then_state(Account())


def test_then_fails_showing_expected_and_actual_events() -> None:
    scenario = given(AccountDecider(), Opened("ann")).when(Deposit(5))
    with pytest.raises(AssertionError) as info:
        scenario.then(Deposited(6))
    message = str(info.value)
    assert "given AccountDecider after:\n    Opened(owner='ann')" in message
    assert "when Deposit(amount=5):" in message
    assert "expected events: [Deposited(amount=6)]" in message
    assert "actual events:   [Deposited(amount=5)]" in message


def test_then_fails_when_the_command_is_rejected_instead() -> None:
    with pytest.raises(
        AssertionError, match=r"actual rejection: NotOpenError: account is not open"
    ):
        given(AccountDecider()).when(Deposit(1)).then(Deposited(1))


def test_then_rejects_returns_the_error_for_further_checks() -> None:
    error = (
        given(AccountDecider()).when(Deposit(3)).then_rejects(NotOpenError, match="deposit of 3")
    )
    assert isinstance(error, NotOpenError)


def test_then_rejects_fails_when_the_command_is_accepted() -> None:
    with pytest.raises(
        AssertionError, match=r"actual: accepted, deciding \[Deposited\(amount=3\)\]"
    ):
        given(AccountDecider(), Opened("ann")).when(Deposit(3)).then_rejects(NotOpenError)


def test_then_rejects_fails_on_another_rejection_or_message() -> None:
    with pytest.raises(AssertionError, match=r"expected rejection: OtherRejection\n.*NotOpenError"):
        given(AccountDecider()).when(Deposit(3)).then_rejects(OtherRejection)
    with pytest.raises(AssertionError, match=r"matching 'withdraw'\n  actual message: 'account"):
        given(AccountDecider()).when(Deposit(3)).then_rejects(NotOpenError, match="withdraw")


def test_then_state_fails_showing_both_states() -> None:
    with pytest.raises(AssertionError) as info:
        given(AccountDecider(), Opened("ann")).when(Deposit(2)).then_state(Account("ann", 3))
    assert "expected state: Account(owner='ann', balance=3)" in str(info.value)
    assert "actual state:   Account(owner='ann', balance=2)" in str(info.value)


def test_a_new_aggregate_is_described_as_new() -> None:
    with pytest.raises(AssertionError, match=r"^given a new AccountDecider\n  when Touch\(\):"):
        given(AccountDecider()).when(Touch()).then(Opened("x"))
