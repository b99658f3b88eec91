// The local side: the TAP device and our overlay address (-a static, assigned by the supernode, DHCP), the -e socket, -n routes, closing.
import { numberToIpv4 } from '../util/ip.js';
import { LogLevel } from '../util/log.js';
import { macToString, readMac } from '../util/mac.js';
import type { EdgeContext } from './context.js';
import type { RouteCleanup } from './deps.js';
import { AddressMode } from './options.js';

export class Device {
  private routeCleanup: RouteCleanup | undefined;

  constructor(private readonly ctx: EdgeContext) {}

  /** `-e`: the preferred socket's address (fixed or auto-detected towards the current supernode) and our port. */
  async detectPreferred(): Promise<void> {
    const ctx = this.ctx;
    const pref = ctx.config.preferredAddress;
    if (pref === undefined) return;
    let address = typeof pref === 'number' ? numberToIpv4(pref) : '0.0.0.0';
    if (pref === 'auto') {
      const to = ctx.supernodes.cur.addr;
      const detected = to && ctx.deps.localAddressFor ? await ctx.deps.localAddressFor(to) : undefined;
      if (detected) address = detected;
      else ctx.log(LogLevel.WARNING, '-e auto: could not detect the local address');
    }
    ctx.preferred = { family: address.includes(':') ? 6 : 4, address, port: ctx.udp!.local.port };
  }

  /**
   * Opens the TAP device with our MAC (-m, else a random locally administered one) and address: -a's, the one
   * the supernode assigned (`assignedAddr`/`assignedBits`), or none for DHCP; then installs the -n routes.
   */
  async openTap(assignedAddr: number, assignedBits: number): Promise<void> {
    const ctx = this.ctx;
    const c = ctx.config;
    let mac = c.mac;
    if (mac === undefined) {
      const b = new Uint8Array(6);
      ctx.random.fill(b);
      // Unicast, locally administered.
      b[0] = (b[0] & 0xfe) | 0x02;
      mac = readMac(b, 0);
    }
    let addr = 0;
    let bits = 0;
    if (c.addressMode === AddressMode.STATIC) {
      addr = c.address;
      bits = c.prefixBits;
    } else if (c.addressMode === AddressMode.SUPERNODE) {
      addr = assignedAddr;
      bits = assignedBits;
    }
    const tap = await ctx.deps.openTap({ name: c.device, mac, mtu: c.mtu, addr, bitlen: bits });
    ctx.tap = tap;
    ctx.ownMac = tap.info.mac || mac;
    ctx.devAddr = tap.info.addr || addr;
    ctx.devBits = tap.info.bitlen || bits;
    if (c.addressMode === AddressMode.DHCP) this.refreshDhcpAddress();
    ctx.log(
      LogLevel.NORMAL,
      `created local tap device IP: ${numberToIpv4(ctx.devAddr)}/${ctx.devBits}, MAC: ${macToString(ctx.ownMac)}`,
    );
    if (c.routes.length > 0) {
      if (!ctx.deps.addRoutes) throw new Error('-n: routes cannot be installed (no route support)');
      this.routeCleanup = await ctx.deps.addRoutes(c.routes, tap, ctx.supernodes.cur.addr);
    }
  }

  /** DHCP mode (-a dhcp:…): the address is whatever the TAP device has now (timers.ts re-reads it). */
  refreshDhcpAddress(): void {
    const ctx = this.ctx;
    if (!ctx.tap || !ctx.deps.readTapAddress) return;
    const a = ctx.deps.readTapAddress(ctx.tap);
    if (a && (a.addr !== ctx.devAddr || a.bitlen !== ctx.devBits)) {
      ctx.log(LogLevel.NORMAL, `TAP address is now ${numberToIpv4(a.addr)}/${a.bitlen}`);
      ctx.devAddr = a.addr;
      ctx.devBits = a.bitlen;
    }
  }

  /** Removes the routes and closes the TAP device and both sockets. */
  async teardown(): Promise<void> {
    const ctx = this.ctx;
    const cleanup = this.routeCleanup;
    this.routeCleanup = undefined;
    if (cleanup) {
      try {
        await cleanup();
      } catch (err) {
        ctx.log(LogLevel.WARNING, `route cleanup failed: ${(err as Error).message}`);
      }
    }
    ctx.tap?.close();
    ctx.udp?.close();
    ctx.mcast?.close();
    ctx.tap = undefined;
    ctx.udp = undefined;
    ctx.mcast = undefined;
  }
}
