// Corpora: ways of hiding a denied command in a command line, each of which must be denied, and
// everyday command lines that must stay allowed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analyzeCommandLine } from './analyze.js';
import { decideCommand } from './policy.js';
import { shellPolicy } from './test-policies.js';

const DENY_RM = shellPolicy(`  rules:
    - { action: deny, match: { commands: [rm] }, name: no-rm }
  default: allow`);

/** Each line runs rm (or something that cannot be known statically) in some disguise. */
const HIDING: string[] = [
  'rm -rf /',
  '/bin/rm -rf /',
  '/usr/bin/rm x',
  './rm x',
  '\\rm x',
  "r''m x",
  'r""m x',
  '"r"m x',
  "'rm' x",
  "$'\\x72m' x",
  "$'\\162m' x",
  "$'\\u0072m' x",
  'r\\m x',
  'echo hi; rm x',
  'echo hi && rm x',
  'false || rm x',
  'ls | rm x',
  'ls |& rm x',
  'true & rm x',
  'echo hi\nrm x',
  'echo hi; \\\nrm x',
  'rm x # a comment',
  '(rm x)',
  '{ rm x; }',
  'echo $(rm x)',
  'echo `rm x`',
  'echo "$(rm x)"',
  'echo "`rm x`"',
  'cat <(rm x)',
  'tee >(rm x)',
  'echo ${y:-$(rm x)}',
  '[[ -n $(rm x) ]]',
  'a=$(rm x)',
  'export A=$(rm x)',
  'echo $(( $(rm x) + 1 ))',
  "sh -c 'rm x'",
  'bash -c "rm x"',
  "zsh -c 'rm x'",
  "dash -c 'rm x'",
  "bash -xc 'rm x'",
  "bash -o errexit -c 'rm x'",
  "bash --norc -c 'rm x'",
  'sh -c "sh -c \'rm x\'"',
  "sh -c 'eval \"rm x\"'",
  "bash -c 'echo $(rm x)'",
  "busybox sh -c 'rm x'",
  "nohup sh -c 'rm x'",
  'env rm x',
  'env -i FOO=1 rm x',
  'env -u HOME rm x',
  '/usr/bin/env -- rm x',
  "env -S 'rm x'",
  'env - rm x',
  'sudo rm x',
  'sudo -u root rm x',
  'sudo -E -u root -- rm x',
  'sudo --user=root rm x',
  'sudo HOME=/ rm x',
  'sudo -s rm x',
  "sudo bash -c 'rm x'",
  'sudo -u root env -i nice timeout 5 rm x',
  'doas rm x',
  'nice rm x',
  'nice -n 10 rm x',
  'nice -5 rm x',
  'nohup rm x &',
  'timeout 5 rm x',
  'timeout -s KILL 5 rm x',
  'timeout --signal=KILL -k 1 5 rm x',
  'xargs rm < list',
  'echo x | xargs -0 -n 1 rm',
  'xargs -I{} rm {}',
  'xargs -a list rm',
  'find . -exec rm {} \\;',
  "find . -name '*.log' -execdir rm -f {} +",
  'find / -ok rm {} \\;',
  'command rm x',
  'command -p rm x',
  'exec rm x',
  'exec -a foo rm x',
  'eval rm x',
  "eval 'rm x'",
  'builtin eval rm x',
  'busybox rm x',
  'stdbuf -o0 rm x',
  'setsid rm x',
  'ionice -c 3 rm x',
  'chroot / rm x',
  "su -c 'rm x' root",
  'su root --command="rm x"',
  'watch -n 1 rm x',
  'flock /tmp/l rm x',
  "flock /tmp/l -c 'rm x'",
  'time rm x',
  'time -p rm x',
  '/usr/bin/time -v rm x',
  '! rm x',
  'coproc rm x',
  'x=1 rm x',
  'if true; then rm x; fi',
  'for i in 1; do rm x; done',
  'while true; do rm x; break; done',
  'case a in a) rm x;; esac',
  'f() { rm x; }; f',
  'bash <<EOF\nrm x\nEOF',
  "bash <<'EOF'\nrm x\nEOF",
  'sh <<-EOF\n\trm x\n\tEOF',
  "bash <<< 'rm x'",
  // Programs that cannot be known statically: denied by the built-in fail-closed rule.
  'X=rm; $X -rf /',
  '$(echo rm) x',
  '`echo rm` x',
  '${X:-rm} x',
  'rm${IFS}x',
  '/bin/r? x',
  '/bin/r[m] x',
  '{rm,x}',
  "echo 'rm x' | bash",
  'bash < script.sh',
  'eval $CMD',
  'bash -c "$CMD"',
  "eval \"$(echo) rm x\"",
  'sudo -s',
  'sudo -Z rm x',
  'sh -c',
  // Text the parser refuses.
  "'rm x",
  'rm x )',
];

