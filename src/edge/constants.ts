// The edge's timeouts, limits and buffer sizes (n2n_define.h unless noted), and the Ethernet/IPv4 offsets both packet paths read.
import { MAX_FRAME_BYTES } from '../io/types.js';
import { PACKET_HEADER_BYTES } from '../wire/packet.js';
import { PKT_BUF_BYTES } from '../wire/types.js';

// ---- timers, in seconds (timers.ts says which periodic action uses which)
/** BOOTSTRAP_TIMEOUT: wait for a PONG / the address ACK during bootstrap. */
export const BOOTSTRAP_TIMEOUT_S = 3;
/** PURGE_REGISTRATION_FREQUENCY. */
export const PURGE_INTERVAL_S = 30;
/** REGISTRATION_TIMEOUT: peers not heard from for this long are purged. */
export const REGISTRATION_TIMEOUT_S = 60;
/** SWEEP_TIME: supernode re-sort and PINGs. */
export const SWEEP_TIME_S = 30;
/** REGISTER_SUPER_INTERVAL_DFL: known peers not seen for this long are re-registered while no supernode answers. */
export const PEER_REFRESH_S = 20;
/** IFACE_UPDATE_INTERVAL: DHCP address re-check. */
export const IFACE_UPDATE_S = 30;
/** DNS re-resolution of the -l names, and the retry after a failure. */
export const RESOLVE_INTERVAL_S = 300;
export const RESOLVE_RETRY_S = 30;
/** REGISTRATION_TIMEOUT / 4: a lower-ranked ACK may not move a fresh pending peer's socket. */
export const ACK_SOCK_GRACE_S = REGISTRATION_TIMEOUT_S / 4;
/** Our one coarse timer; n2n's loop wakes every 10 s, or at once after any packet. */
export const TICK_MS = 1000;
export const MS_PER_S = 1000;

// ---- fast failure detection (tsn2n; 3.1.1 notices only at the next -i interval or sweep). timers.ts runs them.
/** The detection tick: the silences below are looked at this often (a few counter compares). */
export const DETECT_TICK_MS = 250;
/** Traffic sent to the supernode and nothing back from it for this long: REGISTER_SUPER at once. */
export const SN_SILENT_MS = 1000;
/** That REGISTER_SUPER unanswered this long while traffic still goes out: the next supernode. */
export const SN_PROBE_TIMEOUT_MS = 1000;
/** PACKETs sent to a P2P peer and nothing direct back from it for this long: one REGISTER probes the path. */
export const P2P_PROBE_MS = 1000;
/** ... for this long: the peer goes back to the supernode path and is punched again (QUERY_PEER). */
export const P2P_DEAD_MS = 2000;
/** How often the local address the kernel picks towards the supernode is looked up (a route lookup, no I/O). */
export const ADDR_CHECK_S = 1;

// ---- supernode registration
/** NUMBER_SN_PINGS_INITIAL / _REGULAR. */
export const PINGS_INITIAL = 15;
export const PINGS_REGULAR = 5;
/** N2N_EDGE_SUP_ATTEMPTS (UDP). */
export const SUP_ATTEMPTS = 3;
/** edge_utils.c: reset_sup_attempts gives a TCP (-S2) supernode one attempt. */
export const SUP_ATTEMPTS_TCP = 1;
/** N2N_CLOSE_SOCKET_COUNTER_MAX: supernode switches without outside peers before the socket is re-opened. */
export const CLOSE_SOCKET_COUNTER_MAX = 15;
/** Only unprivileged (or OS-chosen) ports are re-opened (edge_utils.c: update_supernode_reg). */
export const PRIVILEGED_PORT_MAX = 1024;
/** Bound on the supernode list: the -l entries plus those learned from REGISTER_SUPER_ACKs (44 at most each). */
export const MAX_SUPERNODE_ENTRIES = 128;

// ---- peers
/**
 * Bound on each peer table (pending and known). 3.1.1 has none; without one, forged REGISTERs or PACKETs from
 * random MACs would grow memory until the purge. Far above any real community's size.
 */
