//! The occurrence state-transition table that a ledger writer enforces before it appends an
//! occurrence record, so a dispatcher bug cannot record (and then perform) a second send. Pure.

use super::fold::OccurrenceView;
use super::record::{OccurrenceState, StateKind};

/// An occurrence record the state machine refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("{id}: cannot record `{to}` after `{}`", from.map_or("nothing", StateKind::name))]
    NotAllowed {
        id: String,
        from: Option<StateKind>,
        to: StateKind,
    },
    #[error(
        "{id}: the intent uses MsgRandom {got} but the occurrence already used {recorded}; a retry must reuse it"
    )]
    MsgRandomChanged { id: String, recorded: u32, got: u32 },
    #[error("{id}: attempt {got} does not follow attempt {recorded}")]
    AttemptOutOfOrder { id: String, recorded: u32, got: u32 },
}

/// Which states may follow which (rows: latest state, or none).
///
/// | next | allowed after |
/// |---|---|
/// | `intent` | none, `intent` (a retry after a failure before the request was written), `in_doubt` (`--retry-in-doubt`), `not_sent`, `deferred`, `resolved_not_sent`, `failed` (a definite refusal: nothing was delivered; due again once its cause is fixed) |
/// | `sent`, `failed`, `in_doubt`, `not_sent` | `intent` (the outcome of that attempt; `not_sent`: apply gave up before the request was written, or after transient refusals) |
/// | `deferred` | none, `intent` (answered 90047), `not_sent`, `deferred`, `resolved_not_sent`, `failed` |
/// | `missed`, `skipped` | none, `not_sent`, `deferred`, `resolved_not_sent` |
/// | `resolved_sent`, `resolved_not_sent` | `in_doubt`, `failed`, `intent` (no outcome recorded) |
/// | `recalled` | `sent`, `resolved_sent` |
///
/// Nothing follows `missed`, `skipped` or `recalled`. `failed` is not final: the provider
/// refused, so a new attempt (or a deferral) may follow; a failed occurrence past grace is
/// simply never planned again.
/// An intent must reuse the occurrence's recorded MsgRandom and carry the next attempt number.
///
/// # Errors
/// [`TransitionError`] when `next` may not follow the occurrence's latest state.
pub fn check_transition(
    current: Option<&OccurrenceView>,
    id: &str,
    next: &OccurrenceState,
) -> Result<(), TransitionError> {
    use StateKind as K;
    let from = current.map(OccurrenceView::kind);
    let to = next.kind();
    let allowed = match to {
        K::Intent => matches!(
            from,
            None | Some(
                K::Intent | K::InDoubt | K::NotSent | K::Deferred | K::ResolvedNotSent | K::Failed
            )
        ),
        K::Sent | K::Failed | K::InDoubt | K::NotSent => from == Some(K::Intent),
        K::Deferred => matches!(
            from,
            None | Some(K::Intent | K::NotSent | K::Deferred | K::ResolvedNotSent | K::Failed)
        ),
        K::Missed | K::Skipped => matches!(
            from,
            None | Some(K::NotSent | K::Deferred | K::ResolvedNotSent)
        ),
        K::ResolvedSent | K::ResolvedNotSent => {
            matches!(from, Some(K::InDoubt | K::Failed | K::Intent))
        }
        K::Recalled => matches!(from, Some(K::Sent | K::ResolvedSent)),
    };
    // After an unresolved in_doubt, "not delivered" outcomes would hide that an earlier attempt
    // may have been delivered: only sent, in_doubt or an operator's decision may follow.
    let doubtful = current.is_some_and(OccurrenceView::in_doubt_unresolved)
        && matches!(
            to,
            K::NotSent | K::Deferred | K::Missed | K::Skipped | K::Failed
        );
    if !allowed || doubtful {
        return Err(TransitionError::NotAllowed {
            id: id.to_owned(),
            from,
            to,
        });
    }
    if let (
        Some(view),
        OccurrenceState::Intent {
            msg_random,
            attempt,
            ..
        },
    ) = (current, next)
    {
        if let Some(recorded) = view.msg_random
            && recorded != *msg_random
        {
            return Err(TransitionError::MsgRandomChanged {
                id: id.to_owned(),
                recorded,
                got: *msg_random,
            });
        }
        if *attempt != view.attempts + 1 {
            return Err(TransitionError::AttemptOutOfOrder {
                id: id.to_owned(),
                recorded: view.attempts,
                got: *attempt,
            });
        }
    } else if let (None, OccurrenceState::Intent { attempt, .. }) = (current, next)
        && *attempt != 1
    {
        return Err(TransitionError::AttemptOutOfOrder {
            id: id.to_owned(),
            recorded: 0,
            got: *attempt,
        });
    }
    Ok(())
}
