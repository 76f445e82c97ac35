//! ip_vs per-protocol connection state machines (ip_vs_proto_tcp/udp/sctp.c): next state,
//! per-state default timeouts (seconds), the names /proc/net/ip_vs_conn prints, and the
//! active/inactive rule that moves a connection between a dest's activeconns and inactconns.

pub mod sctp;
pub mod tcp;
pub mod udp;

/// `IP_VS_DIR_*`: which way the packet goes relative to the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Client to real server.
    Input = 0,
    /// Real server to client.
    Output = 1,
    /// Client to real server on a connection that has seen no output (IP_VS_CONN_F_NOOUTPUT,
    /// e.g. DR/TUN).
    InputOnly = 2,
}

/// `IP_VS_CONN_F_NOOUTPUT` handling shared by TCP and SCTP `set_*_state`: with no output seen
/// yet, input is looked up as input-only; an output packet clears the flag.
/// Returns the effective direction and the new value of the no-output flag.
pub fn effective_direction(dir: Direction, no_output: bool) -> (Direction, bool) {
    if !no_output {
        return (dir, false);
    }
    match dir {
        Direction::Output => (Direction::Output, false),
        _ => (Direction::InputOnly, true),
    }
}

/// How a state change moves the dest counters (the `IP_VS_CONN_F_INACTIVE` toggling).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CounterChange {
    None,
    /// `atomic_dec(&dest->activeconns)` and set IP_VS_CONN_F_INACTIVE.
    BecameInactive,
    /// `atomic_inc(&dest->activeconns)` and clear IP_VS_CONN_F_INACTIVE.
    BecameActive,
}

/// The counter rule of set_tcp_state / set_sctp_state: only on an actual state change, an active
/// connection entering an inactive state becomes inactive and vice versa.
pub fn counter_change(
    state_changed: bool,
    currently_inactive: bool,
    new_state_active: bool,
) -> CounterChange {
    if !state_changed {
        CounterChange::None
    } else if !currently_inactive && !new_state_active {
        CounterChange::BecameInactive
    } else if currently_inactive && new_state_active {
        CounterChange::BecameActive
    } else {
        CounterChange::None
    }
}
