//! ip_vs UDP (ip_vs_proto_udp.c): one state, NORMAL ("UDP"), 5-minute timeout, refreshed by
//! every packet; UDP connections never change activeconns after creation.

/// `IP_VS_UDP_S_NORMAL`.
pub const NORMAL: usize = 0;

/// `udp_timeouts[IP_VS_UDP_S_NORMAL]` in seconds.
pub fn timeout() -> u32 {
    5 * 60
}

/// `udp_state_name`.
pub fn name_of(state: usize) -> &'static str {
    if state == NORMAL {
        "UDP"
    } else {
        "ERR!"
    }
}

/// `udp_state_transition`: the state stays NORMAL.
pub fn next_state(_cur: usize) -> usize {
    NORMAL
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_state() {
        assert_eq!(next_state(NORMAL), NORMAL);
        assert_eq!(timeout(), 300);
        assert_eq!(name_of(0), "UDP");
        assert_eq!(name_of(1), "ERR!");
    }
}
