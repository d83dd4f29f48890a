// Finds kube-apiserver, etcd, kubectl and helm for tests: KUBEBUILDER_ASSETS first, then the
// per-version cache that `make tools` (scripts/build-tools.sh) fills.
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export type ToolName = 'kube-apiserver' | 'etcd' | 'kubectl' | 'helm';

/** Which version variable of build-tools.sh pins each tool. */
const VERSION_VARIABLE: Record<ToolName, string> = {
  'kube-apiserver': 'KUBE_VERSION',
  kubectl: 'KUBE_VERSION',
  etcd: 'ETCD_VERSION',
  helm: 'HELM_VERSION',
};

/** The tools KUBEBUILDER_ASSETS may provide (envtest's set); helm always comes from the cache. */
const ASSET_TOOLS: ReadonlySet<ToolName> = new Set(['kube-apiserver', 'etcd', 'kubectl']);

const BUILD_SCRIPT = 'scripts/build-tools.sh';

/** The checkout's root folder (the one holding scripts/build-tools.sh). */
export function repoRoot(): string {
  // Walk up from here: this file runs as test/harness/tools.ts (tsx) and test/dist/harness/tools.js.
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, BUILD_SCRIPT))) {
    const up = dirname(dir);
    if (up === dir) throw new Error(`${BUILD_SCRIPT} not found above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
  return dir;
}

/**
 * The version build-tools.sh builds: the same environment override it honours, else its default.
 * Read from the script itself so the pins live in one place.
 */
export function toolVersion(name: ToolName, env: NodeJS.ProcessEnv = process.env): string {
  const variable = VERSION_VARIABLE[name];
  const override = env[variable];
  if (override) return override;
  const script = readFileSync(join(repoRoot(), BUILD_SCRIPT), 'utf8');
  const m = new RegExp(`^${variable}=\\$\\{${variable}:-([^}]+)\\}`, 'm').exec(script);
  if (!m?.[1]) throw new Error(`${BUILD_SCRIPT} does not pin ${variable}`);
  return m[1];
}

/** The cache folder build-tools.sh writes to. */
export function toolsDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.CHAPERONE_TOOLS_DIR) return env.CHAPERONE_TOOLS_DIR;
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'chaperone', 'tools');
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Absolute path of an executable tool; throws saying to run `make tools` when there is none. */
export function toolPath(name: ToolName, env: NodeJS.ProcessEnv = process.env): string {
  const candidates: string[] = [];
  const assets = env.KUBEBUILDER_ASSETS;
  if (assets && ASSET_TOOLS.has(name)) candidates.push(join(assets, name));
  candidates.push(join(toolsDir(env), `${name}-${toolVersion(name, env)}`, name));
  const found = candidates.find(isExecutable);
  if (!found) throw new Error(`${name} not found (looked in ${candidates.join(', ')}): run \`make tools\``);
  return found;
}
