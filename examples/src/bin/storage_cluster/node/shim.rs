//! TEMPORARY until the ferrotel-ops openraft adapters land: same names, no instrumentation.
#![allow(dead_code, clippy::new_ret_no_self)]
use crate::api::{Command, TypeConfig};
pub(crate) use ferrotel::ops::raft::openraft::follow_metrics;
use ferrotel::ops::raft::openraft::Traced;
use ferrotel::ops::raft::RaftInstruments;
use openraft::error::{ClientWriteError, RaftError};
use openraft::raft::ClientWriteResponse;
use openraft::BasicNode;

pub(crate) struct TracedLogStore;
impl TracedLogStore {
    pub(crate) fn new<S>(s: S, _: RaftInstruments) -> S {
        s
    }
}
pub(crate) struct TracedStateMachine;
impl TracedStateMachine {
    pub(crate) fn new<S>(s: S, _: RaftInstruments) -> S {
        s
    }
}
pub(crate) struct TracedNetworkFactory;
impl TracedNetworkFactory {
    pub(crate) fn new<S>(s: S, _: RaftInstruments) -> S {
        s
    }
}

pub(crate) async fn client_write(
    raft: &openraft::Raft<TypeConfig>,
    instruments: &RaftInstruments,
    data: Command,
) -> Result<ClientWriteResponse<TypeConfig>, RaftError<u64, ClientWriteError<u64, BasicNode>>> {
    let p = instruments.propose();
    let r = raft.client_write(Traced::proposed(&p, data)).await;
    match &r {
        Ok(w) => p.finish(w.log_id.index),
        Err(_) => p.fail("raft"),
    }
    r
}