export const MAX_PEERS = 4096;
/**
 * New pending peers taken at once, then NEW_PEERS_PER_SECOND (not in 3.1.1). Each costs a REGISTER to its socket
 * and a multicast REGISTER; forged PACKETs or REGISTERs from random MACs would otherwise make the edge answer every
 * one of them. A real community's edges appear a few at a time; one refused now is taken with its next datagram.
 */
export const NEW_PEER_BURST = 128;
export const NEW_PEERS_PER_SECOND = 32;
/**
 * A known peer heard directly from another socket is asked there first (a REGISTER) and moves when its
 * REGISTER_ACK comes back from it: at most one such probe per peer in this many seconds (not in 3.1.1, whose
 * edge_utils.c: check_known_peer_sock_change drops the direct path on the first datagram that claims the MAC).
 */
export const MOVE_PROBE_INTERVAL_S = 1;
/** The REGISTER_ACK that confirms a move is taken this long after its probe. */
export const MOVE_CONFIRM_S = 5;
/**
 * A known peer heard from its socket under another MAC takes that MAC (an edge restarted without -m) at most
 * once in this many seconds (not in 3.1.1): a flood of made-up MACs from one socket does not churn the table.
 */
export const MAC_CHANGE_INTERVAL_S = 2;
/** Ports tried by the -L port-prediction burst (edge_utils.c: register_with_new_peer). */
export const PORT_PREDICTION_BURST = 16;
/** IP TTL restored after the burst (Linux default). */
export const DEFAULT_IP_TTL = 64;
/**
 * Peer RTT from REGISTER → REGISTER_ACK (peers.ts: sampleRtt): weight of a new sample in the smoothed value (TCP's
 * SRTT gain, RFC 6298), and the longest gap still taken as a round trip rather than a late answer.
 */
export const RTT_EWMA_WEIGHT = 1 / 8;
export const RTT_MAX_SAMPLE_MS = 10_000;
/** 127.0.0.1: never a usable peer socket (edge_utils.c: is_valid_peer_sock). */
export const LOCALHOST_V4 = 0x7f000001;

// ---- packet path buffers and batches
/** Bytes of the preamble the transforms put in front of the ciphertext, at most. */
const MAX_PREAMBLE_BYTES = 16;
/** Room for the largest frame plus header and preamble in the send buffer. */
export const TX_BUF_BYTES = PACKET_HEADER_BYTES + MAX_PREAMBLE_BYTES + MAX_FRAME_BYTES + 64;
/** Decrypted / decompressed frames; n2n caps them at N2N_PKT_BUF_SIZE, we allow our largest MTU. */
export const RX_BUF_BYTES = MAX_FRAME_BYTES + 64;
/** Datagrams sent in one sendmmsg, and frames written to TAP in one call. */
export const TX_BATCH_MAX = 64;
export const TAP_BATCH_MAX = 64;
/** One frame slot of the TAP write batch: n2n's largest datagram (N2N_PKT_BUF_SIZE) plus alignment. */
export const TAP_SLOT_BYTES = PKT_BUF_BYTES + 64;
/** Sender addresses kept decoded for reuse (peers and supernodes; cleared when full). */
export const ADDR_CACHE_MAX = 4096;

// ---- Ethernet / IPv4 layout
export const ETH_HEADER_BYTES = 14;
export const ETHERTYPE_OFFSET = 12;
export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;
export const IPV4_MIN_HEADER_BYTES = 20;
export const IPV4_SRC = ETH_HEADER_BYTES + 12;
export const IPV4_DST = ETH_HEADER_BYTES + 16;
/** Gratuitous ARP frame length (edge_utils.c: gratuitous_arp). */
export const GARP_BYTES = 42;

/** Ethernet multicast n2n drops without -E: 01:00:5E:00-7F:xx:xx and 33:33:xx:xx:xx:xx. */
export function isEthMulticast(b: Uint8Array, off: number): boolean {
  const b0 = b[off];
  if (b0 === 0x01) return b[off + 1] === 0x00 && b[off + 2] === 0x5e && (b[off + 3] & 0x80) === 0;
  return b0 === 0x33 && b[off + 1] === 0x33;
}

export function readU32(b: Uint8Array, p: number): number {
  return ((b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]) >>> 0;
}
