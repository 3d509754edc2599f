// Typed bindings to libbpf.so.1 (Debian libbpf1) through koffi. This is the only file that
// declares libbpf's C signatures; everything above it deals in the wrappers below.
// libbpf 1.x convention: calls returning a pointer give NULL and set errno; calls returning an
// int give a negative errno. Both become a BpfError here.
import koffi from 'koffi';
import { BpfError } from './bpf-error.js';

const lib = koffi.load('libbpf.so.1');

koffi.opaque('bpf_object');
koffi.opaque('bpf_map');
koffi.opaque('bpf_program');
koffi.opaque('bpf_link');

const c = {
  objectOpenFile: lib.func('bpf_object *bpf_object__open_file(const char *path, void *opts)'),
  objectLoad: lib.func('int bpf_object__load(bpf_object *obj)'),
  objectClose: lib.func('void bpf_object__close(bpf_object *obj)'),
  objectNextMap: lib.func('bpf_map *bpf_object__next_map(bpf_object *obj, bpf_map *prev)'),
  objectFindProgram: lib.func('bpf_program *bpf_object__find_program_by_name(bpf_object *obj, const char *name)'),
  mapName: lib.func('const char *bpf_map__name(bpf_map *map)'),
  mapFd: lib.func('int bpf_map__fd(bpf_map *map)'),
  mapType: lib.func('int bpf_map__type(bpf_map *map)'),
  mapKeySize: lib.func('uint32_t bpf_map__key_size(bpf_map *map)'),
  mapValueSize: lib.func('uint32_t bpf_map__value_size(bpf_map *map)'),
  mapMaxEntries: lib.func('uint32_t bpf_map__max_entries(bpf_map *map)'),
  mapFlags: lib.func('uint32_t bpf_map__map_flags(bpf_map *map)'),
  mapSetPinPath: lib.func('int bpf_map__set_pin_path(bpf_map *map, const char *path)'),
  mapInitialValue: lib.func('void *bpf_map__initial_value(bpf_map *map, _Out_ size_t *psize)'),
  programAttachCgroup: lib.func('bpf_link *bpf_program__attach_cgroup(bpf_program *prog, int cgroup_fd)'),
  linkPin: lib.func('int bpf_link__pin(bpf_link *link, const char *path)'),
  linkUnpin: lib.func('int bpf_link__unpin(bpf_link *link)'),
  linkOpen: lib.func('bpf_link *bpf_link__open(const char *path)'),
  linkDetach: lib.func('int bpf_link__detach(bpf_link *link)'),
  linkDestroy: lib.func('int bpf_link__destroy(bpf_link *link)'),
  linkUpdateProgram: lib.func('int bpf_link__update_program(bpf_link *link, bpf_program *prog)'),
  linkFd: lib.func('int bpf_link__fd(bpf_link *link)'),
  mapLookupElem: lib.func('int bpf_map_lookup_elem(int fd, const void *key, _Out_ void *value)'),
  mapUpdateElem: lib.func('int bpf_map_update_elem(int fd, const void *key, const void *value, uint64_t flags)'),
  mapDeleteElem: lib.func('int bpf_map_delete_elem(int fd, const void *key)'),
  mapGetNextKey: lib.func('int bpf_map_get_next_key(int fd, const void *key, _Out_ void *next_key)'),
  objGet: lib.func('int bpf_obj_get(const char *pathname)'),
  numPossibleCpus: lib.func('int libbpf_num_possible_cpus(void)'),
};

/** Opaque libbpf handles, as koffi hands them out. */
export type BpfObjectPtr = { readonly __brand: 'bpf_object' };
export type BpfMapPtr = { readonly __brand: 'bpf_map' };
export type BpfProgramPtr = { readonly __brand: 'bpf_program' };
export type BpfLinkPtr = { readonly __brand: 'bpf_link' };

function pointerOrThrow<T>(call: string, ptr: unknown, detail?: string): T {
  if (ptr === null) throw new BpfError(call, koffi.errno(), detail);
  return ptr as T;
}

function intOrThrow(call: string, rc: number, detail?: string): number {
  if (rc < 0) throw new BpfError(call, -rc, detail);
  return rc;
}

export function openObject(path: string): BpfObjectPtr {
  return pointerOrThrow('bpf_object__open_file', c.objectOpenFile(path, null), path);
}

export function loadObject(obj: BpfObjectPtr, detail: string): void {
  intOrThrow('bpf_object__load', c.objectLoad(obj), detail);
}

export function closeObject(obj: BpfObjectPtr): void {
  c.objectClose(obj);
}

/** Every map of an object, including the `.rodata` map that holds load-time constants. */
export function objectMaps(obj: BpfObjectPtr): { name: string; map: BpfMapPtr }[] {
  const maps: { name: string; map: BpfMapPtr }[] = [];
  for (let map = c.objectNextMap(obj, null); map !== null; map = c.objectNextMap(obj, map)) {
    maps.push({ name: c.mapName(map) as string, map: map as BpfMapPtr });
  }
  return maps;
}

