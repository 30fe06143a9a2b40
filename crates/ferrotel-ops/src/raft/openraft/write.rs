//! A client write through openraft with a `raft.propose` span whose context rides in the entry.

use std::future::Future;

use opentelemetry::context::FutureExt as _;

use openraft::error::{ClientWriteError, RaftError};
use openraft::raft::responder::Responder;
use openraft::raft::{ClientWriteResponse, ClientWriteResult};
use openraft::{OptionalSend, Raft, RaftTypeConfig};

use super::Traced;
use crate::raft::RaftInstruments;

/// Proposes `data` to `raft` under a `raft.propose` span, a child of the current context.
///
/// The data is wrapped with [`Traced::proposed`], so every replica's append and apply spans
/// for the entry are children of the proposal. The span ends when openraft answers: with
/// `raft.log.index` once the entry is committed and applied, or failed with `error.type`
/// (`forward_to_leader` when this node is not the leader, `change_membership`, `fatal` when
/// the node is shutting down). openraft's answer is returned unchanged.
///
/// `E` is the error of the type config's responder (openraft's `client_write` has the same
/// parameter); it is inferred.
pub async fn client_write<C, D, E>(
    raft: &Raft<C>,
    instruments: &RaftInstruments,
    data: D,
) -> Result<ClientWriteResponse<C>, RaftError<C::NodeId, ClientWriteError<C::NodeId, C::Node>>>
where
    C: RaftTypeConfig<D = Traced<D>>,
    <C::Responder as Responder<C>>::Receiver: Future<Output = Result<ClientWriteResult<C>, E>>,
    E: std::error::Error + OptionalSend,
{
    let proposal = instruments.propose();
    let cx = proposal.context();
    let result = raft
        .client_write(Traced::proposed(&proposal, data))
        .with_context(cx)
        .await;
    match &result {
        Ok(response) => proposal.finish(response.log_id.index),
        Err(e) => proposal.fail(write_error_type(e)),
    }
    result
}

fn write_error_type<NID, N>(error: &RaftError<NID, ClientWriteError<NID, N>>) -> &'static str
where
    NID: openraft::NodeId,
    N: openraft::Node,
{
    match error {
        RaftError::APIError(ClientWriteError::ForwardToLeader(_)) => "forward_to_leader",
        RaftError::APIError(ClientWriteError::ChangeMembershipError(_)) => "change_membership",
        RaftError::Fatal(_) => "fatal",
    }
}
