//! The ip_vs SCTP state machine (ip_vs_proto_sctp.c): events from the first chunk type (with a
//! COOKIE_ECHO/COOKIE_ACK followed by ABORT counting as ABORT), `sctp_states[dir][event][state]`,
//! timeouts and names; only ESTABLISHED counts as active.

use super::{effective_direction, Direction};

/// `IP_VS_SCTP_S_*`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum State {
    None = 0,
    Init1,
    Init,
    CookieSent,
    CookieReplied,
    CookieWait,
    Cookie,
    CookieEchoed,
    Established,
    ShutdownSent,
    ShutdownReceived,
    ShutdownAckSent,
    Rejected,
    Closed,
}

/// All states in `IP_VS_SCTP_S_*` order.
pub const STATES: [State; 14] = [
    State::None,
    State::Init1,
    State::Init,
    State::CookieSent,
    State::CookieReplied,
    State::CookieWait,
    State::Cookie,
    State::CookieEchoed,
    State::Established,
    State::ShutdownSent,
    State::ShutdownReceived,
    State::ShutdownAckSent,
    State::Rejected,
    State::Closed,
];

impl State {
    pub fn from_index(i: usize) -> Option<State> {
        STATES.get(i).copied()
    }
}

/// `enum ipvs_sctp_event_t`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    Data = 0,
    Init,
    InitAck,
    CookieEcho,
    CookieAck,
    Shutdown,
    ShutdownAck,
    ShutdownComplete,
    Error,
    Abort,
}

/// SCTP chunk type numbers (RFC 9260).
pub const CID_INIT: u8 = 1;
pub const CID_INIT_ACK: u8 = 2;
pub const CID_ABORT: u8 = 6;
pub const CID_SHUTDOWN: u8 = 7;
pub const CID_SHUTDOWN_ACK: u8 = 8;
pub const CID_ERROR: u8 = 9;
pub const CID_COOKIE_ECHO: u8 = 10;
pub const CID_COOKIE_ACK: u8 = 11;
pub const CID_SHUTDOWN_COMPLETE: u8 = 14;

/// `sctp_events[]`: chunk type to event; unknown and data-like chunks are DATA.
pub fn event_of_chunk(chunk_type: u8) -> Event {
    match chunk_type {
        CID_INIT => Event::Init,
        CID_INIT_ACK => Event::InitAck,
        CID_ABORT => Event::Abort,
        CID_SHUTDOWN => Event::Shutdown,
        CID_SHUTDOWN_ACK => Event::ShutdownAck,
        CID_ERROR => Event::Error,
        CID_COOKIE_ECHO => Event::CookieEcho,
        CID_COOKIE_ACK => Event::CookieAck,
        CID_SHUTDOWN_COMPLETE => Event::ShutdownComplete,
        _ => Event::Data,
    }
}

/// The event of an SCTP packet given its chunks (the bytes after the 12-byte common header), as
/// `set_sctp_state` derives it: the first chunk's type, except that a COOKIE_ECHO or COOKIE_ACK
/// whose length is >= 4 and that is followed (at the 4-aligned length) by an ABORT counts as
/// ABORT. `None` if not even one chunk header (4 bytes) is present (no state change).
pub fn packet_event(chunks: &[u8]) -> Option<Event> {
    let hdr = chunks.get(0..4)?;
    let mut ty = hdr[0];
    if ty == CID_COOKIE_ECHO || ty == CID_COOKIE_ACK {
        let clen = usize::from(u16::from_be_bytes([hdr[2], hdr[3]]));
        if clen >= 4 {
            let next = (clen + 3) & !3;
            if let Some(n) = chunks.get(next..next + 4) {
                if n[0] == CID_ABORT {
                    ty = CID_ABORT;
                }
            }
        }
    }
    Some(event_of_chunk(ty))
}

use State::{
    Closed as CL, Cookie as CO, CookieEchoed as CE, CookieReplied as CR, CookieSent as CS,
    CookieWait as CW, Established as ES, Init as IN, Init1 as I1, Rejected as RJ,
    ShutdownAckSent as SA, ShutdownReceived as SR, ShutdownSent as SS,
};

type Row = [State; 14];

