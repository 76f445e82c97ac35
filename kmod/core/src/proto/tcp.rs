//! The ip_vs TCP state machine (ip_vs_proto_tcp.c): `tcp_states` and, with `secure_tcp`,
//! `tcp_states_dos`, indexed by direction and by the first of RST, SYN, FIN, ACK set.

use super::{effective_direction, Direction};

/// `IP_VS_TCP_S_*`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum State {
    None = 0,
    Established,
    SynSent,
    SynRecv,
    FinWait,
    TimeWait,
    Close,
    CloseWait,
    LastAck,
    Listen,
    SynAck,
}

/// All states in `IP_VS_TCP_S_*` order.
pub const STATES: [State; 11] = [
    State::None,
    State::Established,
    State::SynSent,
    State::SynRecv,
    State::FinWait,
    State::TimeWait,
    State::Close,
    State::CloseWait,
    State::LastAck,
    State::Listen,
    State::SynAck,
];

impl State {
    /// The state with this `IP_VS_TCP_S_*` number.
    pub fn from_index(i: usize) -> Option<State> {
        STATES.get(i).copied()
    }
}

/// TCP header flag bits as in byte 13 of the header.
pub const TH_FIN: u8 = 0x01;
pub const TH_SYN: u8 = 0x02;
pub const TH_RST: u8 = 0x04;
pub const TH_ACK: u8 = 0x10;

use State::{
    Close as CL, CloseWait as CW, Established as ES, FinWait as FW, LastAck as LA, Listen as LI,
    SynAck as SA, SynRecv as SR, SynSent as SS, TimeWait as TW,
};

type Row = [State; 11];

/// `tcp_states[]`: [direction*4 + (syn, fin, ack, rst)][state].
const TCP_STATES: [Row; 12] = [
    // INPUT
    [SR, ES, ES, SR, SR, SR, SR, SR, SR, SR, SR],
    [CL, CW, SS, TW, TW, TW, CL, CW, LA, LI, TW],
    [ES, ES, SS, ES, FW, TW, CL, CW, CL, LI, ES],
    [CL, CL, CL, SR, CL, CL, CL, CL, LA, LI, SR],
    // OUTPUT
    [SS, ES, SS, SR, SS, SS, SS, SS, SS, LI, SR],
    [TW, FW, SS, TW, FW, TW, CL, TW, LA, LI, TW],
    [ES, ES, SS, ES, FW, TW, CL, CW, LA, ES, ES],
    [CL, CL, SS, CL, CL, TW, CL, CL, CL, CL, CL],
    // INPUT-ONLY
    [SR, ES, ES, SR, SR, SR, SR, SR, SR, SR, SR],
    [CL, FW, SS, TW, FW, TW, CL, CW, LA, LI, TW],
    [ES, ES, SS, ES, FW, TW, CL, CW, CL, LI, ES],
    [CL, CL, CL, SR, CL, CL, CL, CL, LA, LI, CL],
];

/// `tcp_states_dos[]` (used when the secure_tcp defense is on).
const TCP_STATES_DOS: [Row; 12] = [
    // INPUT
    [SR, ES, ES, SR, SR, SR, SR, SR, SR, SR, SA],
    [CL, CW, SS, TW, TW, TW, CL, CW, LA, LI, SA],
    [ES, ES, SS, SR, FW, TW, CL, CW, CL, LI, SA],
    [CL, CL, CL, SR, CL, CL, CL, CL, LA, LI, CL],
    // OUTPUT
    [SS, ES, SS, SA, SS, SS, SS, SS, SS, LI, SA],
    [TW, FW, SS, TW, FW, TW, CL, TW, LA, LI, TW],
    [ES, ES, SS, ES, FW, TW, CL, CW, LA, ES, ES],
    [CL, CL, SS, CL, CL, TW, CL, CL, CL, CL, CL],
    // INPUT-ONLY
    [SA, ES, ES, SR, SA, SA, SA, SA, SA, SA, SA],
    [CL, FW, SS, TW, FW, TW, CL, CW, LA, LI, TW],
    [ES, ES, SS, ES, FW, TW, CL, CW, CL, LI, ES],
    [CL, CL, CL, SR, CL, CL, CL, CL, LA, LI, CL],
];

/// `tcp_state_idx`: RST, else SYN, else FIN, else ACK; `None` if none of them is set.
pub fn flag_index(flags: u8) -> Option<usize> {
    if flags & TH_RST != 0 {
        Some(3)
    } else if flags & TH_SYN != 0 {
        Some(0)
    } else if flags & TH_FIN != 0 {
        Some(1)
    } else if flags & TH_ACK != 0 {
        Some(2)
    } else {
        None
    }
}

/// The table lookup of `set_tcp_state` for an already-effective direction (see
/// [`super::effective_direction`]). A segment with none of RST/SYN/FIN/ACK moves to CLOSE, as
/// the kernel does.
pub fn next_state(cur: State, dir: Direction, flags: u8, secure_tcp: bool) -> State {
    let Some(idx) = flag_index(flags) else {
        return State::Close;
    };
    let table = if secure_tcp {
        &TCP_STATES_DOS
    } else {
        &TCP_STATES
    };
    table
        .get(dir as usize * 4 + idx)
        .and_then(|row| row.get(cur as usize))
        .copied()
        .unwrap_or(State::Close)
}

/// Result of one `set_tcp_state`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transition {
    pub state: State,
    /// New value of IP_VS_CONN_F_NOOUTPUT.
    pub no_output: bool,
    pub counters: super::CounterChange,
    /// New value of IP_VS_CONN_F_INACTIVE.
    pub inactive: bool,
}

