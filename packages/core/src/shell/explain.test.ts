// Tests of `policy check` explanations for SSH connections: the shell rules listed, and a command
// line explained command by command with the real shell parser.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { explainAccess } from '../policy/explain.js';
import { parsePolicyText } from '../policy/load.js';
import { explainCommand } from './explain.js';

const DOCS = parsePolicyText(`apiVersion: chaperone.dev/v1alpha1
kind: Connection
metadata: { name: web-1 }
spec:
  type: ssh
  target: { host: web-1.internal, port: 22, user: ops, hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl" }
  credentials: { secretRef: { name: web-1-key } }
  listen: { port: 2222 }
---
apiVersion: chaperone.dev/v1alpha1
kind: AccessPolicy
metadata: { name: ops-agents }
spec:
  subjects: [{ serviceAccount: { namespace: agents, name: ops-bot } }]
  connections: [web-1]
  rules:
    - { action: allow, match: { commands: [ls, cat, grep, "systemctl status *"] } }
    - { action: approve, match: { commands: ["systemctl restart *"] }, approvers: ["group:sre"], timeout: 10m }
    - { name: no-rm, action: deny, match: { commands: [rm, "kubectl delete *"] }, message: "no deletes" }
    - { action: allow, match: { operations: [file-read] } }
    - { action: deny, match: { statements: [drop] } }
  default: deny
`, 'test.yaml');

const BOT = { namespace: 'agents', serviceAccount: 'ops-bot' };

test('explainAccess on an ssh connection lists the shell rules in precedence order', () => {
  const a = explainAccess(DOCS, BOT, 'web-1');
  assert.deepEqual(a.rules.map((r) => `${r.action} ${r.rule}: ${r.match}`), [
    'deny no-rm: commands rm, kubectl delete *',
    'approve ops-agents#1: commands systemctl restart *',
    'allow ops-agents#0: commands ls, cat, grep, systemctl status *',
    'allow ops-agents#3: operations file-read',
  ]);
  assert.match(a.text, /^port and agent forwarding: denied unless a rule allows the operation$/m);
  assert.match(a.text, /^default for anything else: deny \(policy ops-agents/m);
});

test('explainCommand: a hidden rm is found and named, with the rule that denies it', async () => {
  const e = await explainCommand(DOCS, BOT, 'web-1', "ls /srv | sudo sh -c 'r\"\"m -rf /srv/*'");
  assert.equal(e.decision.action, 'deny');
  assert.equal(e.decision.rule, 'no-rm');
  assert.deepEqual(e.decision.programs, ['ls', 'sudo', 'sh', 'rm']);
  assert.equal(e.text, [
    'identity agents/ops-bot on connection web-1',
    'decision: deny by rule no-rm of policy ops-agents: no deletes',
    'command 1: ls /srv',
    '  matches allow ops-agents#0',
    '  → allow (ops-agents#0)',
    'command 2: sudo sh -c "r\\"\\"m -rf /srv/*"',
    '  no rule matches',
    '  → deny (default)',
    'command 3: sh -c "r\\"\\"m -rf /srv/*"',
    '  no rule matches',
    '  → deny (default)',
    'command 4: rm -rf "/srv/*" (dynamic argument(s) 2)',
    '  matches deny no-rm',
    '  → deny (no-rm)',
  ].join('\n'));
});

test('explainCommand: approval, allowed lines and unparseable ones', async () => {
  const approve = await explainCommand(DOCS, BOT, 'web-1', 'systemctl restart nginx');
  assert.equal(approve.decision.action, 'approve');
  assert.match(approve.text, /^ {2}approvers group:sre, timeout 600s$/m);
  const allow = await explainCommand(DOCS, BOT, 'web-1', 'grep -c error /var/log/syslog && systemctl status nginx');
  assert.equal(allow.decision.action, 'allow');
  const broken = await explainCommand(DOCS, BOT, 'web-1', 'ls "');
  assert.equal(broken.decision.rule, 'unparseable');
  assert.match(broken.text, /^the shell parser could not parse the line: /m);
  const stranger = await explainCommand(DOCS, { namespace: 'agents', serviceAccount: 'other' }, 'web-1', 'ls');
  assert.equal(stranger.decision.rule, 'no-policy');
});
