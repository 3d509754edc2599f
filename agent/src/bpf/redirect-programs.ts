// Loads Weft's redirection programs for one node and attaches them to pod cgroups.
// Maps are pinned under <pinDir>/maps/<layout>/ and shared by the objects (libbpf reuses a
// pinned map of the same name), so their contents survive an agent restart. <layout> names the
// maps' definitions (type, key and value size, entries, flags): libbpf refuses to reuse a
// pinned map whose definition changed, so a build that changes one pins a fresh set beside the
// old one instead of failing to load; its links then move to the new programs one pod at a
// time (atomically each), and the old set is removed once no link uses it
// (removeStaleMapPins). Links are pinned under <pinDir>/links/<owner>/ so redirection keeps
// working while the agent is down.
import { createHash } from 'node:crypto';
import { openSync, closeSync, mkdirSync, readdirSync, rmSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import * as libbpf from '../../../native/src/libbpf.js';
import { BpfError } from '../../../native/src/bpf-error.js';
import { configCodec, proxyControlCodec, type WeftConfig } from './abi.js';

/**
 * The hook programs, by object file and program name (`weft_<hook>_<verb>`). `strict` ones are
 * attached only to pods of namespaces in strict mTLS mode.
 */
export const REDIRECT_PROGRAMS = [
  { object: 'connect4.bpf.o', program: 'weft_connect4_redirect', strictOnly: false },
  { object: 'sockops.bpf.o', program: 'weft_sockops_track', strictOnly: false },
  { object: 'getpeername4.bpf.o', program: 'weft_getpeername4_restore', strictOnly: false },
  { object: 'egress.bpf.o', program: 'weft_egress_hold', strictOnly: false },
  { object: 'ingress.bpf.o', program: 'weft_ingress_strict', strictOnly: true },
] as const;

export const MAP_NAMES = ['weft_svc', 'weft_pod_cidr', 'weft_cookie_dst', 'weft_peer_dst', 'weft_strict_cnt', 'weft_proxy_ctl', 'weft_authz_src', 'weft_authz_deny', 'weft_authz_cnt', 'weft_plain_pod', 'weft_plain_allow'] as const;

export interface AttachOptions {
  /** Strict mTLS: also refuse inbound connections that do not come through this node. */
  strict: boolean;
}
export type MapName = (typeof MAP_NAMES)[number];

export interface RedirectProgramsOptions {
  /** Directory holding the compiled objects (bpf/build). */
  objectDir: string;
  /** This node's bpffs directory, e.g. /sys/fs/bpf/weft. */
  pinDir: string;
  config: WeftConfig;
}

interface LoadedObject {
  obj: libbpf.BpfObjectPtr;
  program: libbpf.BpfProgramPtr;
  programName: string;
  strictOnly: boolean;
}

export class RedirectPrograms {
  private readonly objects: LoadedObject[];
  /** File descriptors of the shared maps, owned by the loaded objects. */
  readonly mapFds: Readonly<Record<MapName, number>>;
  private closed = false;

  private constructor(
    private readonly pinDir: string,
    /** The directory name of this build's map pins under <pinDir>/maps/. */
    readonly mapLayout: string,
    objects: LoadedObject[],
    mapFds: Record<MapName, number>,
  ) {
    this.objects = objects;
    this.mapFds = mapFds;
  }

  static load(options: RedirectProgramsOptions): RedirectPrograms {
    const config = configCodec.encode(options.config);
    const objects: LoadedObject[] = [];
    const mapFds: Partial<Record<MapName, number>> = {};
    let mapLayout: string;
    try {
      // Two phases: open every object to learn the maps' definitions, then load against the
      // pins of exactly that layout.
      const paths: string[] = [];
      for (const { object, program, strictOnly } of REDIRECT_PROGRAMS) {
        const path = join(options.objectDir, object);
        paths.push(path);
        objects.push({ obj: libbpf.openObject(path), program: null as unknown as libbpf.BpfProgramPtr, programName: program, strictOnly });
      }
      mapLayout = mapLayoutName(objects.map(({ obj }) => obj));
      const mapsDir = join(options.pinDir, 'maps', mapLayout);
      mkdirSync(mapsDir, { recursive: true });
      mkdirSync(join(options.pinDir, 'links'), { recursive: true });
      objects.forEach((loaded, index) => {
        for (const { name, map } of libbpf.objectMaps(loaded.obj)) {
          if (name.endsWith('.rodata')) libbpf.writeInitialValue(map, 0, config);
          else libbpf.setMapPinPath(map, join(mapsDir, name));
        }
        libbpf.loadObject(loaded.obj, paths[index]!);
        loaded.program = libbpf.findProgram(loaded.obj, loaded.programName);
        for (const { name, map } of libbpf.objectMaps(loaded.obj)) {
          if ((MAP_NAMES as readonly string[]).includes(name)) mapFds[name as MapName] ??= libbpf.mapFd(map);
        }
      });
    } catch (err) {
      for (const { obj } of objects) libbpf.closeObject(obj);
      throw err;
    }
    for (const name of MAP_NAMES) {
      if (mapFds[name] === undefined) throw new BpfError('bpf_object__load', 2, `map ${name} missing from objects`);
    }
    return new RedirectPrograms(options.pinDir, mapLayout, objects, mapFds as Record<MapName, number>);
  }

  /**
   * Removes the map pins of other layouts (an older build's, or the unversioned pins of
   * releases before layouts existed). Call it once every link has been moved to these
   * programs: a program still attached somewhere keeps its maps alive regardless, but the old
   * pins would no longer be updated. Returns what was removed.
   */
  removeStaleMapPins(): string[] {
    const mapsDir = join(this.pinDir, 'maps');
    const removed: string[] = [];
    for (const entry of existsSync(mapsDir) ? readdirSync(mapsDir) : []) {
      if (entry === this.mapLayout) continue;
      rmSync(join(mapsDir, entry), { recursive: true, force: true });
      removed.push(entry);
    }
    return removed;
  }

  private linkDir(owner: string): string {
    if (!/^[A-Za-z0-9_.-]+$/.test(owner)) throw new RangeError(`bad link owner name: ${owner}`);
    return join(this.pinDir, 'links', owner);
  }

  /** Owners (e.g. pod UIDs) that have pinned links on this node. */
  attachedOwners(): string[] {
    const dir = join(this.pinDir, 'links');
    return existsSync(dir) ? readdirSync(dir) : [];
  }

  /**
   * Attaches the programs to a cgroup and pins the links under links/<owner>/. Links already
   * pinned there are moved to the programs loaded now (atomic swap), so calling this again
   * after an agent restart neither duplicates attachments nor leaves a gap. A strict-only
   * program that is no longer wanted is detached.
   */
  attach(owner: string, cgroupPath: string, options: AttachOptions = { strict: false }): void {
    const dir = this.linkDir(owner);
    mkdirSync(dir, { recursive: true });
    const cgroupFd = openSync(cgroupPath, 'r');
    try {
      for (const { program, programName, strictOnly } of this.objects) {
        const pin = join(dir, programName);
        if (strictOnly && !options.strict) {
          if (existsSync(pin)) detachPinned(pin);
          continue;
        }
        if (existsSync(pin)) {
          const link = libbpf.openPinnedLink(pin);
          try {
            libbpf.updateLinkProgram(link, program);
          } finally {
            libbpf.destroyLink(link);
          }
          continue;
        }
        const link = libbpf.attachCgroup(program, cgroupFd, `${programName} -> ${cgroupPath}`);
        try {
          libbpf.pinLink(link, pin);
        } finally {
          libbpf.destroyLink(link); // the pin keeps the attachment alive
        }
      }
    } finally {
      closeSync(cgroupFd);
    }
  }

  /** Detaches and unpins every link of an owner. Missing links are fine (already gone). */
  detach(owner: string): void {
    const dir = this.linkDir(owner);
    if (!existsSync(dir)) return;
    for (const name of readdirSync(dir)) detachPinned(join(dir, name));
    rmSync(dir, { recursive: true, force: true });
  }

  /** Inbound connections refused in strict mode since the maps were created (all CPUs). */
  strictDrops(): bigint {
    const cpus = libbpf.possibleCpus();
    const values = new Uint8Array(8 * cpus);
    if (!libbpf.mapLookup(this.mapFds.weft_strict_cnt, new Uint8Array(4), values)) return 0n;
    const view = new DataView(values.buffer);
    let total = 0n;
    for (let cpu = 0; cpu < cpus; cpu++) total += view.getBigUint64(cpu * 8, true);
    return total;
  }

  /** Connects refused at connect() per policy index since the maps were created (all CPUs). */
  authzConnectDenials(indexes: Iterable<number>): Map<number, bigint> {
    const cpus = libbpf.possibleCpus();
    const values = new Uint8Array(8 * cpus);
    const key = new Uint8Array(4);
    const totals = new Map<number, bigint>();
    for (const index of indexes) {
      new DataView(key.buffer).setUint32(0, index, true);
      if (!libbpf.mapLookup(this.mapFds.weft_authz_cnt, key, values)) continue;
      const view = new DataView(values.buffer);
      let total = 0n;
      for (let cpu = 0; cpu < cpus; cpu++) total += view.getBigUint64(cpu * 8, true);
      totals.set(index, total);
    }
    return totals;
  }

  /**
   * Holds (true) or lets through (false) the enrolled pods' new connections to the proxy: held
   * while no agent of this node listens, so connects wait for the next agent instead of being
   * refused (bpf/include/weft_hold.h).
   */
  holdProxySyns(hold: boolean): void {
    libbpf.mapUpdate(this.mapFds.weft_proxy_ctl, new Uint8Array(4), proxyControlCodec.encode({ holdSyns: hold }));
  }

  /** Whether new connections to the proxy are held now. */
  proxySynsHeld(): boolean {
    const value = new Uint8Array(proxyControlCodec.size);
    return libbpf.mapLookup(this.mapFds.weft_proxy_ctl, new Uint8Array(4), value) && proxyControlCodec.decode(value).holdSyns;
  }

  /** Releases this process's handles; pinned maps and links stay in place. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const { obj } of this.objects) libbpf.closeObject(obj);
  }

  /** Removes everything this node pinned: links (detaching them) and maps. */
  static removeAll(pinDir: string): void {
    const linksDir = join(pinDir, 'links');
    if (existsSync(linksDir)) {
      for (const owner of readdirSync(linksDir)) {
        for (const name of readdirSync(join(linksDir, owner))) {
          const link = libbpf.openPinnedLink(join(linksDir, owner, name));
          try {
            libbpf.detachLink(link);
          } finally {
            libbpf.destroyLink(link);
          }
        }
      }
    }
    rmSync(pinDir, { recursive: true, force: true });
  }
}

/**
 * `layout-<hash>` of the definitions of the shared maps. Every object includes the same map
 * headers; two objects that disagree on a map are a build error, refused here.
 */
function mapLayoutName(objects: readonly libbpf.BpfObjectPtr[]): string {
  const definitions = new Map<string, string>();
  for (const obj of objects) {
    for (const { name, map } of libbpf.objectMaps(obj)) {
      if (!(MAP_NAMES as readonly string[]).includes(name)) continue;
      const layout = libbpf.mapLayout(map);
      const definition = `${name} type=${layout.type} key=${layout.keySize} value=${layout.valueSize} entries=${layout.maxEntries} flags=${layout.flags}`;
      const seen = definitions.get(name);
      if (seen !== undefined && seen !== definition) {
        throw new BpfError('bpf_object__open_file', 22, `objects disagree on map ${name}: "${seen}" vs "${definition}"`);
      }
      definitions.set(name, definition);
    }
  }
  const text = [...definitions.values()].sort().join('\n');
  return `layout-${createHash('sha256').update(text).digest('hex').slice(0, 16)}`;
}

function detachPinned(pin: string): void {
  const link = libbpf.openPinnedLink(pin);
  try {
    libbpf.detachLink(link);
    libbpf.unpinLink(link);
  } finally {
    libbpf.destroyLink(link);
  }
}