export function findProgram(obj: BpfObjectPtr, name: string): BpfProgramPtr {
  return pointerOrThrow('bpf_object__find_program_by_name', c.objectFindProgram(obj, name), name);
}

export function mapFd(map: BpfMapPtr): number {
  return intOrThrow('bpf_map__fd', c.mapFd(map));
}

/** What a pinned map must match to be reused by a newly loaded object (libbpf's compat check). */
export interface MapLayout {
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
}

/** The definition of an opened (not necessarily loaded) map. */
export function mapLayout(map: BpfMapPtr): MapLayout {
  return {
    type: c.mapType(map) as number,
    keySize: c.mapKeySize(map) as number,
    valueSize: c.mapValueSize(map) as number,
    maxEntries: c.mapMaxEntries(map) as number,
    flags: c.mapFlags(map) as number,
  };
}

export function setMapPinPath(map: BpfMapPtr, path: string): void {
  intOrThrow('bpf_map__set_pin_path', c.mapSetPinPath(map, path), path);
}

/**
 * Overwrites a map's initial value (before load). Used for `.rodata`: the bytes are the
 * object's `volatile const` variables, laid out as the object's BTF says.
 */
export function writeInitialValue(map: BpfMapPtr, offset: number, bytes: Uint8Array): void {
  const size = [0];
  const ptr = c.mapInitialValue(map, size);
  if (ptr === null) throw new BpfError('bpf_map__initial_value', koffi.errno());
  if (offset + bytes.length > size[0]!) {
    throw new BpfError('bpf_map__initial_value', 22, `write of ${bytes.length} at ${offset} past ${size[0]}`);
  }
  const view = koffi.view(ptr, size[0]!) as ArrayBuffer;
  new Uint8Array(view).set(bytes, offset);
}

export function attachCgroup(prog: BpfProgramPtr, cgroupFd: number, detail: string): BpfLinkPtr {
  return pointerOrThrow('bpf_program__attach_cgroup', c.programAttachCgroup(prog, cgroupFd), detail);
}

export function pinLink(link: BpfLinkPtr, path: string): void {
  intOrThrow('bpf_link__pin', c.linkPin(link, path), path);
}

export function unpinLink(link: BpfLinkPtr): void {
  intOrThrow('bpf_link__unpin', c.linkUnpin(link));
}

export function openPinnedLink(path: string): BpfLinkPtr {
  return pointerOrThrow('bpf_link__open', c.linkOpen(path), path);
}

export function detachLink(link: BpfLinkPtr): void {
  intOrThrow('bpf_link__detach', c.linkDetach(link));
}

/** Frees the handle; an unpinned, still-attached link goes away with its last reference. */
export function destroyLink(link: BpfLinkPtr): void {
  c.linkDestroy(link);
}

export function updateLinkProgram(link: BpfLinkPtr, prog: BpfProgramPtr): void {
  intOrThrow('bpf_link__update_program', c.linkUpdateProgram(link, prog));
}

export function linkFd(link: BpfLinkPtr): number {
  return intOrThrow('bpf_link__fd', c.linkFd(link));
}

/** Looks a key up; returns false when the map has no such key (ENOENT). */
export function mapLookup(fd: number, key: Uint8Array, value: Uint8Array): boolean {
  const rc = c.mapLookupElem(fd, key, value) as number;
  if (rc === 0) return true;
  if (-rc === 2 /* ENOENT */) return false;
  throw new BpfError('bpf_map_lookup_elem', -rc);
}

export function mapUpdate(fd: number, key: Uint8Array, value: Uint8Array, flags = 0): void {
  intOrThrow('bpf_map_update_elem', c.mapUpdateElem(fd, key, value, flags));
}

/** Deletes a key; returns false when it was not there. */
export function mapDelete(fd: number, key: Uint8Array): boolean {
  const rc = c.mapDeleteElem(fd, key) as number;
  if (rc === 0) return true;
  if (-rc === 2) return false;
  throw new BpfError('bpf_map_delete_elem', -rc);
}

/** The key after `key` (or the first key when `key` is null); false at the end. */
export function mapNextKey(fd: number, key: Uint8Array | null, next: Uint8Array): boolean {
  const rc = c.mapGetNextKey(fd, key, next) as number;
  if (rc === 0) return true;
  if (-rc === 2) return false;
  throw new BpfError('bpf_map_get_next_key', -rc);
}

/** Opens a pinned object (map, program or link) by its bpffs path and returns its fd. */
export function openPinned(path: string): number {
  return intOrThrow('bpf_obj_get', c.objGet(path), path);
}

/** Possible CPUs: per-CPU map values hold one slot for each. */
export function possibleCpus(): number {
  return intOrThrow('libbpf_num_possible_cpus', c.numPossibleCpus());
}
