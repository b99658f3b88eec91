// Edge counters: n2n's packet statistics plus one counter per reason a frame or datagram is dropped.

/** Traffic counters with n2n's meaning (edge_management.c: packetstats). */
export class EdgeTraffic {
  /** PACKETs sent to / received from peers directly. */
  txP2p = 0;
  rxP2p = 0;
  /** PACKETs sent to / received from a supernode (relayed). */
  txSup = 0;
  rxSup = 0;
  /** Broadcast/multicast PACKETs among txSup / rxSup. */
  txSupBroadcast = 0;
  rxSupBroadcast = 0;
  /** Datagram bytes of those PACKETs (headers included), by path. */
  txP2pBytes = 0;
  rxP2pBytes = 0;
  txSupBytes = 0;
  rxSupBytes = 0;
  /** Frames encrypted / decrypted by the payload transform. */
  transopTx = 0;
  transopRx = 0;
  /** TCP SYN / SYN-ACK frames whose MSS option was lowered, TAP → network / network → TAP (--mss-clamp, tsn2n only). */
  mssClampTx = 0;
  mssClampRx = 0;
  /** Among rxP2p / rxP2pBytes: PACKETs the native fast path delivered without JS (edge/fastpath.ts, tsn2n only). */
  fastRx = 0;
  fastRxBytes = 0;
  /** Among txP2p / txP2pBytes: PACKETs the native fast path sent without JS. */
  fastTx = 0;
  fastTxBytes = 0;
}

/** Why frames from the TAP device or datagrams from the network were dropped; every path increments one. */
export class EdgeDrops {
  // ---- TAP → network
  /** Frame shorter than an Ethernet header. */
  txShort = 0;
  /** Ethernet multicast without -E. */
  txMulticast = 0;
  /** Not registered with a supernode yet (spec §12.1). */
  txNotRegistered = 0;
  /** IPv4 frame whose source is not our address, without -r. */
  txRouted = 0;
  /** Dropped by a -R rule. */
  txFiltered = 0;
  /** The payload transform refused the frame (too large). */
  txTransform = 0;
  /** No usable destination (supernode not resolved yet, no socket). */
  txNoRoute = 0;
  /** The kernel refused a batched send (send buffer full, network unreachable). */
  txSocket = 0;
  // ---- network → TAP and control
  /** Datagram shorter than the common header. */
  rxShort = 0;
  /** Header decryption failed with every key (-H). */
  rxHeaderCrypto = 0;
  /** User/password mode: a message other than REGISTER_SUPER_ACK/NAK decrypted only with the static key. */
  rxStaticKey = 0;
  /** The message did not decode (version, type, truncation, bad length). */
  rxDecode = 0;
  /** FROM_SUPERNODE set but the sender is not one of our supernodes. */
  rxUnknownSupernode = 0;
  /** Another community. */
  rxCommunity = 0;
  /** Time stamp outside the window or replayed (-H). */
  rxStamp = 0;
  /** A PACKET before we are registered. */
  rxNotRegistered = 0;
  /** PACKET with another transform id than ours. */
  rxTransform = 0;
  /** Payload decryption failed. */
  rxPayloadCrypto = 0;
  /** Unknown compression id, or decompression failed. */
  rxCompression = 0;
  /** Ethernet multicast without -E. */
  rxMulticast = 0;
  /** IPv4 frame not addressed to us, without -r. */
  rxRouted = 0;
  /** Dropped by a -R rule. */
  rxFiltered = 0;
  /** The TAP device refused the frame (queue full, closed). */
  rxTapWrite = 0;
  /** REGISTER_SUPER_ACK/NAK while no registration is outstanding. */
  rxUnexpected = 0;
  /** REGISTER_SUPER_ACK/NAK whose cookie is not the last one we sent. */
  rxCookie = 0;
  /** User/password trailer or challenge answer wrong. */
  rxAuth = 0;
  /** A new peer refused because its table holds MAX_PEERS already (forged REGISTERs/PACKETs from random MACs). */
  peersFull = 0;
  /** A new peer refused because more than NEW_PEER_BURST arrived at once (constants.ts): a flood of forged MACs. */
  peersRate = 0;
  /** Message types an edge ignores (REGISTER_SUPER, QUERY_PEER, …) or REGISTERs not for us. */
  rxIgnored = 0;
}