test(`deny corpus: ${HIDING.length} disguises of rm are all denied by deny: commands [rm]`, () => {
  assert.ok(HIDING.length >= 60);
  const missed = HIDING.filter((line) => decideCommand(DENY_RM, line).action !== 'deny');
  assert.deepEqual(missed, []);
});

test('deny corpus: the disguises that hide rm itself are caught by the rm rule, not only by fail-closed rules', () => {
  const viaRule = HIDING.filter((line) => decideCommand(DENY_RM, line).rule === 'no-rm');
  assert.ok(viaRule.length >= 100, `only ${viaRule.length} caught by the rule`);
  for (const line of ["r''m x", "$'\\x72m' x", "sh -c 'sh -c \"rm x\"'", 'sudo -u root env -i nice timeout 5 rm x', 'find . -exec rm {} \\;', "bash <<'EOF'\nrm x\nEOF"]) {
    assert.equal(decideCommand(DENY_RM, line).rule, 'no-rm', line);
  }
});

/** Everyday lines that mention rm without running it, or run nothing denied. */
const BENIGN: string[] = [
  'ls -la /tmp',
  'cat /etc/hostname | grep web',
  'echo "rm is a word"',
  "echo 'rm -rf /'",
  'grep -r rm src/',
  "git commit -m 'rm old files'",
  "find . -name '*.rm' -print",
  'command -v rm',
  'man rm',
  "printf '%s\\n' rm",
  'systemctl status nginx',
  "ps aux | grep '[r]m'",
  'echo $HOME',
  'ls *.txt',
  "cat <<'EOF'\nrm -rf /\nEOF",
  'cat <<EOF\nrm -rf $HOME\nEOF',
  'echo rm > notes.txt',
  'which rm',
  'sudo -l',
  'tar czf backup.tgz /srv/data',
  'kubectl get pods -n prod',
  "awk '{print $1}' access.log | sort | uniq -c",
  'FOO=bar ls',
  'for f in *.log; do wc -l "$f"; done',
  '[ -f x ] && cat x',
  'echo {a,b}',
  'find . -type f -exec wc -l {} +',
  "sh -c 'ls /'",
  'sudo -u www-data ls /var/www',
  'env LANG=C sort file',
  'timeout 10 curl -s http://localhost/health',
  'df -h; free -m; uptime',
  'journalctl -u nginx --since today | tail -n 50',
  "bash <<'EOF'\nls\nEOF",
  '',
  '# only a comment',
  'X=1',
];

test(`benign corpus: ${BENIGN.length} everyday lines stay allowed under deny: commands [rm]`, () => {
  const denied = BENIGN.filter((line) => decideCommand(DENY_RM, line).action !== 'allow');
  assert.deepEqual(denied, []);
});

test('every corpus line analyses without throwing', () => {
  for (const line of [...HIDING, ...BENIGN]) assert.doesNotThrow(() => analyzeCommandLine(line), line);
});