/// `sctp_states[IP_VS_DIR_LAST][IP_VS_SCTP_EVENT_LAST][IP_VS_SCTP_S_LAST]`.
const SCTP_STATES: [[Row; 10]; 3] = [
    [
        // INPUT
        [ES, I1, IN, CS, CR, CW, CO, CE, ES, SS, SR, SA, RJ, CL],
        [I1, IN, IN, CS, CR, CW, CO, CE, ES, SS, SR, SA, IN, IN],
        [CW, CW, CW, CS, CR, CO, CO, CE, ES, SS, SR, SA, RJ, CL],
        [CR, IN, IN, CR, CR, CW, CO, CE, ES, SS, SR, SA, RJ, CL],
        [ES, I1, IN, CS, CR, CW, CO, ES, ES, SS, SR, SA, RJ, CL],
        [SR, I1, IN, CS, CR, CW, CO, CE, SR, SS, SR, SA, RJ, CL],
        [CL, IN, IN, CS, CR, CW, CO, CE, ES, CL, SR, CL, RJ, CL],
        [CL, CL, CL, CS, CR, CW, CO, CE, ES, SS, SR, CL, RJ, CL],
        [CL, I1, IN, CS, CR, CW, CO, CL, ES, SS, SR, SA, RJ, CL],
        [CL, CL, CL, CL, CL, RJ, CL, CL, CL, CL, CL, CL, CL, CL],
    ],
    [
        // OUTPUT
        [ES, I1, IN, CS, CR, CW, CO, CE, ES, SS, SR, SA, RJ, CL],
        [CW, CW, CW, CW, CW, CW, CW, CW, ES, CW, CW, CW, CW, CW],
        [CS, CS, CS, CS, CR, CW, CO, CE, ES, SS, SR, SA, RJ, CL],
        [CE, CE, CE, CE, CE, CE, CE, CE, ES, SS, SR, SA, RJ, CL],
        [ES, ES, ES, ES, ES, ES, ES, ES, ES, SS, SR, SA, RJ, CL],
        [SS, SS, SS, SS, SS, SS, SS, SS, SS, SS, SR, SA, RJ, CL],
        [SA, SA, SA, SA, SA, CW, CO, CE, ES, SA, SA, SA, RJ, CL],
        [CL, I1, IN, CS, CR, CW, CO, CE, ES, SS, SR, SA, RJ, CL],
        [CL, CL, CL, CL, CL, CW, CO, CE, ES, SS, SR, SA, RJ, CL],
        [CL, RJ, CL, CL, CL, CL, CL, CL, CL, CL, CL, CL, CL, CL],
    ],
    [
        // INPUT-ONLY
        [ES, I1, IN, CS, CR, ES, CO, CE, ES, SS, SR, SA, RJ, CL],
        [I1, IN, IN, IN, IN, IN, CO, CE, ES, SS, SR, SA, IN, IN],
        [CE, CE, CE, CE, CE, CE, CO, CE, ES, SS, SR, SA, RJ, CL],
        [ES, ES, ES, ES, ES, ES, CO, CE, ES, SS, SR, SA, RJ, CL],
        [ES, I1, IN, ES, ES, CW, ES, ES, ES, SS, SR, SA, RJ, CL],
        [SR, I1, IN, CS, CR, CW, CO, CE, SR, SS, SR, SA, RJ, CL],
        [CL, IN, IN, CS, CR, CW, CO, CE, CL, CL, SR, CL, RJ, CL],
        [CL, CL, CL, CL, CL, CW, CO, CE, ES, SS, CL, CL, RJ, CL],
        [CL, I1, IN, CS, CR, CW, CO, CE, ES, SS, SR, SA, RJ, CL],
        [CL, CL, CL, CL, CL, RJ, CL, CL, CL, CL, CL, CL, CL, CL],
    ],
];

/// The table lookup of `set_sctp_state` for an already-effective direction.
pub fn next_state(cur: State, dir: Direction, ev: Event) -> State {
    SCTP_STATES
        .get(dir as usize)
        .and_then(|t| t.get(ev as usize))
        .and_then(|row| row.get(cur as usize))
        .copied()
        .unwrap_or(cur)
}

/// Result of one `set_sctp_state`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transition {
    pub state: State,
    pub no_output: bool,
    pub counters: super::CounterChange,
    pub inactive: bool,
}

