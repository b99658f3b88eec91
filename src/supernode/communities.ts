// The community table: every community (the federation first), the `-c` patterns, and the header-key trial order.
import { staticHeaderKeys } from '../transform/header.js';
import { LogLevel } from '../util/log.js';
import { communityBytes, communityMatches, communityName } from '../wire/common.js';
import { COMMON_HEADER_BYTES } from '../wire/types.js';
import { assignCommunitySubnet } from './autoip.js';
import { Community, HeState, keyId, type SnUser } from './community.js';
import type { CommunityList, CommunityUser } from './community-list.js';
import type { SnContext } from './context.js';
import { federationField } from './options.js';
import type { CommunityPattern } from './regex.js';

/**
 * Owns the Community records (their edges and associations are filled by registry.ts and federation.ts) and
 * the lookups receive.ts does on every datagram. sn_utils.c keeps the same in sss->communities (a uthash whose
 * insertion order this Map's order mirrors) and sss->federation.
 */
export class CommunityTable {
  /** The federation, a community named '*<name>' whose "edges" are the other supernodes. */
  readonly federation: Community;
  /**
   * Communities whose keys are tried on encrypted datagrams, busiest first (sn_utils.c: sort_communities).
   * receive.ts walks it; a community locked to plaintext headers leaves it.
   */
  readonly heOrder: Community[] = [];
  /** True when a `-c` file restricts the communities. */
  locked = false;
  private readonly ctx: SnContext;
  /** All communities, the federation first (uthash insertion order in C). */
  private readonly communities = new Map<string, Community>();
  private patterns: CommunityPattern[] = [];
  /** One-entry cache of the last plaintext datagram's community (most traffic is one community at a time). */
  private lastPlain: Community | undefined;

  constructor(ctx: SnContext) {
    this.ctx = ctx;
    const { config } = ctx;
    // The federation: header keys from federationKeyName (the -F quirk, spec §9.3); the field, which the
    // checksum and the dynamic key cover, holds the -F name printed over the key name, as in C.
    const fed = new Community(
      config.federationName,
      federationField(config.federationKeyName, config.federationName),
      { federation: true, purgeable: false, he: HeState.ENABLED },
    );
    fed.staticKeys = staticHeaderKeys(communityBytes(config.federationKeyName), ctx.deps.headerBackend);
    fed.dynamicKeys = fed.staticKeys;
    this.federation = fed;
    this.communities.set(fed.name, fed);
    this.heOrder.push(fed);
  }

  /** Communities besides the federation. */
  get count(): number {
    return this.communities.size - 1;
  }

  /** All communities in management order, the federation first. */
  list(): Community[] {
    return [...this.communities.values()];
  }

  values(): IterableIterator<Community> {
    return this.communities.values();
  }

  patternList(): string[] {
    return this.patterns.map((p) => p.source);
  }

  /** sn_utils.c: a community not in the file may still be created when one of its patterns matches. */
  allows(name: string): boolean {
    return this.patterns.some((p) => p.matchesWhole(name));
  }

  /** The load figure sent in PONGs (sn_selection.c: sn_selection_criterion_gather_data). */
  load(): number {
    let n = 0;
    for (const c of this.communities.values()) n += (c.edges.size + 1) * (c.he === HeState.ENABLED ? 2 : 1);
    return n;
  }

  /** The community named by a plaintext header (C-string lookup), with a one-entry cache. */
  plain(b: Uint8Array, off = 0): Community | undefined {
    const last = this.lastPlain;
    if (last !== undefined && communityMatches(b, off, last.field)) return last;
    const c = this.communities.get(communityName(b.subarray(off + 4, off + COMMON_HEADER_BYTES)));
    if (c !== undefined && !c.isFederation) this.lastPlain = c;
    return c;
  }

  /** A community seen with a plaintext header is locked to it: its keys are no longer tried. */
  lockPlaintext(comm: Community): void {
    comm.he = HeState.NONE;
    const i = this.heOrder.indexOf(comm);
    if (i >= 0) this.heOrder.splice(i, 1);
  }

  /** Stores a community created by a registration (registry.ts, once the registration succeeded). */
  add(comm: Community): void {
    if (this.communities.has(comm.name)) return;
    this.communities.set(comm.name, comm);
    if (this.ctx.logger.level >= LogLevel.INFO) this.ctx.log(LogLevel.INFO, `new community: ${comm.name}`);
  }

  /** Forgets a community (registry.ts keeps the edge and association totals right before calling this). */
  remove(comm: Community): void {
    this.communities.delete(comm.name);
    const i = this.heOrder.indexOf(comm);
    if (i >= 0) this.heOrder.splice(i, 1);
    if (this.lastPlain === comm) this.lastPlain = undefined;
  }

  /** sn_utils.c: sort_communities — busiest encrypted communities are tried first. */
  sort(): void {
    this.heOrder.sort((a, b) => b.encPackets - a.encPackets);
    for (const c of this.communities.values()) c.encPackets = 0;
  }

  /** Empties the pattern list while a community file is reloaded (nothing matches until it is read). */
  clearPatterns(): void {
    this.patterns = [];
  }

  /**
   * sn_utils.c: load_allowed_sn_community, the table half — the file's communities with their users (a user
   * whose key is unusable is left out and logged) and subnets (listed, or assigned like a created one).
   * The caller removed the old communities first.
   */
  loadList(list: CommunityList, path: string, makeUser: (u: CommunityUser) => SnUser): void {
    const { ctx } = this;
    for (const w of list.warnings) ctx.log(LogLevel.WARNING, `community file ${path}: ${w}`);
    this.patterns = list.patterns;
    for (const entry of list.communities) {
      const field = communityBytes(entry.name);
      const comm = new Community(entry.name, field, { purgeable: false, he: HeState.UNKNOWN });
      comm.staticKeys = staticHeaderKeys(field, ctx.deps.headerBackend);
      comm.dynamicKeys = comm.staticKeys;
      for (const u of entry.users) {
        try {
          comm.users.set(keyId(u.publicKey), makeUser(u));
        } catch (e) {
          ctx.log(LogLevel.WARNING, `community '${entry.name}', user '${u.name}': ${(e as Error).message}`);
        }
      }
      if (comm.hasUsers) comm.he = HeState.ENABLED;
      this.communities.set(comm.name, comm);
      this.heOrder.push(comm);
      if (entry.subnet) {
        comm.netAddr = entry.subnet.addr;
        comm.netBits = entry.subnet.bitlen;
      } else {
        assignCommunitySubnet(comm, this.communities.values(), ctx.config.autoIp);
      }
    }
  }

  /** After a successful load: only the file's communities and patterns are allowed from now on. */
  lock(): void {
    this.locked = true;
    this.lastPlain = undefined;
  }
}
