// Table-driven tests of shell policy: command patterns, precedence, allow coverage, defaults,
// fail-closed rules, operations and the decision cache.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SHELL_OPERATIONS } from '../policy/types.js';
import type { ShellOperation } from '../policy/types.js';
import { compileShellPolicy, decideArgv, decideCommand, decideOperation } from './policy.js';
import type { ShellCommandDecision } from './policy.js';
import { CONNECTION, shellDocs, shellPolicy } from './test-policies.js';

interface Case { line: string; expect: Partial<ShellCommandDecision> & Pick<ShellCommandDecision, 'action'> }

function table(name: string, body: string, cases: Case[]): void {
  test(name, () => {
    const p = shellPolicy(body);
    for (const c of cases) {
      const d = decideCommand(p, c.line);
      assert.deepEqual(pick(d, Object.keys(c.expect)), c.expect, c.line);
    }
  });
}

function pick(d: object, keys: string[]): object {
  return Object.fromEntries(keys.map((k) => [k, (d as Record<string, unknown>)[k]]));
}

table('patterns: a program alone matches any arguments; arguments after it match in order for deny', `  rules:
    - { action: deny, match: { commands: [rm, "systemctl restart *", "kubectl delete *", "chmod 777 *"] } }
  default: allow`, [
  { line: 'rm', expect: { action: 'deny', rule: 'ops#0', programs: ['rm'] } },
  { line: 'rm -rf / --no-preserve-root', expect: { action: 'deny' } },
  { line: 'systemctl restart nginx', expect: { action: 'deny' } },
  { line: 'systemctl --no-block restart nginx', expect: { action: 'deny' } },
  { line: 'systemctl status nginx', expect: { action: 'allow', rule: 'default' } },
  { line: 'kubectl -n prod delete pod web-0', expect: { action: 'deny' } },
  { line: 'kubectl get pods', expect: { action: 'allow' } },
  { line: 'chmod 777 /srv', expect: { action: 'deny' } },
  { line: 'chmod 755 /srv', expect: { action: 'allow' } },
  // A dynamic argument could be anything, so a deny rule takes it as matching.
  { line: 'systemctl $VERB nginx', expect: { action: 'deny' } },
  { line: 'rmdir x', expect: { action: 'allow' } },
]);

table('patterns: allow rules match position by position; a dynamic argument only under a trailing *', `  rules:
    - { action: allow, match: { commands: [ls, "cat /etc/hostname", "systemctl status *", "journalctl -u *", "echo *"] } }
  default: deny`, [
  { line: 'ls -la /tmp', expect: { action: 'allow', rule: 'ops#0' } },
  { line: 'cat /etc/hostname', expect: { action: 'allow' } },
  { line: 'cat /etc/shadow', expect: { action: 'deny', rule: 'default', policy: 'ops' } },
  { line: 'cat /etc/hostname /etc/shadow', expect: { action: 'deny' } },
  { line: 'systemctl status nginx', expect: { action: 'allow' } },
  { line: 'systemctl status', expect: { action: 'allow' } },
  { line: 'systemctl --no-block status nginx', expect: { action: 'deny' } },
  { line: 'systemctl stop nginx', expect: { action: 'deny' } },
  { line: 'systemctl $VERB nginx', expect: { action: 'deny' } },
  { line: 'systemctl status $UNIT', expect: { action: 'allow' } },
  { line: 'journalctl -u nginx --since today', expect: { action: 'allow' } },
  // Every command of the line must be covered.
  { line: 'ls | cat /etc/hostname', expect: { action: 'allow', programs: ['ls', 'cat'] } },
  { line: 'ls; rm x', expect: { action: 'deny', programs: ['ls', 'rm'] } },
  { line: 'echo $(cat /etc/shadow)', expect: { action: 'deny' } },
  { line: 'sudo ls', expect: { action: 'deny', message: 'command "sudo" is not allowed by any rule of policy ops (default deny)' } },
  { line: '', expect: { action: 'allow', rule: 'empty', programs: [] } },
]);

table('precedence: deny over approve over allow, whatever the document order', `  rules:
    - { action: allow, match: { commands: ["*"] } }
    - { action: approve, match: { commands: ["systemctl restart *"] }, approvers: ["group:sre"], timeout: 5m }
    - { action: deny, match: { commands: [shutdown] }, message: "never" }
  default: deny`, [
  { line: 'uptime', expect: { action: 'allow', rule: 'ops#0' } },
  { line: 'systemctl restart nginx', expect: { action: 'approve', rule: 'ops#1', approvers: ['group:sre'], timeoutSeconds: 300 } },
  { line: 'systemctl restart nginx; shutdown -h now', expect: { action: 'deny', rule: 'ops#2', message: 'never' } },
  { line: 'uptime && sudo systemctl restart nginx', expect: { action: 'approve', programs: ['uptime', 'sudo', 'systemctl'] } },
  // The program pattern `*` is the rule set saying what dynamic programs get.
  { line: 'X=ls; $X', expect: { action: 'allow', rule: 'ops#0' } },
]);

table('fail closed: unparseable lines and dynamic programs are denied even under default allow', `  rules:
    - { action: deny, match: { commands: [rm] } }
  default: allow`, [
  { line: 'echo "unterminated', expect: { action: 'deny', rule: 'unparseable', policy: '' } },
  { line: '$CMD', expect: { action: 'deny', rule: 'dynamic-program', message: 'the program $CMD cannot be known before it runs and is denied' } },
  { line: 'bash', expect: { action: 'deny', rule: 'dynamic-program' } },
  { line: 'bash script.sh', expect: { action: 'allow', programs: ['bash'] } },
  { line: 'source ./env.sh', expect: { action: 'allow', programs: ['source'] } },
  { line: `sh -c ${"'sh -c \"".repeat(1)}ls${"\"'".repeat(1)}`, expect: { action: 'allow' } },
  { line: 'a'.repeat(70_000), expect: { action: 'deny', rule: 'unparseable' } },
]);