/// `set_sctp_state`: direction fix-up, lookup, counter rule (active iff ESTABLISHED).
pub fn transition(
    cur: State,
    dir: Direction,
    ev: Event,
    no_output: bool,
    inactive: bool,
) -> Transition {
    let (dir, no_output) = effective_direction(dir, no_output);
    let state = next_state(cur, dir, ev);
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

/// Only ESTABLISHED is active.
pub fn is_active(s: State) -> bool {
    s == State::Established
}

/// `sctp_timeouts[]` in seconds (`IP_VS_SCTP_MAX_RTO` = 61 s).
pub fn timeout(s: State) -> u32 {
    const MAX_RTO: u32 = 60 + 1;
    match s {
        State::None => 2,
        State::Init1 | State::Rejected => 3 + 1,
        State::Established => 15 * 60,
        _ => MAX_RTO,
    }
}

/// `sctp_state_name_table[]`.
pub fn name(s: State) -> &'static str {
    match s {
        State::None => "NONE",
        State::Init1 => "INIT1",
        State::Init => "INIT",
        State::CookieSent => "C-SENT",
        State::CookieReplied => "C-REPLIED",
        State::CookieWait => "C-WAIT",
        State::Cookie => "COOKIE",
        State::CookieEchoed => "C-ECHOED",
        State::Established => "ESTABLISHED",
        State::ShutdownSent => "S-SENT",
        State::ShutdownReceived => "S-RECEIVED",
        State::ShutdownAckSent => "S-ACK-SENT",
        State::Rejected => "REJECTED",
        State::Closed => "CLOSED",
    }
}

/// `sctp_state_name` for a raw number.
pub fn name_of(i: usize) -> &'static str {
    State::from_index(i).map_or("ERR!", name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn association_setup_and_teardown() {
        let (i, o) = (Direction::Input, Direction::Output);
        let mut s = State::None;
        for (d, e, want) in [
            (i, Event::Init, State::Init1),
            (o, Event::InitAck, State::CookieSent),
            (i, Event::CookieEcho, State::CookieReplied),
            (o, Event::CookieAck, State::Established),
            (i, Event::Shutdown, State::ShutdownReceived),
            (o, Event::ShutdownAck, State::ShutdownAckSent),
            (i, Event::ShutdownComplete, State::Closed),
        ] {
            s = next_state(s, d, e);
            assert_eq!(s, want);
        }
        assert_eq!(timeout(State::CookieWait), 61);
        assert_eq!(name(State::ShutdownAckSent), "S-ACK-SENT");
        assert_eq!(name_of(14), "ERR!");
    }

    #[test]
    fn chunk_events() {
        assert_eq!(packet_event(&[]), None);
        assert_eq!(packet_event(&[0, 0, 0, 16]), Some(Event::Data));
        assert_eq!(packet_event(&[200, 0, 0, 4]), Some(Event::Data));
        // COOKIE_ECHO of length 5 (padded to 8) followed by ABORT
        let p = [10, 0, 0, 5, 1, 0, 0, 0, 6, 0, 0, 4];
        assert_eq!(packet_event(&p), Some(Event::Abort));
        let p = [10, 0, 0, 5, 1, 0, 0, 0, 7, 0, 0, 4];
        assert_eq!(packet_event(&p), Some(Event::CookieEcho));
        let p = [11, 0, 0, 2, 6, 0, 0, 4];
        assert_eq!(packet_event(&p), Some(Event::CookieAck));
    }

    proptest! {
        #[test]
        fn packet_event_total(b in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = packet_event(&b);
        }

        #[test]
        fn inactive_flag_tracks_established(steps in proptest::collection::vec((0usize..3, any::<u8>()), 1..40)) {
            let mut s = State::None;
            let (mut inactive, mut no_output, mut active) = (true, false, 0i32);
            for (d, c) in steps {
                let dir = [Direction::Input, Direction::Output, Direction::InputOnly][d];
                let t = transition(s, dir, event_of_chunk(c), no_output, inactive);
                match t.counters {
                    super::super::CounterChange::BecameActive => active += 1,
                    super::super::CounterChange::BecameInactive => active -= 1,
                    super::super::CounterChange::None => {}
                }
                s = t.state; inactive = t.inactive; no_output = t.no_output;
                prop_assert_eq!(inactive, s != State::Established);
                prop_assert_eq!(active, i32::from(!inactive));
            }
        }
    }
}