/// `set_tcp_state`: direction fix-up, table lookup and the active/inactive counter rule.
pub fn transition(
    cur: State,
    dir: Direction,
    flags: u8,
    secure_tcp: bool,
    no_output: bool,
    inactive: bool,
) -> Transition {
    let (dir, no_output) = effective_direction(dir, no_output);
    let state = next_state(cur, dir, flags, secure_tcp);
    let counters = super::counter_change(state != cur, inactive, is_active(state));
    let inactive = match counters {
        super::CounterChange::BecameInactive => true,
        super::CounterChange::BecameActive => false,
        super::CounterChange::None => inactive,
    };
    Transition {
        state,
        no_output,
        counters,
        inactive,
    }
}

/// `tcp_timeouts[]` in seconds.
pub fn timeout(s: State) -> u32 {
    match s {
        State::None => 2,
        State::Established => 15 * 60,
        State::SynSent => 2 * 60,
        State::SynRecv => 60,
        State::FinWait => 2 * 60,
        State::TimeWait => 2 * 60,
        State::Close => 10,
        State::CloseWait => 60,
        State::LastAck => 30,
        State::Listen => 2 * 60,
        State::SynAck => 120,
    }
}

/// `tcp_state_name_table[]`.
pub fn name(s: State) -> &'static str {
    match s {
        State::None => "NONE",
        State::Established => "ESTABLISHED",
        State::SynSent => "SYN_SENT",
        State::SynRecv => "SYN_RECV",
        State::FinWait => "FIN_WAIT",
        State::TimeWait => "TIME_WAIT",
        State::Close => "CLOSE",
        State::CloseWait => "CLOSE_WAIT",
        State::LastAck => "LAST_ACK",
        State::Listen => "LISTEN",
        State::SynAck => "SYNACK",
    }
}

/// `tcp_state_name` for a raw state number ("ERR!" beyond the table).
pub fn name_of(i: usize) -> &'static str {
    State::from_index(i).map_or("ERR!", name)
}

/// `tcp_state_active_table[]`: ESTABLISHED, SYN_SENT, SYN_RECV and SYNACK count as active.
pub fn is_active(s: State) -> bool {
    matches!(
        s,
        State::Established | State::SynSent | State::SynRecv | State::SynAck
    )
}

#[cfg(test)]
mod tests {
    use super::super::CounterChange;
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn handshake_and_close() {
        let i = Direction::Input;
        let o = Direction::Output;
        let mut s = State::None;
        s = next_state(s, i, TH_SYN, false);
        assert_eq!(s, State::SynRecv);
        s = next_state(s, o, TH_SYN | TH_ACK, false);
        assert_eq!(s, State::SynRecv);
        s = next_state(s, i, TH_ACK, false);
        assert_eq!(s, State::Established);
        s = next_state(s, i, TH_FIN | TH_ACK, false);
        assert_eq!(s, State::CloseWait);
        s = next_state(s, o, TH_FIN | TH_ACK, false);
        assert_eq!(s, State::TimeWait);
        assert_eq!(
            next_state(State::Established, i, TH_RST | TH_SYN, false),
            State::Close
        );
        assert_eq!(next_state(State::Established, i, 0, false), State::Close);
        // DR: input-only FIN from ESTABLISHED goes to FIN_WAIT
        assert_eq!(
            next_state(State::Established, Direction::InputOnly, TH_FIN, false),
            State::FinWait
        );
        // secure_tcp: SYN in input-only from NONE goes to SYNACK
        assert_eq!(
            next_state(State::None, Direction::InputOnly, TH_SYN, true),
            State::SynAck
        );
        assert_eq!(timeout(State::Established), 900);
        assert_eq!(name(State::SynAck), "SYNACK");
        assert_eq!(name_of(11), "ERR!");
    }

    #[test]
    fn counters_follow_activity() {
        let t = transition(
            State::Established,
            Direction::Input,
            TH_FIN,
            false,
            false,
            false,
        );
        assert_eq!(
            (t.state, t.counters, t.inactive),
            (State::CloseWait, CounterChange::BecameInactive, true)
        );
        let t = transition(State::None, Direction::Input, TH_SYN, false, true, true);
        assert_eq!(
            (t.state, t.counters, t.inactive, t.no_output),
            (State::SynRecv, CounterChange::BecameActive, false, true)
        );
        let t = transition(
            State::SynRecv,
            Direction::Output,
            TH_ACK,
            false,
            true,
            false,
        );
        assert_eq!((t.state, t.no_output), (State::Established, false));
    }

    proptest! {
        #[test]
        fn counter_flag_tracks_state(steps in proptest::collection::vec((0usize..3, any::<u8>(), any::<bool>()), 1..40)) {
            // Starting like ip_vs_bind_dest (INACTIVE set, activeconns not counted), the
            // INACTIVE flag always equals "state is not active" after any change, and the
            // counter deltas sum to the number of active connections.
            let mut s = State::None;
            let mut inactive = true;
            let mut no_output = false;
            let mut active = 0i32;
            for (d, f, sec) in steps {
                let dir = [Direction::Input, Direction::Output, Direction::InputOnly][d];
                let t = transition(s, dir, f, sec, no_output, inactive);
                match t.counters {
                    CounterChange::BecameActive => active += 1,
                    CounterChange::BecameInactive => active -= 1,
                    CounterChange::None => {}
                }
                prop_assert_eq!(t.inactive, !is_active(t.state));
                s = t.state; inactive = t.inactive; no_output = t.no_output;
                prop_assert_eq!(active, i32::from(!inactive));
                prop_assert!(active == 0 || active == 1);
            }
        }
    }
}