test('fail closed: nesting deeper than the bound is unparseable', () => {
  let line = 'ls';
  for (let i = 0; i < 12; i++) line = `eval '${line.replaceAll("'", "'\\''")}'`;
  const d = decideCommand(shellPolicy('  rules: []\n  default: allow'), line);
  assert.equal(d.action, 'deny');
  assert.equal(d.rule, 'unparseable');
});

test('no policy covering the connection: everything is denied', () => {
  const p = compileShellPolicy(shellDocs('  rules: []\n  default: allow'), 'other-host');
  assert.deepEqual(pick(decideCommand(p, 'ls'), ['action', 'rule']), { action: 'deny', rule: 'no-policy' });
  assert.deepEqual(pick(decideOperation(p, 'shell'), ['action', 'rule']), { action: 'deny', rule: 'no-policy' });
});

test('SQL and Kubernetes rules do not speak for shell connections', () => {
  const p = shellPolicy(`  rules:
    - { action: deny, match: { statements: [select] } }
    - { action: deny, match: { verbs: [get] } }
  default: allow`);
  assert.equal(p.rules.length, 0);
  assert.equal(decideCommand(p, 'ls').action, 'allow');
});

test('operations of a rule restrict which command lines it applies to', () => {
  const p = shellPolicy(`  rules:
    - { action: deny, match: { operations: [shell], commands: [vim] } }
    - { action: deny, match: { operations: [exec] } , name: no-exec-at-all }
  default: allow`);
  assert.equal(decideCommand(p, 'vim x', 'shell').action, 'deny');
  assert.equal(decideCommand(p, 'ls', 'shell').action, 'allow');
  assert.equal(decideCommand(p, 'ls', 'exec').rule, 'no-exec-at-all');
});

const OPERATIONS: { name: string; body: string; expect: Record<ShellOperation, string> }[] = [
  {
    name: 'default allow, no operation rules: forwarding still denied',
    body: '  rules: []\n  default: allow',
    expect: { exec: 'allow per-command', shell: 'allow default', 'file-read': 'allow default', 'file-write': 'allow default', 'port-forward': 'deny forwarding', 'agent-forward': 'deny forwarding' },
  },
  {
    name: 'default deny, command rules only: exec goes to per-command decisions',
    body: '  rules:\n    - { action: allow, match: { commands: [ls] } }\n  default: deny',
    expect: { exec: 'allow per-command', shell: 'deny default', 'file-read': 'deny default', 'file-write': 'deny default', 'port-forward': 'deny forwarding', 'agent-forward': 'deny forwarding' },
  },
  {
    name: 'operation rules decide, deny first',
    body: `  rules:
    - { action: allow, match: { operations: [file-read, file-write, port-forward, shell] } }
    - { action: deny, match: { operations: [file-write] } }
    - { action: approve, match: { operations: [shell] }, approvers: ["group:sre"] }
    - { action: deny, match: { operations: [exec], commands: [rm] } }
  default: deny`,
    expect: { exec: 'allow per-command', shell: 'approve ops#2', 'file-read': 'allow ops#0', 'file-write': 'deny ops#1', 'port-forward': 'allow ops#0', 'agent-forward': 'deny forwarding' },
  },
];

for (const c of OPERATIONS) {
  test(`decideOperation: ${c.name}`, () => {
    const p = shellPolicy(c.body);
    const got = Object.fromEntries(SHELL_OPERATIONS.map((op) => {
      const d = decideOperation(p, op);
      return [op, `${d.action} ${d.rule}`];
    }));
    assert.deepEqual(got, c.expect);
  });
}

test('decisions are cached by exact line and operation, and the cache is bounded', () => {
  const p = shellPolicy('  rules:\n    - { action: deny, match: { commands: [rm] } }\n  default: allow');
  const first = decideCommand(p, 'rm x');
  assert.equal(decideCommand(p, 'rm x'), first);
  assert.ok(Object.isFrozen(first));
  assert.notEqual(decideCommand(p, 'rm x', 'shell'), first);
  for (let i = 0; i < 3000; i++) decideCommand(p, `echo ${i}`);
  assert.ok(p.cache.size <= 1024, `cache holds ${p.cache.size}`);
  assert.equal(decideCommand(p, 'rm x').action, 'deny');
  assert.equal(p.connection, CONNECTION);
});

test('argument vectors (Kubernetes exec) are decided like the lines they run, apart in the cache', () => {
  const p = shellPolicy('  rules:\n    - { action: deny, match: { commands: [rm] } }\n  default: allow');
  assert.equal(decideArgv(p, ['sh', '-c', 'ls; rm -rf /']).action, 'deny');
  assert.equal(decideArgv(p, ['env', 'FOO=1', '/bin/rm', 'x']).action, 'deny');
  // Words of a vector are not shell text: `$X` is a literal argument, `r''m` a program name.
  assert.equal(decideArgv(p, ['echo', '$(rm x)']).action, 'allow');
  assert.equal(decideArgv(p, ["r''m", 'x']).action, 'allow');
  assert.deepEqual(pick(decideArgv(p, ['bash']), ['action', 'rule']), { action: 'deny', rule: 'dynamic-program' });
  assert.equal(decideArgv(p, ['ls']).action, 'allow');
  assert.equal(decideCommand(p, 'Aexec\0["ls"]').action, 'deny');
  assert.equal(decideArgv(p, ['ls\0rm']).action, 'deny');
});
