/**
 * Fake sysfs trees for tests (node_exporter's buildFakeSysfs): a path → content map is written
 * into a fresh tmp dir. Names with `:` (`intel-rapl:0`) live inside the JSON, never in git paths.
 */
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** A file's content, or a symlink to a path relative to the link's folder (as sysfs class links are). */
export type SysfsEntry = string | { readonly symlink: string };

/** A fake tree: path relative to the root → entry. */
export type SysfsTree = Readonly<Record<string, SysfsEntry>>;

const FIXTURES = fileURLToPath(new URL('./fixtures/sysfs/', import.meta.url));

/** Load `test/fixtures/sysfs/<name>.json` from the source tree. */
export async function sysfsFixture(name: string): Promise<SysfsTree> {
  return JSON.parse(await readFile(join(FIXTURES, `${name}.json`), 'utf8')) as SysfsTree;
}

/** Write `tree` into a new tmp dir and return its root; remove it with `removeSysfs`. */
export async function materialiseSysfs(tree: SysfsTree): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'stroom-sysfs-'));
  for (const [path, entry] of Object.entries(tree)) {
    if (path.startsWith('/') || path.split('/').includes('..')) throw new Error(`sysfs fixture path must stay inside the root: ${path}`);
    const full = join(root, path);
    await mkdir(dirname(full), { recursive: true });
    if (typeof entry === 'string') await writeFile(full, entry);
    else await symlink(entry.symlink, full);
  }
  return root;
}

/** Remove a tree made by `materialiseSysfs`. */
export async function removeSysfs(root: string): Promise<void> {
  await rm(root, { recursive: true, force: true });
}
